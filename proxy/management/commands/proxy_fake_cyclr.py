"""``python manage.py proxy_fake_cyclr [--port 8001]``: the fake Cyclr, for your own project.

It serves the fake Partner API and Marketplace on another origin than your site, with this project's Launch
Complete snippet configured on it (for ``CYCLR_PROXY["HOST_ORIGINS"]``, or ``--origin``), and prints the
``CYCLR_PROXY`` values that point your development settings at it. It runs until Ctrl-C (or SIGTERM).
"""
import json
import signal
import threading
from types import SimpleNamespace

from django.core.management.base import BaseCommand, CommandError

from proxy.conf import proxy_settings
from proxy.exceptions import ProxyError
from proxy.snippet import check_origin
from proxy.testing.fake_cyclr.server import FakeCyclr, add_shape_arguments, shape_options
from proxy.testing.wiring import launch_complete_html

DEMO_CLIENT_ID = "demo-client"
# Beside the project (where manage.py runs): restarting the fake keeps what Cyclr would, so reconciliation
# finds the accounts it knew.
DEFAULT_STATE_FILE = ".fake-cyclr-state.json"
DEMO_CLIENT_SECRET = "demo-secret"


class Command(BaseCommand):
    help = ("Run the fake Cyclr for this project: it serves the kit's Launch Complete snippet for your "
            "HOST_ORIGINS and prints the CYCLR_PROXY values to use.")
    requires_system_checks = []  # it is how you fix CYCLR_PROXY: do not refuse to start over it

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8001, help="port to listen on, 0 for a free one (default: 8001)")
        parser.add_argument("--host", default="127.0.0.1",
                            help="address to listen on (default: 127.0.0.1, another origin than localhost)")
        parser.add_argument("--origin", action="append", dest="origins", metavar="ORIGIN",
                            help='your site\'s origin, such as http://localhost:8000; repeat for several '
                                 '(default: CYCLR_PROXY["HOST_ORIGINS"])')
        parser.add_argument("--notification-url", metavar="URL",
                            help="your Marketplace Notification URL (http://localhost:8000/proxy/webhook/<secret>/): "
                                 "the fake POSTs Cyclr's webhook there after each install")
        parser.add_argument("--state-file", default=DEFAULT_STATE_FILE, metavar="PATH",
                            help="where it keeps its accounts, cycles and installs across restarts, as a real Cyclr "
                                 f"keeps them (default: {DEFAULT_STATE_FILE} in the current directory)")
        parser.add_argument("--forget", action="store_true",
                            help="keep nothing: start empty, and forget everything when stopped")
        add_shape_arguments(parser)

    def handle(self, *args, port, host, origins, notification_url, state_file=DEFAULT_STATE_FILE, forget=False,
               **options):
        shape = shape_options(SimpleNamespace(**options))
        origins = origins or _configured_origins()
        if not origins:
            raise CommandError('There is no origin of your site to put in the snippet: set CYCLR_PROXY["HOST_ORIGINS"] '
                               "or pass --origin http://localhost:8000.")
        try:
            for origin in origins:
                check_origin(origin)
            snippet = launch_complete_html(origins)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except ProxyError as exc:
            raise CommandError(exc.message) from exc

        user = proxy_settings.user_settings if isinstance(proxy_settings.user_settings, dict) else {}
        marketplace_id = user.get("MARKETPLACE_ID")
        if isinstance(marketplace_id, bool) or not isinstance(marketplace_id, int) or marketplace_id <= 0:
            marketplace_id = 1
        # The fake's own demo credentials, never the project's: those may be real Cyclr secrets.
        fake = FakeCyclr(host=host, port=port, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                         marketplace_ids=(marketplace_id,), complete_html=snippet, notification_url=notification_url,
                         **shape)
        if not forget:
            try:
                fake.state.keep_in(state_file)
            except ValueError as exc:
                raise CommandError(f"{exc} Or pass --forget, or another --state-file.") from exc
        try:
            fake.start()
        except OSError as exc:
            raise CommandError(f"The fake Cyclr cannot listen on {host}:{port}: {exc.strerror or exc}. "
                               "Pick another port with --port.") from exc

        stopping = threading.Event()
        # SIGTERM (a process manager, a test) stops it as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
        self.stdout.write(self.summary(fake, origins, marketplace_id), ending="\n")
        self.stdout.flush()
        try:
            stopping.wait()
        except KeyboardInterrupt:
            pass
        finally:
            fake.stop()
        self.stdout.write("The fake Cyclr stopped.")

    def summary(self, fake, origins, marketplace_id):
        values = {
            "API_URL": fake.url,
            "CLIENT_ID": fake.state.client_id,
            "CLIENT_SECRET": fake.state.client_secret,
            "MARKETPLACE_ID": marketplace_id,
            "MARKETPLACE_ORIGINS": [fake.origin],
        }
        lines = [
            f"The fake Cyclr is serving on {fake.url}, with this project's Launch Complete snippet for "
            f"{', '.join(origins)}.",
            "Point CYCLR_PROXY at it in your development settings (keep your other keys), then restart your site:",
            "",
            *(f"    {json.dumps(key)}: {json.dumps(value)}," for key, value in values.items()),
            "",
        ]
        if fake.notification_url:
            lines.append("After each install it sends Cyclr's Marketplace webhook to your Notification URL.")
        if fake.state.state_file is not None:
            lines.append(f"It keeps its accounts and installs in {fake.state.state_file} across restarts (--forget: not).")
        lines.append("Press Ctrl-C to stop it.")
        return "\n".join(lines)


def _configured_origins():
    configured = proxy_settings.HOST_ORIGINS or []
    return [configured] if isinstance(configured, str) else list(configured)
