"""The kit's shipped live-server base, with this suite's fake Cyclr credentials and settings."""
from proxy.testing import live

from .conftest import FAKE_CYCLR_OPTIONS, PROXY_TEST_SETTINGS


class LiveCyclrTestCase(live.LiveCyclrTestCase):
    """``proxy.testing.live.LiveCyclrTestCase`` set up as the suite's ``cyclr`` fixture is."""

    fake_options = {**FAKE_CYCLR_OPTIONS, "marketplace_ids": (1,)}

    @classmethod
    def cyclr_proxy_overrides(cls):
        return {**PROXY_TEST_SETTINGS, **cls.proxy_overrides}  # a subclass's overrides win
