"""The click-to-Marketplace benchmark's arithmetic (bench/browser.py): ratios per click, the verdicts per database,
the section, and what counts as a broken benchmark.

The benchmark itself runs in `make bench` / `make bench-quick` (headless Chromium), never as a timed test."""
from bench import browser


def database(floor, **kits):
    """One database's figures: the floor's clicks, and each kit variant's (the floor's unless given)."""
    variants = {"floor": {"samples": floor, "errors": 0, **(browser.spread(floor) or {}), "steps": None}}
    for name in browser.LABELS:
        samples = kits.get(name, floor)
        variants[name] = {"samples": samples, "errors": 0, **(browser.spread(samples) or {}), "steps": None}
    return {"variants": variants}


def data(**databases):
    clicks = len(next(iter(databases.values()))["variants"]["floor"]["samples"])
    return {"mint_delay_ms": 300, "page_delay_ms": 50, "hover_ms": 300, "clicks": clicks, "databases": databases}


def test_ratios_pair_each_click_with_the_floors_click_beside_it():
    measured = database([100, 200, 100], kit_intent=[120, 200, 150])
    assert browser.ratios(measured, "kit_intent") == {"median": 1.2, "min": 1.0, "max": 1.5, "n": 3}


def test_the_default_is_judged_on_its_median_ratio_on_each_database():
    assert browser.default_variant() == "kit_intent"
    run = data(sqlite=database([100, 100, 100], kit_intent=[125, 125, 300]),
               postgres=database([100, 100, 100], kit_intent=[126, 126, 100]))
    assert browser.evaluate(run) == {"sqlite": True, "postgres": False}
    assert browser.evaluate(data(sqlite=database([100, 100, 100]))) == {"sqlite": True}


def test_a_database_whose_variant_has_no_clicks_is_unmeasured_and_broken():
    run = data(sqlite=database([100, 100], kit_intent=[120, 120]), postgres=database([100, 100], kit_intent=[]))
    assert browser.evaluate(run) == {"sqlite": True, "postgres": None}
    assert browser.unmeasured(run, expected=("sqlite", "postgres")) == ["browser postgres kit_intent"]
    lines = "\n".join(browser.section(run))
    assert "Target for the default on PostgreSQL + Redis (channels-redis): not measured." in lines
    # No floor on a database: no ratio, so nothing is judged there either.
    run = data(sqlite=database([100, 100]), postgres=database([], kit_intent=[120, 120]))
    assert browser.evaluate(run)["postgres"] is None
    assert "browser postgres floor" in browser.unmeasured(run, expected=("sqlite", "postgres"))


def test_a_database_the_passes_ran_on_but_the_browser_did_not_is_broken():
    run = data(sqlite=database([100, 100]))
    assert browser.unmeasured(run, expected=("sqlite",)) == []
    assert browser.unmeasured(run, expected=("sqlite", "postgres")) == ["browser postgres (not run)"]


def test_the_section_gives_each_database_its_table_and_its_verdict():
    run = data(sqlite=database([100, 100], kit_none=[300, 310], kit_intent=[130, 140]),
               postgres=database([100, 100], kit_none=[320, 330], kit_intent=[110, 120]))
    text = "\n".join(browser.section(run))
    assert text.count("## Click to Marketplace") == 3  # the method once, then one heading per database
    assert "### Click to Marketplace on SQLite, in-memory channel layer" in text
    assert "### Click to Marketplace on PostgreSQL + Redis (channels-redis)" in text
    assert "fresh database: SQLite, in-memory channel layer and PostgreSQL + Redis (channels-redis)." in text
    sqlite, postgres = text.split("### Click to Marketplace on PostgreSQL")
    assert "| kit, `PREMINT` None" in sqlite and "3.05×" in sqlite and "3.25×" in postgres
    assert '"intent" (the default)' in postgres and text.count("| floor: `window.open`") == 2
    assert "Target for the default on SQLite, in-memory channel layer: **not met**." in sqlite
    assert "Target for the default on PostgreSQL + Redis (channels-redis): met." in postgres
    assert browser.section(None) == []


def test_the_section_of_a_sqlite_only_run_names_sqlite_alone():
    text = "\n".join(browser.section(data(sqlite=database([100, 100]))))
    assert "fresh database: SQLite, in-memory channel layer." in text and "PostgreSQL" not in text


def test_an_older_benchmarks_json_with_sqlite_alone_still_renders():
    # Before PostgreSQL was measured, the variants sat at the top of the browser's figures, SQLite's.
    older = {"mint_delay_ms": 300, "page_delay_ms": 50, "hover_ms": 300, "clicks": 2,
             **database([100, 100], kit_intent=[130, 140])}
    assert browser.evaluate(older) == {"sqlite": False}
    assert browser.unmeasured(older) == []
    assert "### Click to Marketplace on SQLite, in-memory channel layer" in "\n".join(browser.section(older))
