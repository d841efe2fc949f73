"""A live-server test base that works with Channels: real daphne in another process, a fake Cyclr beside it.

pytest-django's ``live_server`` is WSGI only (no WebSockets); ``channels.testing.ChannelsLiveServerTestCase``
runs daphne in a separate process. ``LiveCyclrTestCase`` adds a :class:`FakeCyclr` on ``127.0.0.1`` (another
origin than the host's ``localhost``) with ``CYCLR_PROXY`` pointed at it and the kit's snippet configured for
the live server's origin. Its database must be a file, not in-memory SQLite (set
``DATABASES["default"]["TEST"]["NAME"]``).

The server process is forked from the test process, which closes its database connections first
(``close_connections_before_forking``): SQLite keeps per-process state about the file's locks and its
write-ahead log, which a child inherits without holding the locks (in WAL mode a server forked while the test
process held its connection read one snapshot for good: a user the next test created could not sign in), and a
pooled PostgreSQL connection is a socket two processes must not share.
"""
import socket
from functools import partial

from channels.testing import ChannelsLiveServerTestCase
from daphne.testing import DaphneProcess
from django.conf import settings
from django.db import connections
from django.test import override_settings

from proxy.cyclr import CyclrClient

from .fake_cyclr import FakeCyclr
from .wiring import cyclr_proxy_for, launch_complete_html


def close_connections_before_forking():
    """Close this thread's database connections that are outside a transaction, and their PostgreSQL pools.

    Call it just before forking a process that uses the database: the child then opens its own connections
    (and pool) instead of inheriting the parent's. The parent's reopen on next use. A connection inside a
    transaction is left alone (closing it would end the transaction).
    """
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            continue
        connection.close()
        if connection.settings_dict.get("OPTIONS", {}).get("pool") and hasattr(connection, "close_pool"):
            connection.close_pool()  # Django's PostgreSQL pool (5.1+): the child makes its own


class LiveServerProcess(DaphneProcess):
    """Daphne in a forked process, started only once the test process's database connections are closed."""

    def start(self):
        close_connections_before_forking()
        super().start()


class LiveCyclrTestCase(ChannelsLiveServerTestCase):
    """The host on ``http://localhost:<port>`` (``live_server_url``), the fake Cyclr on ``self.fake.url``.

    ``fake_options`` are ``FakeCyclr`` arguments and ``proxy_overrides`` ``CYCLR_PROXY`` keys that win over
    your settings. The server process is forked when the class starts, so settings are fixed before that;
    it is another process, so assert on rows it wrote, not on mocks or receivers connected in the test.
    """

    fake_options = {}
    proxy_overrides = {}

    @classmethod
    def cyclr_proxy_overrides(cls):
        """The ``CYCLR_PROXY`` keys that win over your settings (default: ``proxy_overrides``)."""
        return dict(cls.proxy_overrides)

    @classmethod
    def setUpClass(cls):
        # Bound now (its URL goes into the settings), served only after the fork below: forking while
        # its thread runs could deadlock the server process. Bound before the probe below, so that it cannot
        # take the port the probe frees for daphne.
        cls.fake = FakeCyclr(**{"host": "127.0.0.1", "port": 0, **cls.fake_options}).bind()
        # The kit's sockets accept only the exact HOST_ORIGINS, which the server process reads before it
        # listens: so choose its port first (a free one, released just before daphne binds it).
        with socket.socket() as probe:
            probe.bind((cls.host, 0))
            port = probe.getsockname()[1]
        cls.ProtocolServerProcess = partial(LiveServerProcess, port=port)
        overrides = {**cls.cyclr_proxy_overrides(), "HOST_ORIGINS": [f"http://{cls.host}:{port}"]}
        cls._cyclr_settings = override_settings(
            CYCLR_PROXY=cyclr_proxy_for(cls.fake, getattr(settings, "CYCLR_PROXY", None), **overrides))
        cls._cyclr_settings.enable()
        # A class cleanup, not tearDownClass: Django undoes a class's @override_settings in a class cleanup
        # too, and cleanups run last-in, first-out. Undone in tearDownClass, this override came back when
        # that decorator's cleanup restored the settings it had found, and leaked into every later test.
        cls.addClassCleanup(cls._cyclr_settings.disable)
        CyclrClient.forget_tokens()
        try:
            super().setUpClass()
        except Exception:
            cls.fake.stop()
            raise
        cls.fake.start()
        cls.host_origin = f"http://{cls.host}:{port}"  # daphne listens on the port chosen above
        # Paste the kit's snippet, for this host origin, into the fake Cyclr's console.
        cls.fake.set_complete_html(launch_complete_html([cls.host_origin]))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.fake.stop()
