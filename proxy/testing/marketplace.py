"""Going through a (fake) Marketplace over plain HTTP, as a browser would, for tests.

``install_over_http(marketplace_url, ...)`` follows the minted URL, picks a package,
authenticates its connector and returns the ``result`` object that the Launch Complete page
defines: a real result from a real (fake) Cyclr, without a browser. A fake with ``complete_delay``
shows a "finishing" page first: this follows its Continue link at once (no browser waits here).
A fake with ``instant_complete`` shows Launch Complete on sign-in: its result is returned as is.
"""
import json
import re
from urllib.parse import urljoin

import requests

RESULT = re.compile(r"var result = (\{.*?\});\s*</script>", re.S)
CONTINUE = re.compile(r'<a id="continue" href="([^"]+)"')


def _launch_complete(http, page):
    """The Launch Complete page of ``page``: itself, or the one its "finishing" interstitial leads to."""
    moving_on = CONTINUE.search(page.text)
    if moving_on:
        page = http.get(urljoin(page.url, moving_on.group(1).replace("&amp;", "&")), timeout=10)
        page.raise_for_status()
    return page


def _result_of(page):
    found = RESULT.search(page.text)
    if not found:
        raise AssertionError(f"The Launch Complete page at {page.url} defines no result")
    return json.loads(found.group(1))


def install_over_http(marketplace_url, *, package_id=1, api_key="demo-key", start_cycles=True, session=None):
    """Install ``package_id`` through the Marketplace at ``marketplace_url``; return the Launch Complete page's ``result``."""
    return _result_of(complete_page_over_http(marketplace_url, package_id=package_id, api_key=api_key,
                                              start_cycles=start_cycles, session=session))


def complete_page_over_http(marketplace_url, *, package_id=1, api_key="demo-key", start_cycles=True, session=None):
    """The same steps; return the Launch Complete page's response (its HTML holds the configured snippet)."""
    http = session or requests.Session()
    listing = _launch_complete(http, http.get(marketplace_url, timeout=10))
    listing.raise_for_status()
    if RESULT.search(listing.text):  # an instant Marketplace: already installed on sign-in
        return listing
    match = re.search(rf'data-package-id="{package_id}".*?href="([^"]+)"', listing.text, re.S)
    if not match:
        raise AssertionError(f"Package {package_id} is not on the Marketplace page {listing.url}")
    form_url = urljoin(listing.url, match.group(1).replace("&amp;", "&"))
    form = http.get(form_url, timeout=10)
    form.raise_for_status()
    data = {"api_key": api_key}
    if start_cycles:
        data["start_cycles"] = "1"
    complete = http.post(form_url, data=data, timeout=10)
    complete.raise_for_status()
    return _launch_complete(http, complete)


def launch_over_http(launch_url, *, api_key="demo-key", session=None):
    """Follow a minted LAUNCH URL like a person would and return the LAUNCH-shaped `result` object."""
    http = session or requests.Session()
    page = http.get(launch_url, timeout=10)
    page.raise_for_status()
    complete = http.post(page.url, data={"api_key": api_key}, timeout=10)
    complete.raise_for_status()
    return _result_of(complete)


def orbit_over_http(orbit_url, *, action, install_id, session=None):
    """Open a minted ORBIT URL and press Stop, Start or Uninstall for one install; return the page after."""
    http = session or requests.Session()
    page = http.get(orbit_url, timeout=10)
    page.raise_for_status()
    match = re.search(rf'action="([^"]*/orbit/installs/{re.escape(install_id)}/{action}[^"]*)"', page.text)
    if not match:
        raise AssertionError(f"ORBIT offers no {action} for install {install_id}")
    after = http.post(urljoin(page.url, match.group(1).replace("&amp;", "&")), timeout=10)
    after.raise_for_status()
    return after.text
