"""Run the fake Cyclr as a standalone process: `python -m proxy.testing.fake_cyclr --port 8001 ...`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from .server import FakeCyclr, add_shape_arguments, shape_options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m proxy.testing.fake_cyclr",
        description="Serve a fake Cyclr Partner API and Marketplace UI for demos and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to bind, 0 for a free one (default: 8001)")
    parser.add_argument(
        "--public-host", help="host name for the URLs the fake hands out, if not --host (e.g. acme-h.cyclr.test)"
    )
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument(
        "--marketplace-id", type=int, action="append", dest="marketplace_ids",
        help="a Marketplace id that exists (repeatable; default: 1)",
    )
    parser.add_argument(
        "--complete-html-file", type=Path,
        help="file holding the Launch Complete HTML (the snippet from `manage.py proxy_snippet`)",
    )
    parser.add_argument("--opener-policy", help="Cross-Origin-Opener-Policy for HTML pages, e.g. same-origin")
    parser.add_argument(
        "--coop", action="store_true",
        help="send Cross-Origin-Opener-Policy: same-origin on the Marketplace pages (as --opener-policy same-origin)",
    )
    parser.add_argument(
        "--complete-delay", type=float, default=0, metavar="SECONDS",
        help="show a 'finishing' page for SECONDS between the install and the Launch Complete page (default: 0)",
    )
    parser.add_argument(
        "--instant-complete", action="store_true",
        help="signing in installs package 1 at once and shows its Launch Complete page",
    )
    parser.add_argument("--token-expires-in", type=int, default=1209599, help="access token lifetime in seconds")
    parser.add_argument("--marketplace-url-ttl", type=int, default=300, help="Marketplace URL lifetime in seconds")
    parser.add_argument(
        "--notification-url",
        help="the host's Marketplace Notification URL: POST Cyclr's webhook there after each install "
        "(e.g. http://localhost:8000/proxy/webhook/<secret>/)",
    )
    parser.add_argument("--state-file", type=Path, metavar="PATH",
                        help="keep the accounts, cycles and installs in this JSON file across restarts "
                             "(default: forget them when stopped)")
    add_shape_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    complete_html = None
    if args.complete_html_file is not None:
        try:
            complete_html = args.complete_html_file.read_text(encoding="utf-8")
        except OSError as error:
            parser.error(f"cannot read --complete-html-file: {error}")
    if args.coop and args.opener_policy not in (None, "same-origin"):
        parser.error("--coop sends same-origin: leave out --opener-policy or make it same-origin")
    if not args.complete_delay >= 0 or args.complete_delay == float("inf"):
        parser.error("--complete-delay must be a number of seconds, 0 or more")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s fake-cyclr %(message)s")

    fake = FakeCyclr(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        marketplace_ids=tuple(args.marketplace_ids or (1,)),
        complete_html=complete_html,
        token_expires_in=args.token_expires_in,
        marketplace_url_ttl=args.marketplace_url_ttl,
        opener_policy=args.opener_policy,
        public_host=args.public_host,
        notification_url=args.notification_url,
        coop=args.coop,
        complete_delay=args.complete_delay,
        instant_complete=args.instant_complete,
        **shape_options(args),
    )
    if args.state_file is not None:
        try:
            fake.state.keep_in(args.state_file)
        except ValueError as error:
            parser.error(str(error))
    try:
        fake.start()
    except OSError as error:
        print(f"The fake Cyclr cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1

    stopping = threading.Event()
    # SIGTERM (from a Makefile or a test harness) shuts down as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    print(f"Fake Cyclr listening on {fake.url}", flush=True)
    if complete_html is None:
        print("No Launch Complete HTML is configured: installs will not reach your site. In a Django project, "
              "run `python manage.py proxy_fake_cyclr` instead, or pass --complete-html-file.", file=sys.stderr, flush=True)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    print("Fake Cyclr stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
