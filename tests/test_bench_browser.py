"""The click-to-Marketplace benchmark's arithmetic (bench/browser.py): ratios per click, the verdict, the section.

The benchmark itself runs in `make bench` / `make bench-quick` (headless Chromium), never as a timed test."""
from bench import browser


def data(floor, **kits):
    variants = {"floor": {"samples": floor, "errors": 0, **browser.spread(floor), "steps": None}}
    for name in browser.LABELS:
        samples = kits.get(name, floor)
        variants[name] = {"samples": samples, "errors": 0, **browser.spread(samples), "steps": None}
    return {"mint_delay_ms": 300, "page_delay_ms": 50, "hover_ms": 300, "clicks": len(floor), "variants": variants}


def test_ratios_pair_each_click_with_the_floors_click_beside_it():
    run = data([100, 200, 100], kit_intent=[120, 200, 150])
    assert browser.ratios(run, "kit_intent") == {"median": 1.2, "min": 1.0, "max": 1.5, "n": 3}


def test_the_default_is_judged_on_its_median_ratio():
    assert browser.default_variant() == "kit_intent"
    assert browser.evaluate(data([100, 100, 100], kit_intent=[125, 125, 300])) is True
    assert browser.evaluate(data([100, 100, 100], kit_intent=[126, 126, 100])) is False


def test_the_section_lists_every_variant_and_the_verdict():
    lines = "\n".join(browser.section(data([100, 100], kit_none=[300, 310], kit_intent=[130, 140])))
    assert "| kit, `PREMINT` None" in lines and "3.05×" in lines
    assert '"intent" (the default)' in lines and "**not met**" in lines
    assert browser.section(None) == []
