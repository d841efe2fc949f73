"""Test helpers that ship with the kit, for its own suite and for integrators' (none imports this repo's tests/).

- ``fake_cyclr/``: the fake Cyclr (Partner API, Marketplace UI, Marketplace webhook) over real HTTP.
- ``pytest_plugin``: the ``fake_cyclr`` and ``cyclr_install`` fixtures (a ``pytest11`` entry point).
- ``install``: ``install_through_views(user)``, a whole install through the kit's views, without a browser.
- ``marketplace``: ``install_over_http(url)``, the fake Marketplace's steps over plain HTTP.
- ``wiring``: ``CYCLR_PROXY`` aimed at a fake, and the snippet for a site's origins.
- ``live``: ``LiveCyclrTestCase``, daphne in another process (WebSockets work) beside the fake.
- ``browser``: headless Chromium and ``BrowserTestCase`` (sign in, Connect, install in the popup).
"""
