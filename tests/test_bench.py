"""The benchmark's arithmetic: percentiles and the met / not met verdicts of docs/BENCHMARKS.md.

The benchmark itself runs in `make bench-quick` (CI), never as a timed test; these check only that
what it writes follows from what it measured.
"""
from bench.measure import percentile
from bench.run import evaluate, unmeasured


def test_percentile_is_nearest_rank():
    samples = [5, 1, 4, 2, 3]
    assert percentile(samples, 50) == 3
    assert percentile(samples, 99) == 5
    assert percentile(samples, 1) == 1
    assert percentile([], 50) is None


def run(kit_p50, floor_p50, kit_rate=6, floor_rate=10):
    side = {"p50": None, "p95": None, "p99": None}
    return {
        "socket": {"kit": {**side, "p50": kit_p50}, "floor_insert": {**side, "p50": floor_p50}, "floor_get": side},
        "socket_slow_cyclr": {"kit": side, "floor_insert": side, "floor_get": side},
        "truth": {"kit": {**side, "p50": kit_p50}, "floor": {**side, "p50": floor_p50}, "kit_one_cycle": side},
        "http": {"kit": side, "floor": side},
        "throughput": {c: {"kit": {"per_second": 1, "settled_per_second": kit_rate, "errors": {}},
                           "floor_insert": {"per_second": 100}, "floor_get": {"per_second": floor_rate}}
                       for c in ("50", "200")},
        "idle_memory": {"kit": {}, "floor": {}},
        "launch_ttfb": {"kit": side, "floor": side},
        "settlement": {"statements": 20, "ms": 6.5},
    }


def rows_of(*runs):
    passes = {"sqlite": {"settings": {"concurrency": [50, 200], "idle": [1000, 2000]}, "runs": list(runs)}}
    return {row["figure"]: row for row in evaluate(passes)["sqlite"]}


TRUTH = ("Time to truth p50 with a 150 ms Cyclr and 3 cycles (send on the launch socket → verdict on the events "
         "socket), kit vs parse + one round of Cyclr GETs in parallel + INSERT + push")


def verified(clients):
    return (f"Throughput at {clients} clients counted until every delivery is verified and signalled, kit vs parse + "
            "Cyclr GET per cycle + INSERT + ack (deliveries/s)")


def test_a_ratio_target_reads_the_median_over_runs():
    rows = rows_of(run(12, 10), run(14, 10), run(30, 10))
    assert rows[TRUTH]["ratio"] == {"median": 1.4, "min": 1.2, "max": 3.0}
    assert rows[TRUTH]["kit"] == {"median": 14, "min": 12, "max": 30}
    assert rows[TRUTH]["met"] is False
    assert rows_of(run(11, 10))[TRUTH]["met"] is True


def test_the_cost_per_install_is_met_at_or_above_the_share_of_the_verifying_floor():
    rows = rows_of(run(1, 1, kit_rate=6, floor_rate=10))
    assert rows[verified(50)]["met"] is True and rows[verified(50)]["ratio"]["median"] == 0.6
    rows = rows_of(run(1, 1, kit_rate=5, floor_rate=10))
    assert rows[verified(200)]["met"] is False
    assert rows["Kit handshakes that timed out or were dropped at 200 clients"]["met"] is True


def test_the_statements_per_settlement_are_counted_and_the_old_targets_are_context():
    rows = rows_of(run(30, 10))
    statements = next(row for name, row in rows.items() if name.startswith("Statements per settlement"))
    assert statements["kit"]["median"] == 20 and statements["met"] is None
    # The socket ack against parse + INSERT, the acks-only throughput and proxy:launch: shown, judged by nothing.
    assert rows["Socket send→ack p50, kit vs parse + INSERT + ack"]["ratio"]["median"] == 3
    assert rows["Socket send→ack p50, kit vs parse + INSERT + ack"]["met"] is None
    acks_only = "Throughput at 50 clients counting acks only, kit vs parse + INSERT + ack (deliveries/s)"
    assert rows[acks_only]["met"] is None
    context = [row for name, row in rows.items() if name.startswith(("Socket", "proxy:launch"))]
    assert context and all(row["target"] == "(context)" for row in context)


