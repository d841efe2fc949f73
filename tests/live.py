"""A real ASGI server (daphne, in another process) beside a real fake Cyclr (a thread here, on 127.0.0.1)."""
from channels.testing import ChannelsLiveServerTestCase
from django.test import override_settings

from proxy.cyclr import CyclrClient
from proxy.testing.fake_cyclr import FakeCyclr

from .conftest import CLIENT_ID, CLIENT_SECRET, proxy_settings_for


class LiveCyclrTestCase(ChannelsLiveServerTestCase):
    """The host on http://localhost:<port>, the fake Cyclr on http://127.0.0.1:<port>.

    The server process is forked when the class starts, so settings are fixed before that;
    it is another process, so tests assert on rows it wrote, not on mocks or receivers here.
    """

    fake_options = {}
    proxy_overrides = {}

    @classmethod
    def setUpClass(cls):
        # Bound now (its URL goes into the settings), served only after the fork below: forking while
        # its thread runs could deadlock the server process.
        cls.fake = FakeCyclr(host="127.0.0.1", port=0, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             marketplace_ids=(1,), **cls.fake_options).bind()
        cls._cyclr_settings = override_settings(CYCLR_PROXY=proxy_settings_for(cls.fake, **cls.proxy_overrides))
        cls._cyclr_settings.enable()
        CyclrClient.forget_tokens()
        try:
            super().setUpClass()
        except Exception:
            cls._cyclr_settings.disable()
            cls.fake.stop()
            raise
        cls.fake.start()
        cls.host_origin = f"http://{cls.host}:{cls._port}"  # known only now that the server runs

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls._cyclr_settings.disable()
        cls.fake.stop()
