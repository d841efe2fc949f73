"""The benchmark's arithmetic: percentiles and the met / not met verdicts of docs/BENCHMARKS.md.

The benchmark itself runs in `make bench-quick` (CI), never as a timed test; these check only that
what it writes follows from what it measured.
"""
from bench.measure import percentile
from bench.run import evaluate


def test_percentile_is_nearest_rank():
    samples = [5, 1, 4, 2, 3]
    assert percentile(samples, 50) == 3
    assert percentile(samples, 99) == 5
    assert percentile(samples, 1) == 1
    assert percentile([], 50) is None


def run(kit_p50, floor_p50, kit_rate=8, floor_rate=10):
    side = {"p50": None, "p95": None, "p99": None}
    return {
        "socket": {"kit": {**side, "p50": kit_p50}, "floor_insert": {**side, "p50": floor_p50}, "floor_get": side},
        "socket_slow_cyclr": {"kit": side, "floor_insert": side, "floor_get": side},
        "http": {"kit": side, "floor": side},
        "throughput": {c: {"kit": {"per_second": kit_rate, "handshake_timeouts": 0, "errors": {}},
                           "floor_insert": {"per_second": floor_rate}, "floor_get": {"per_second": 1}}
                       for c in ("50", "200")},
        "idle_memory": {"kit": {}, "floor": {}},
        "launch_ttfb": {"kit": side, "floor": side},
    }


def rows_of(*runs):
    passes = {"sqlite": {"settings": {"concurrency": [50, 200], "idle": [1000, 2000]}, "runs": list(runs)}}
    return {row["figure"]: row for row in evaluate(passes)["sqlite"]}


def test_a_ratio_target_reads_the_median_over_runs():
    rows = rows_of(run(12, 10), run(14, 10), run(30, 10))
    p50 = rows["Socket send→ack p50, kit vs parse + INSERT + ack"]
    assert p50["ratio"] == {"median": 1.4, "min": 1.2, "max": 3.0}
    assert p50["kit"] == {"median": 14, "min": 12, "max": 30}
    assert p50["met"] is False
    assert rows_of(run(12, 10))["Socket send→ack p50, kit vs parse + INSERT + ack"]["met"] is True


def test_throughput_is_met_at_or_above_the_share_of_the_floor():
    rows = rows_of(run(1, 1, kit_rate=8, floor_rate=10))
    assert rows["Throughput at 50 clients, kit vs parse + INSERT + ack (deliveries/s)"]["met"] is True
    rows = rows_of(run(1, 1, kit_rate=7, floor_rate=10))
    assert rows["Throughput at 200 clients, kit vs parse + INSERT + ack (deliveries/s)"]["met"] is False
    assert rows["Kit handshake timeouts at 200 clients"]["met"] is True


def test_a_figure_nobody_measured_is_neither_met_nor_not_met():
    rows = rows_of(run(1, 1))
    assert rows["proxy:launch time to first byte p50, vs empty login_required view + the mint"]["met"] is None