def test_the_servers_cpu_per_delivery_is_context_beside_the_cost_per_install():
    measured = run(1, 1)
    for clients in ("50", "200"):
        measured["throughput"][clients]["kit"]["cpu_ms_per_delivery"] = 30.0
        measured["throughput"][clients]["floor_get"]["cpu_ms_per_delivery"] = 10.0
    cpu = [row for name, row in rows_of(measured).items() if name.startswith("Server CPU per delivery at 50 clients")]
    assert len(cpu) == 1 and cpu[0]["ratio"]["median"] == 3 and cpu[0]["met"] is None
    assert cpu[0]["target"] == "(context)"
    # A run from before the figure was measured shows a dash, judged by nothing.
    assert all(row["kit"] is None for name, row in rows_of(run(1, 1)).items() if name.startswith("Server CPU"))


def test_dropped_handshakes_count_against_the_zero_target():
    dropped = run(1, 1)
    dropped["throughput"]["200"]["kit"]["errors"] = {"handshake_InvalidMessage": 3, "error:conflict": 1}
    rows = rows_of(dropped)
    assert rows["Kit handshakes that timed out or were dropped at 200 clients"]["kit"]["median"] == 3
    assert rows["Kit handshakes that timed out or were dropped at 200 clients"]["met"] is False
    assert rows["Kit delivery errors at 200 clients (any kind)"]["kit"]["median"] == 4


def test_a_count_that_must_be_zero_fails_if_any_run_had_one():
    clean, collapsed = run(1, 1), run(1, 1)
    collapsed["throughput"]["200"]["kit"]["errors"] = {"handshake_InvalidMessage": 200}
    row = rows_of(clean, clean, collapsed)["Kit handshakes that timed out or were dropped at 200 clients"]
    assert row["kit"] == {"median": 0, "min": 0, "max": 200}
    assert row["met"] is False


def test_memory_is_not_read_from_a_server_where_most_sockets_failed_to_open():
    measured = run(1, 1)
    measured["idle_memory"] = {"kit": {"1000": {"bytes_per_socket": 40000, "open": 1000, "failures": 0}},
                               "floor": {"1000": {"bytes_per_socket": 22110208, "open": 0, "failures": 1000}}}
    row = rows_of(measured)["Memory per idle socket at 1000 sockets, kit events socket vs accept-only socket"]
    assert row["kit"]["median"] == 40000
    assert row["floor"] is None and row["met"] is None


def test_a_figure_nobody_measured_is_neither_met_nor_not_met():
    rows = rows_of(run(1, 1))
    assert rows["proxy:launch time to first byte p50, vs empty login_required view + the mint"]["met"] is None


def test_a_run_where_the_kit_acked_nothing_is_reported_as_unmeasured():
    measured = run(1, 1)
    for figure in ("socket", "truth", "http", "launch_ttfb"):
        for sample in measured[figure].values():
            sample["n"] = 5
    passes = {"sqlite": {"runs": [measured]}}
    assert unmeasured(passes) == []
    measured["socket"]["kit"] = {"p50": None, "n": 0, "errors": {"handshake_InvalidStatus": 10}}
    assert unmeasured(passes) == ["sqlite run 1 socket kit"]


def test_the_committed_benchmarks_json_renders_again(tmp_path):
    """``--render`` of docs/benchmarks.json (perhaps written before the click was measured on PostgreSQL too)."""
    import json
    from pathlib import Path

    from bench.run import main

    report = json.loads((Path(__file__).resolve().parent.parent / "docs" / "benchmarks.json").read_text())
    (tmp_path / "benchmarks.json").write_text(json.dumps(report))
    main(["--render", str(tmp_path / "benchmarks.json")])
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Click to Marketplace (headless Chromium)" in text
    assert "### Click to Marketplace on SQLite, in-memory channel layer" in text
    assert "Target for the default on SQLite, in-memory channel layer: " in text
