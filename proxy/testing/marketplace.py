"""Going through a (fake) Marketplace over plain HTTP, as a browser would, for tests.

``install_over_http(marketplace_url, ...)`` follows the minted URL, picks a package,
authenticates its connector and returns the ``result`` object that the Launch Complete page
defines: a real result from a real (fake) Cyclr, without a browser.
"""
import json
import re
from urllib.parse import urljoin

import requests

RESULT = re.compile(r"var result = (\{.*?\});\s*</script>", re.S)


def install_over_http(marketplace_url, *, package_id=1, api_key="demo-key", start_cycles=True, session=None):
    http = session or requests.Session()
    listing = http.get(marketplace_url, timeout=10)
    listing.raise_for_status()
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
    found = RESULT.search(complete.text)
    if not found:
        raise AssertionError(f"The Launch Complete page at {complete.url} defines no result")
    return json.loads(found.group(1))
