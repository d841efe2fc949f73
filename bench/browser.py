"""Click to Marketplace, in headless Chromium: ``python -m bench.browser --profile quick|full --json OUT [--postgres]``
(``bench.run`` calls it, with ``--postgres`` or ``--no-postgres`` as its own passes run).

What a person waits for after clicking Connect: from the click on the host page to the Marketplace's first
contentful paint in the window it opens. The fake Cyclr (``bench.fakeproc``, its own process) mints in
``MINT_DELAY`` and serves each Marketplace page in ``PAGE_DELAY``, as a real Cyclr some way off does. The pointer
rests on the button ``HOVER`` before the click (ActionChains: move, pause, click), as a person's does.

- *floor*: a plain page of the same site whose button runs ``window.open(url)`` on a Marketplace URL minted
  before the click (by the same fake, with the same delays): the page's load and paint, nothing else.
- *kit*: the example host's Integrations page (``{% hostkit_script %}``, its Connect button) and
  ``Hostkit.connect()`` in popup mode, once per ``CYCLR_PROXY["PREMINT"]`` choice: ``None`` (the popup opens
  ``proxy:launch``, which mints), ``"intent"`` (minted when the pointer comes over the button) and ``"load"``
  (minted as the page loads; here a second before the pointer moves, a person reading the page); and
  ``"intent"`` again with the pointer on the button only ``BRIEF_HOVER``, less than the mint takes.

Times are read in the browser, in one clock: the click's ``performance.timeOrigin + event.timeStamp`` on the
host page, and the Marketplace document's ``performance.timeOrigin`` plus its ``first-contentful-paint`` entry (in
the proxy page's frame for the kit, at the popup's top for the floor). ``timeOrigin`` is each document's start in
milliseconds since the epoch, so the two windows' times compare. The variants take turns, click after click;
each figure is the median with its spread (min-max) over the clicks.

Each database is measured in a process of its own (``--db``; Django's settings are per process), with its own
server and a fresh database, as ``bench.measure``'s passes are: SQLite with the in-memory channel layer always,
and PostgreSQL + Redis with ``--postgres`` (the default of the full profile): the database
``BENCH_DATABASE_URL``'s name + ``_browser`` (``bench_browser``), dropped and created, Redis at ``BENCH_REDIS_URL``
with the channel prefix ``bench-browser``. The JSON holds each database's variants under ``databases``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MINT_DELAY, PAGE_DELAY, HOVER = 0.300, 0.050, 0.300
CLICKS = {"quick": 3, "full": 12}
VARIANTS = ("floor", "kit_none", "kit_intent", "kit_load", "kit_intent_brief")
# "intent" with a pointer that rests less than the mint takes: the click waits for the rest of the mint.
BRIEF_HOVER = 0.100
CLICK_MARK = ("window.__clickAt = null; addEventListener('click', (e) => { window.__clickAt = "
              "performance.timeOrigin + e.timeStamp; }, { capture: true, once: true });")
# The Marketplace document's first contentful paint, in epoch milliseconds (null until painted, or elsewhere).
PAINTED = ("const p = performance.getEntriesByName('first-contentful-paint')[0];"
           "return location.pathname.indexOf('/launch/marketplace/') >= 0 && p ? performance.timeOrigin + p.startTime"
           " : null;")
FLOOR_BUTTON = ("const b = document.createElement('button'); b.id = 'floor-open'; b.textContent = 'Connect';"
                "b.style = 'font-size: 20px; margin: 40px';"
                "b.onclick = () => window.open(arguments[0], 'floor', 'popup,width=960,height=760');"
                "document.body.prepend(b);")


def spread(values, digits=1):
    if not values:
        return None
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "n": len(values)}


class Bench:
    def __init__(self, server, user, fake_url):
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        from proxy.testing.browser import Browser

        self.By, self.ActionChains = By, ActionChains
        self.server, self.user, self.fake_url = server, user, fake_url
        self.origin = f"http://127.0.0.1:{server.port}"
        self.browser = Browser()
        self.driver = self.browser.driver
        self.sign_in()

    def sign_in(self):
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(self.user)
        self.driver.get(self.origin + "/login/")
        self.driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "path": "/",
                                "value": client.cookies[settings.SESSION_COOKIE_NAME].value})
        self.main = self.driver.current_window_handle

    def floor_url(self):
        """A Marketplace URL minted now, before the click, as the kit would mint it (framed: no InlineOAuth)."""
        from proxy.cyclr import CyclrClient
        from proxy.launches import sign_launch_id

        from hostkit.accounts import account_api_id

        return CyclrClient().mint_marketplace_url(account_api_id(self.user), marketplace_id=1,
                                                  complete_parameter=sign_launch_id(uuid.uuid4())).url

    def wait(self, condition, timeout=30):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.02).until(condition)

    def prepare(self, variant):
        """Load the variant's page, the pointer away from the button; return the button to click."""
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        By = self.By
        # The pointer is where the last click left it: over the button. A page loaded under it gets a pointerover
        # as soon as it is laid out, which would pre-mint on "intent" before the pointer comes.
        away = ActionBuilder(self.driver)
        away.pointer_action.move_to_location(2, 2)
        away.perform()
        if variant == "floor":
            url = self.floor_url()  # minted before the page, so before the click
            self.driver.get(self.origin + "/login/")
            self.driver.execute_script(FLOOR_BUTTON, url)
            return self.driver.find_element(By.ID, "floor-open")
        self.driver.get(self.origin + "/integrations/")
        self.wait(lambda d: d.execute_script("return window.integrationsReady === true && !!window.Hostkit;"))
        button = self.driver.find_element(By.ID, "connect")
        if variant == "kit_none":
            self.driver.execute_script("arguments[0].removeAttribute('data-premint');", button)
        elif variant == "kit_load":
            # What "load" does on DOMContentLoaded (hostkit.js), then a second of reading before the pointer moves.
            self.driver.execute_script("arguments[0].setAttribute('data-premint', 'load');"
                                       "window.dispatchEvent(new Event('DOMContentLoaded'));", button)
            time.sleep(1)
        return button

    def click(self, variant):
        """One click; the milliseconds from the click to the Marketplace's first contentful paint."""
        By = self.By
        button = self.prepare(variant)
        self.driver.execute_script(CLICK_MARK)
        headings = self.driver.find_elements(By.TAG_NAME, "h1")
        # Moves without Selenium's default 250 ms glide: the pointer is on the button exactly the pause.
        actions = self.ActionChains(self.driver, duration=0)
        if headings:
            actions.move_to_element(headings[0])  # the pointer comes over the button from elsewhere
        hover = BRIEF_HOVER if variant == "kit_intent_brief" else HOVER
        actions.move_to_element(button).pause(hover).click().perform()
        clicked = self.wait(lambda d: d.execute_script("return window.__clickAt;"))
        popup = self.wait(lambda d: next((h for h in d.window_handles if h != self.main), None))
        self.driver.switch_to.window(popup)
        try:
            painted = self.wait(lambda d: self.painted(variant))
            steps = self.steps(variant, clicked, painted)
        finally:
            self.driver.close()
            self.driver.switch_to.window(self.main)
        return painted - clicked, steps

    def steps(self, variant, clicked, painted):
        """Where the time went, in ms after the click: the navigation of the kit's proxy page (its start, its request,
        its first and last bytes, its DOM ready) and of the Marketplace document (the same, after Cyclr's sign-in
        redirect; at the popup's top for the floor, in the proxy page's frame for the kit)."""
        timing = ("const n = performance.getEntriesByType('navigation')[0], t = performance.timeOrigin;"
                  "return [t, t + n.requestStart, t + n.responseStart, t + n.responseEnd, t + n.domInteractive];")
        names = ("start", "request", "first_byte", "last_byte", "dom")
        found = {f"marketplace_{k}": v for k, v in zip(names, self.driver.execute_script(timing))}
        if variant != "floor":
            self.driver.switch_to.parent_frame()
            found.update({f"proxy_{k}": v for k, v in zip(names, self.driver.execute_script(timing))})
        return {name: round(at - clicked, 1) for name, at in found.items()}

    def painted(self, variant):
        from selenium.common.exceptions import NoSuchElementException, NoSuchFrameException, WebDriverException

        try:
            if variant != "floor":
                self.driver.switch_to.default_content()
                self.driver.switch_to.frame(self.driver.find_element(self.By.ID, "proxy-frame"))
            return self.driver.execute_script(PAINTED)
        except (NoSuchElementException, NoSuchFrameException, WebDriverException):
            return None  # the window or the frame is still on its way

    def run(self, clicks):
        samples = {v: [] for v in VARIANTS}
        steps = {v: [] for v in VARIANTS}
        errors = {v: 0 for v in VARIANTS}
        for variant in VARIANTS:  # warm-up: the first of each pays imports, the token, the first connections
            self.click(variant)
        for i in range(clicks):
            for variant in VARIANTS:
                try:
                    took, where = self.click(variant)
                    samples[variant].append(took)
                    if where:
                        steps[variant].append(where)
                except Exception as exc:  # counted and shown: a click that never painted is a finding
                    errors[variant] += 1
                    print(f"[browser] {variant} click {i + 1}: {exc!r}"[:300], flush=True)
        return samples, steps, errors

    def quit(self):
        self.browser.quit()


