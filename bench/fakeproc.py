"""The fake Cyclr in a process of its own, driven over a pipe.

Its own process, so that its HTTP threads never compete for the driver's GIL while the driver's
clients are timing. Commands: ``("session", token)`` redeems a Marketplace URL's token minted
through the fake's API and returns the session id; ``("install", session_id, n[, package_id])`` installs
package 1 (or ``package_id``; started) ``n`` times in that session and returns the Launch Complete ``result`` objects;
``("delay", seconds)`` sets ``api_delay``; ``("page_delay", seconds)`` sets ``page_delay``; ``("stop",)``.
``running()`` starts it and stops it again.
"""
import multiprocessing
from contextlib import contextmanager


@contextmanager
def running(client_id, client_secret):
    """The fake in a process of its own (spawned: nothing of the driver's state follows it): ``(conn, url)``, the
    pipe that drives it and its base URL; stopped on exit, and killed if it does not stop within 10 s."""
    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    fake = ctx.Process(target=serve, args=(child, client_id, client_secret), daemon=True)
    fake.start()
    try:
        yield conn, conn.recv()
    finally:
        try:
            conn.send(("stop",))
        except OSError:
            pass
        fake.join(10)
        if fake.is_alive():
            fake.kill()


def serve(conn, client_id, client_secret):
    from proxy.testing.fake_cyclr import FakeCyclr
    from proxy.testing.fake_cyclr.server import FakeCyclrHandler
    from proxy.testing.fake_cyclr.state import PACKAGES, marketplace_result

    # The stdlib handler writes headers and body in two sends: with Nagle's algorithm on, the body
    # waits for the client's delayed ACK (~40 ms) on every kept-alive request. A real Cyclr has no
    # such stall, so the benchmark turns it off here rather than charge it to whoever calls Cyclr.
    FakeCyclrHandler.disable_nagle_algorithm = True
    fake = FakeCyclr(host="127.0.0.1", port=0, client_id=client_id, client_secret=client_secret).start()
    conn.send(fake.url)
    try:
        while True:
            command, *args = conn.recv()
            if command == "stop":
                break
            if command == "delay":
                fake.api_delay = float(args[0])
                conn.send(True)
            elif command == "page_delay":
                fake.page_delay = float(args[0])
                conn.send(True)
            elif command == "session":
                session = fake.state.redeem_marketplace_token(args[0])
                conn.send(session.id if session else None)
            elif command == "install":
                session, count, package = fake.state.get_session(args[0]), args[1], PACKAGES[args[2] if len(args) > 2 else 1]
                conn.send([marketplace_result(fake.state.install_package(
                    session=session, package=package, start=True, base_url=fake.url)) for _ in range(count)])
    finally:
        fake.stop()
