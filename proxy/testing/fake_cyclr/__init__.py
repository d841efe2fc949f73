"""A fake Cyclr (Partner API, Marketplace UI, Marketplace webhook sender) over real HTTP, for demos and tests.

    with FakeCyclr(complete_html=snippet) as fake:
        ...  # point CYCLR_PROXY["API_URL"] and MARKETPLACE_ORIGINS at fake.url

Standard library only; it never imports Django. Run it alone with `python -m proxy.testing.fake_cyclr`.
"""

from .server import FakeCyclr

__all__ = ["FakeCyclr"]