DATABASES = ("sqlite", "postgres")


def measure(profile, db):
    """One database's clicks, in this process: ``{"variants": {variant: figures}}``."""
    from bench import fakeproc
    from bench.measure import CLIENT_ID, CLIENT_SECRET, Server, pass_environment, raise_fd_limit

    raise_fd_limit()
    (ROOT / "var").mkdir(exist_ok=True)
    with fakeproc.running(CLIENT_ID, CLIENT_SECRET) as (parent, fake_url):
        for command, seconds in (("delay", MINT_DELAY), ("page_delay", PAGE_DELAY)):
            parent.send((command, seconds))
            parent.recv()
        # DEBUG off with collected static files (WhiteNoise, as in production), the rest as bench.measure's pass
        # on the same database: a fresh database of the browser's own, Redis (with its own prefix) on PostgreSQL.
        env = pass_environment(db, fake_url, "browser", DEBUG="false", STATIC_ROOT=str(ROOT / "var" / "bench-static"))
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        user = get_user_model().objects.create_user("bench-browser", password="bench-browser-password")
        with Server(env) as server:
            bench = Bench(server, user, fake_url)
            try:
                samples, steps, errors = bench.run(CLICKS[profile])
            finally:
                bench.quit()
    return {"variants": {v: {**(spread(s) or {}), "samples": [round(x, 1) for x in s], "errors": errors[v],
                             "steps": {k: statistics.median(step[k] for step in steps[v]) for k in steps[v][0]}
                             if steps.get(v) else None}
                         for v, s in samples.items()}}


def measure_all(profile, names, out):
    """Every database in ``names``, each in its own process (``--db``), into one document at ``out``."""
    report = {"mint_delay_ms": MINT_DELAY * 1000, "page_delay_ms": PAGE_DELAY * 1000, "hover_ms": HOVER * 1000,
              "clicks": CLICKS[profile], "databases": {}}
    for db in names:
        part = Path(out).with_name(f"{Path(out).stem}-{db}.json")
        part.unlink(missing_ok=True)
        print(f"[browser] {db}", flush=True)
        subprocess.run([sys.executable, "-m", "bench.browser", "--db", db, "--profile", profile, "--json", str(part)],
                       cwd=ROOT, check=True)
        report["databases"][db] = json.loads(part.read_text())
        part.unlink()
    Path(out).write_text(json.dumps(report, indent=1))


# --- the document's section (bench.run) ------------------------------------------------------------------

TARGET = 1.25
LABELS = {"kit_none": 'kit, `PREMINT` None (the mint after the click)', "kit_intent": 'kit, `PREMINT` "intent" (the default)',
          "kit_load": 'kit, `PREMINT` "load"',
          "kit_intent_brief": f'kit, `PREMINT` "intent", the pointer on the button only {BRIEF_HOVER * 1000:.0f} ms'}
TITLES = {"sqlite": "SQLite, in-memory channel layer", "postgres": "PostgreSQL + Redis (channels-redis)"}


def databases(data):
    """``{database: {"variants": ...}}`` of a run; a run written before PostgreSQL was measured too (its variants
    at the top) was SQLite's alone."""
    if not data:
        return {}
    if "databases" in data:
        return data["databases"]
    return {"sqlite": {"variants": data["variants"]}}


def ratios(measured, variant):
    """Per click, the kit's time over the floor's click just before it (they take turns): median and spread.
    ``measured`` is one database's figures (``{"variants": ...}``)."""
    kit, floor = measured["variants"][variant]["samples"], measured["variants"]["floor"]["samples"]
    return spread([k / f for k, f in zip(kit, floor) if f], 3)


def default_variant():
    """The variant of ``CYCLR_PROXY["PREMINT"]``'s default."""
    from proxy.conf import DEFAULTS

    return "kit_" + (DEFAULTS["PREMINT"] or "none")


def verdict(measured):
    """One database's verdict for the default: its median ratio to the floor within ``TARGET``; None if nothing
    was measured."""
    row = ratios(measured, default_variant())
    return None if row is None else row["median"] <= TARGET


def evaluate(data):
    """``{database: verdict}`` for every database that ran (see ``verdict``)."""
    return {db: verdict(measured) for db, measured in databases(data).items()}


def unmeasured(data, expected=("sqlite",)):
    """What a broken benchmark left out: each database's variants with no click measured, and any database in
    ``expected`` that did not run at all."""
    measured = databases(data)
    broken = [f"browser {db} (not run)" for db in expected if db not in measured]
    return broken + [f"browser {db} {variant}" for db, m in measured.items()
                     for variant, row in m["variants"].items() if not row["samples"]]


def section(data):
    """Markdown lines for ``docs/BENCHMARKS.md``: the method once, then each database's table and verdict."""
    if not data:
        return []
    measured = databases(data)
    lines = ["## Click to Marketplace (headless Chromium)", "",
             f"From the click on Connect to the Marketplace's first contentful paint in the window it opens "
             f"(`bench/browser.py`): a mint that takes {data['mint_delay_ms']:.0f} ms, Marketplace pages that take "
             f"{data['page_delay_ms']:.0f} ms, the pointer on the button {data['hover_ms']:.0f} ms before the click. "
             "Floor: a plain page whose button runs `window.open(url)` on a URL minted before the click. "
             f"{data['clicks']} clicks of each, taking turns; median (min–max). Target ≤ {TARGET}× the floor for the "
             "default. Each database is measured apart, with its own server on a fresh database: "
             + " and ".join(TITLES[db] for db in measured) + ".", "",
             "Where the time goes (medians, ms after the click): each navigation's start, request, first and last "
             "bytes and DOM ready, for the kit's proxy page and for the Marketplace document (its start includes "
             "Cyclr's sign-in redirect; at the popup's top for the floor, in the proxy page's frame for the kit).", ""]
    for db, figures in measured.items():
        lines += database_section(db, figures)
    return lines


def database_section(db, measured):
    floor = measured["variants"]["floor"]
    lines = [f"### Click to Marketplace on {TITLES[db]}", "",
             "| variant | click → Marketplace painted | ratio to the floor | errors |", "|---|---|---|---|",
             f"| floor: `window.open` on a URL minted before the click | {fmt(floor)} ms | – | {floor['errors']} |"]
    for variant, label in LABELS.items():
        row = measured["variants"][variant]
        lines.append(f"| {label} | {fmt(row)} ms | {fmt(ratios(measured, variant), '×')} | {row['errors']} |")
    met = verdict(measured)
    lines += ["", f"Target for the default on {TITLES[db]}: "
              + {True: "met.", False: "**not met**.", None: "not measured."}[met], "",
              f"Where the time goes on {TITLES[db]}, medians in ms after the click:", "",
              "| variant | proxy page: start, request, first byte, last byte, DOM | Marketplace: start, request, "
              "first byte, last byte, DOM |", "|---|---|---|"]
    names = ("start", "request", "first_byte", "last_byte", "dom")
    for variant, label in {"floor": "floor", **LABELS}.items():
        steps = measured["variants"][variant].get("steps")
        if steps:
            cells = [", ".join(f"{steps[f'{doc}_{k}']:.0f}" for k in names) if f"{doc}_start" in steps else "–"
                     for doc in ("proxy", "marketplace")]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    default = measured["variants"][default_variant()].get("steps")
    if met is False and default and floor.get("steps"):
        late = default["marketplace_start"] - floor["steps"]["marketplace_start"]
        server = default["proxy_first_byte"] - default["proxy_request"]
        lines += ["", f"What stands in the way: with the mint out of the way, the kit's Marketplace document starts "
                  f"{late:.0f} ms after the floor's, the time of the one page the floor does not load, the proxy page "
                  f"in the popup: {server:.0f} ms from its request to its first byte (daphne and Django: the session, "
                  "the claim, the template), the rest until its frame starts in the popup's own page load. The "
                  "Marketplace's share (its start to its paint) is the floor's."]
    return lines + [""]


def fmt(row, unit=""):
    if not row or "median" not in row:
        return "–"
    digits = 2 if unit == "×" else 0
    return f"{row['median']:.{digits}f}{unit} ({row['min']:.{digits}f}–{row['max']:.{digits}f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=tuple(CLICKS), default="quick")
    parser.add_argument("--json", required=True)
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=None,
                        help="also on PostgreSQL + Redis (BENCH_DATABASE_URL's name + _browser, BENCH_REDIS_URL); "
                        "default: with the full profile, not with the quick one")
    parser.add_argument("--db", choices=DATABASES, help=argparse.SUPPRESS)  # one database, in this process
    args = parser.parse_args()
    if args.db:
        Path(args.json).write_text(json.dumps(measure(args.profile, args.db), indent=1))
        return
    postgres = args.profile == "full" if args.postgres is None else args.postgres
    measure_all(args.profile, DATABASES if postgres else ("sqlite",), args.json)


if __name__ == "__main__":
    main()
