"""One benchmark pass on one database: ``python -m bench.measure --db sqlite|postgres --profile quick|full --json OUT``.

It prepares a fresh database, starts the fake Cyclr (``bench.fakeproc``) and one daphne serving
``bench.asgi`` (the kit and its floors), creates users, sessions, pending launches and the fake's
real results in bulk, then times the kit against its floors with asyncio WebSocket clients and
plain HTTP. It writes every run's figures to the JSON file; ``bench.run`` turns passes into the
document. Setup talks to the same database the server uses, through the ORM, in this process.
"""
import argparse
import asyncio
import cProfile
import http.client
import io
import json
import os
import pstats
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import InvalidMessage, InvalidStatus

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLIENT_ID, CLIENT_SECRET = "bench-client", "bench-secret"

# Iterations per run. quick: a smoke run of about a minute (CI); full: the committed figures.
PROFILES = {
    "quick": {"runs": 1, "latency": 10, "slow_latency": 3, "truth": 5, "http": 10, "ttfb": 8, "per_client": 1,
              "concurrency": (20, 40), "idle": (100, 200), "users": 20, "profile_calls": 10},
    "full": {"runs": 3, "latency": 50, "slow_latency": 10, "truth": 15, "http": 30, "ttfb": 20, "per_client": 1,
             "concurrency": (50, 200), "idle": (1000, 2000), "users": 50, "profile_calls": 30},
}
SLOW_CYCLR = 0.150  # seconds: a real Cyclr's distance
# Time to truth: the fake's package of three cycles (and its package of one, to show the time flat in cycles).
TRUTH_PACKAGE, ONE_CYCLE_PACKAGE = 4, 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(samples, q):
    """Nearest-rank percentile of ``samples`` (q in 0..100)."""
    ordered = sorted(samples)
    if not ordered:
        return None
    rank = max(1, min(len(ordered), -(-q * len(ordered) // 100)))
    return ordered[int(rank) - 1]


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 3)


# --- the server ------------------------------------------------------------------------------------


class Server:
    """One daphne process serving ``bench.asgi``; stopped whatever happens."""

    def __init__(self, env):
        self.port, self.process = free_port(), None
        # The kit's consumers take only the exact origins in HOST_ORIGINS: this server's, port included.
        origin = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "HOST_ORIGIN": origin, "CYCLR_HOST_ORIGINS": origin}

    def __enter__(self):
        log = open(ROOT / "var" / f"bench-daphne-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(self.port), "bench.asgi:application"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}: see {log.name}")
            try:
                status, _ = http_request(self.port, "GET", "/login/")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("daphne did not answer within 60 s")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_seconds(self):
        """User and system CPU time the daphne process has used so far, in seconds (``/proc/<pid>/stat``)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self):
        """Resident set size of the daphne process, in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")


def http_request(port, method, path, *, body=None, headers=None):
    """(status, seconds to the response's headers) over a new connection; the body is read and dropped."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        first_byte = time.perf_counter() - started
        response.read()
        return response.status, first_byte
    finally:
        connection.close()


# --- setup: users, sessions, launches, results --------------------------------------------------------


class Fixtures:
    """Users with sessions, and pending launches with real results from the fake, made in bulk."""

    def __init__(self, fake_conn, users):
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
        from django.contrib.sessions.backends.db import SessionStore
        from django.utils.crypto import get_random_string

        from hostkit.accounts import account_api_id
        from proxy.accounts import learned_guid
        from proxy.cyclr import CyclrClient

        self.fake = fake_conn
        model = get_user_model()
        model.objects.bulk_create([model(username=f"bench-{i}", password="!") for i in range(users)])
        self.users, self.sessions, self.cookies, self.cyclr_sessions, self.accounts = [], {}, {}, {}, {}
        client = CyclrClient()
        for user in model.objects.filter(username__startswith="bench-").order_by("pk"):
            store = SessionStore()
            store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
            store[HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            csrf = get_random_string(32)
            self.users.append(user)
            self.cookies[user.pk] = (f"sessionid={store.session_key}; csrftoken={csrf}", csrf)
            # One Marketplace URL per user, minted through the fake's API; its session installs every result.
            minted = client.mint_marketplace_url(account_api_id(user), marketplace_id=1, complete_parameter="bench")
            token = parse_qs(urlsplit(minted.url).query)["token"][0]
            self.fake.send(("session", token))
            self.cyclr_sessions[user.pk] = self.fake.recv()
            # As proxy:launch does: the mint's AccountId is the API id (docs/cyclr-api.md), so the GUID is learned later.
            self.accounts[user.pk] = (account_api_id(user), learned_guid(minted.account_id, account_api_id(user)))
        self.origin = urlsplit(minted.url)
        self.origin = f"{self.origin.scheme}://{self.origin.netloc}"

    def headers(self, user, **more):
        cookie, _ = self.cookies[user.pk]
        return {"Cookie": cookie, **more}

    def http_headers(self, user):
        cookie, csrf = self.cookies[user.pk]
        return {"Cookie": cookie, "X-CSRFToken": csrf, "Content-Type": "application/json"}

    def launches(self, n, package_id=1):
        """``n`` pending launches spread over the users, each with its valid result (an install of the fake's
        ``package_id``): [(user, launch_id, message)]."""
        from django.utils import timezone

        from proxy.models import Launch

        now = timezone.now()
        rows = []
        for i in range(n):
            user = self.users[i % len(self.users)]
            api_id, account_id = self.accounts[user.pk]
            rows.append(Launch(id=uuid.uuid4(), user=user, account_api_id=api_id, cyclr_account_id=account_id,
                               marketplace_id=1, marketplace_origin=self.origin, created_at=now,
                               expires_at=now + timedelta(hours=6)))
        Launch.objects.bulk_create(rows)
        # Installed after the launches exist: a cycle older than its launch is refused as replayed.
        results = {}
        for user in self.users:
            count = sum(1 for row in rows if row.user_id == user.pk)
            self.fake.send(("install", self.cyclr_sessions[user.pk], count, package_id))
            results[user.pk] = self.fake.recv()
        out = []
        for row in rows:
            result = results[row.user_id].pop()
            message = {"type": "result", "id": uuid.uuid4().hex[:16], "result": result}
            out.append((row.user, str(row.id), message))
        return out


# --- the clients -------------------------------------------------------------------------------------


class Client:
    """Times deliveries over WebSockets against one server."""

    def __init__(self, server, fixtures):
        self.server, self.fx = server, fixtures
        self.ws_base = f"ws://127.0.0.1:{server.port}"
        self.origin = f"http://127.0.0.1:{server.port}"

    def connect(self, path, user, open_timeout=10):
        from websockets.asyncio.client import connect

        return connect(self.ws_base + path, origin=self.origin, additional_headers=self.fx.headers(user),
                       open_timeout=open_timeout, max_size=2 ** 20, ping_interval=None, compression=None)

    async def deliver(self, target, user, launch_id, message):
        """Open a socket, send the result, wait for the answer: (seconds from send to ack, error or None)."""
        path = {"kit": f"/ws/proxy/launches/{launch_id}/", "floor_insert": "/ws/bench/floor/insert/",
                "floor_get": "/ws/bench/floor/get/"}[target]
        try:
            async with self.connect(path, user) as ws:
                started = time.perf_counter()
                await ws.send(json.dumps(message))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
                took = time.perf_counter() - started
        except TimeoutError:
            return None, "handshake_or_ack_timeout"
        except (InvalidMessage, InvalidStatus) as exc:  # dropped or refused before the socket opened
            return None, f"handshake_{type(exc).__name__}"
        except Exception as exc:  # a refused handshake, a reset: counted, never hidden
            return None, type(exc).__name__
        if reply.get("type") != "ack":
            return took, f"error:{reply.get('code')}"
        # The kit acks once the arrival is committed ("received"); verification follows after the ack.
        if target == "kit" and reply.get("status") not in ("received", "completed"):
            return took, f"status:{reply.get('status')}:{(reply.get('reason') or {}).get('code')}"
        return took, None


    async def until_verdict(self, target, user, launch_id, message):
        """Time to truth: open the person's events socket and the delivery socket, send the result, and wait
        for the verdict on the events socket: (seconds from send to verdict, error or None)."""
        events_path, path = {
            "kit": ("/ws/proxy/events/", f"/ws/proxy/launches/{launch_id}/"),
            "floor": ("/ws/bench/floor/verdicts/", "/ws/bench/floor/verdict/"),
        }[target.split("_")[0]]
        about = launch_id if target.startswith("kit") else message["id"]
        try:
            async with self.connect(events_path, user) as events, self.connect(path, user) as ws:
                started = time.perf_counter()
                await ws.send(json.dumps(message))
                while True:  # the person's other launches are not this one's verdict
                    event = json.loads(await asyncio.wait_for(events.recv(), 60))
                    if event.get("launch") == about:
                        break
                took = time.perf_counter() - started
        except TimeoutError:
            return None, "handshake_or_verdict_timeout"
        except (InvalidMessage, InvalidStatus) as exc:
            return None, f"handshake_{type(exc).__name__}"
        except Exception as exc:  # counted, never hidden
            return None, type(exc).__name__
        if event.get("type") != "proxy.install.completed":
            return took, f"verdict:{event.get('type')}:{(event.get('reason') or {}).get('code')}"
        return took, None


def wait_settled(launch_ids, timeout=120):
    """Wait until the kit has settled ``launch_ids`` to the end: verified (none is still ``received``) and
    signalled (``signal_sent_at``: the receivers ran and the pushes went out); False on time-out.

    The kit verifies a result after its ack, in the server's threads. Measured beside that work, a floor
    would be slowed by the kit's own verification and the kit would look better than it is: every floor
    (and the next kit delivery) is measured once the kit's earlier deliveries have settled. The signal is
    the settlement's last step; waiting for the status alone left it running beside the next measurement.
    """
    from django.db import close_old_connections
    from django.db.models import Q

    from proxy.models import Launch

    unsettled = Q(status=Launch.Status.RECEIVED) | Q(signal_sent_at__isnull=True)
    deadline = time.monotonic() + timeout
    try:
        while Launch.objects.filter(unsettled, pk__in=launch_ids).exists():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True
    finally:
        close_old_connections()


def count_error(errors, error):
    errors[error] = errors.get(error, 0) + 1


async def socket_latency(client, pools, count):
    """Send→ack of one delivery at a time, the targets interleaved so that drift hits them alike, each
    measured once the kit's earlier deliveries have settled (``wait_settled``)."""
    samples = {target: [] for target in pools}
    errors = {target: {} for target in pools}
    for i in range(count):
        for target, pool in pools.items():
            user, launch_id, message = pool.pop()
            took, error = await client.deliver(target, user, launch_id, message)
            if error:
                count_error(errors[target], error)
            elif took is not None:
                samples[target].append(took)
            if target == "kit" and not await asyncio.to_thread(wait_settled, [launch_id]):
                count_error(errors[target], "unsettled")
    return samples, errors


async def time_to_truth(client, pools, count):
    """Send→verdict of one delivery at a time (the kit's and the floor's with three cycles, the kit's with one),
    interleaved, each measured once the kit's earlier deliveries have settled (``wait_settled``)."""
    samples = {target: [] for target in pools}
    errors = {target: {} for target in pools}
    for _ in range(count):
        for target, pool in pools.items():
            user, launch_id, message = pool.pop()
            took, error = await client.until_verdict(target, user, launch_id, message)
            if error:
                count_error(errors[target], error)
            elif took is not None:
                samples[target].append(took)
            if target.startswith("kit") and not await asyncio.to_thread(wait_settled, [launch_id]):
                count_error(errors[target], "unsettled")
    return samples, errors


async def throughput(client, target, pool, clients, per_client):
    """``clients`` concurrent clients, each delivering ``per_client`` results on fresh sockets.

    ``per_second`` counts acks. For the kit, ``settled_per_second`` counts the same deliveries until the
    last of them is verified and signalled too (the floor with a Cyclr GET verifies before its ack); the next burst
    starts only then, so no floor is measured beside the kit's verifications. ``cpu_ms_per_delivery``: the server's
    CPU time over the burst (until settled, for the kit) per delivery: one process, so what bounds its throughput.
    """
    errors = {}
    done = 0

    async def one_client(items):
        nonlocal done
        for user, launch_id, message in items:
            _, error = await client.deliver(target, user, launch_id, message)
            if error:
                errors[error] = errors.get(error, 0) + 1
            else:
                done += 1

    work = [[pool.pop() for _ in range(per_client)] for _ in range(clients)]
    cpu = client.server.cpu_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(one_client(items) for items in work))
    elapsed = time.perf_counter() - started
    out = {"per_second": round(done / elapsed, 2), "delivered": done, "errors": errors}
    if target == "kit":
        if not await asyncio.to_thread(wait_settled, [launch_id for items in work for _, launch_id, _ in items]):
            count_error(errors, "unsettled")
        out["settled_per_second"] = round(done / (time.perf_counter() - started), 2)
    if done:
        out["cpu_ms_per_delivery"] = round((client.server.cpu_seconds() - cpu) * 1000 / done, 2)
    return out


async def open_idle(client, path, users, n, sockets, errors=None):
    """Open ``n`` more idle sockets (100 handshakes at a time), keeping them in ``sockets``; returns failures,
    counted by kind in ``errors``."""
    failures = 0
    gate = asyncio.Semaphore(100)

    async def one(i):
        nonlocal failures
        async with gate:
            try:
                ws = await client.connect(path, users[i % len(users)], open_timeout=30).__aenter__()
                sockets.append(ws)
            except Exception as exc:  # counted, and named, never hidden
                failures += 1
                if errors is not None:
                    count_error(errors, f"{type(exc).__name__}: {str(exc)[:80]}")

    await asyncio.gather(*(one(i) for i in range(n)))
    return failures


def idle_memory(env, fixtures, path, counts):
    """Bytes of daphne RSS per idle socket at each count, on a fresh server (freed memory is not returned)."""
    out = {}
    with Server(env) as server:
        client = Client(server, fixtures)

        async def measure():
            sockets = []
            # Warm up: one socket of the kind, so that code paths and imports are paid before the baseline.
            await open_idle(client, path, fixtures.users, 1, sockets)
            await asyncio.sleep(1)
            base = server.rss()
            opened = 1
            for n in counts:
                errors = {}
                failures = await open_idle(client, path, fixtures.users, n - (opened - 1), sockets, errors)
                opened = len(sockets)
                await asyncio.sleep(1)  # let the server finish the handshakes it acked
                out[n] = {"bytes_per_socket": round((server.rss() - base) / max(1, opened - 1)),
                          "open": opened - 1, "failures": failures, "errors": errors}
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

        asyncio.run(measure())
    return out


HTTP_FLOOR_PATHS = {"floor": "/bench/floor/result/", "floor_get": "/bench/floor/result-after-get/"}


def http_latency(server, fixtures, pools, count):
    """POST→JSON ack of one delivery at a time over ``http.client``, the targets interleaved (``pools``: kit,
    floor, floor_get), each measured once the kit's earlier deliveries have settled."""
    samples, errors = {target: [] for target in pools}, {target: 0 for target in pools}
    for _ in range(count):
        for target, pool in pools.items():
            user, launch_id, message = pool.pop()
            path = f"/proxy/launches/{launch_id}/result/" if target == "kit" else HTTP_FLOOR_PATHS[target]
            status, took = http_request(server.port, "POST", path, body=json.dumps(message),
                                        headers=fixtures.http_headers(user))
            if status == 200:
                samples[target].append(took)
            else:
                errors[target] += 1
            if target == "kit" and not wait_settled([launch_id]):
                errors[target] += 1
    return samples, errors


def launch_ttfb(server, fixtures, count):
    samples, errors = {"kit": [], "floor": []}, {"kit": 0, "floor": 0}
    for i in range(count):
        user = fixtures.users[i % len(fixtures.users)]
        for target, path in (("kit", "/proxy/launch/"), ("floor", "/bench/floor/launch/")):
            status, took = http_request(server.port, "GET", path, headers=fixtures.headers(user))
            if status == 200:
                samples[target].append(took)
            else:
                errors[target] += 1
    return samples, errors


def statement_timer(statements):
    """A database execute wrapper (``connection.execute_wrapper``) that appends ``(seconds, sql)`` of each statement
    to ``statements``."""
    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - started, sql))
    return timed


def profile_accept_result(fixtures, calls):
    """cProfile of the kit's ``accept_result`` in this process (same database, same fake): the top of the time."""
    from django.db import connection

    from proxy.services import accept_result
    from proxy.settlement import drain

    items = fixtures.launches(calls + 1)
    profiler = cProfile.Profile()
    profiler.enable()
    for user, launch_id, message in items[:-1]:
        accept_result(launch_id, message["result"], source="socket", user=user, message_id=message["id"])
    profiler.disable()
    drain(120)  # the settlements the calls scheduled (in the kit's threads) finish before the database goes
    # One more, alone, statement by statement: what the frame's database call sends (the session re-check's
    # two reads come before it, on the socket).
    statements = []
    user, launch_id, message = items[-1]
    started = time.perf_counter()
    with connection.execute_wrapper(statement_timer(statements)):
        accept_result(launch_id, message["result"], source="socket", user=user, message_id=message["id"])
    whole = time.perf_counter() - started
    drain(120)
    out = io.StringIO()
    out.write(f"One accept_result() alone: {whole * 1000:.2f} ms, {len(statements)} statements through the ORM "
              f"(COMMIT, and on PostgreSQL BEGIN, are not among them), {sum(t for t, _ in statements) * 1000:.2f} ms "
              "of them waiting for the database:\n")
    for took, sql in statements:
        out.write(f"  {took * 1000:6.2f} ms  {' '.join(sql.split())[:100]}\n")
    out.write("\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(proxy|django/db|requests|sqlite3|psycopg)", 25)
    return out.getvalue()


def profile_settlement(fixtures, calls):
    """The settlement of one launch (``settle_launch``: verify, verdict, records, signal, pushes), run in this
    process on launches accepted beforehand: ``(text, figures)``, the figures being the statements and
    milliseconds of one settlement alone (the median of ``calls``), for the report's cost-per-install row."""
    from django.db import connection

    from proxy.services import accept_result
    from proxy.settle import settle_launch
    from proxy.settlement import drain, holding

    items = fixtures.launches(calls + 1)
    with holding() as held:  # accepted, their settlements held: this thread settles them, one by one
        for user, launch_id, message in items:
            accept_result(launch_id, message["result"], source="socket", user=user, message_id=message["id"])
    runs = []
    for user, launch_id, message in items[:-1]:
        statements = []
        started = time.perf_counter()
        with connection.execute_wrapper(statement_timer(statements)):
            settle_launch(launch_id)
        runs.append((time.perf_counter() - started, statements))
    profiler = cProfile.Profile()
    user, launch_id, message = items[-1]
    profiler.enable()
    settle_launch(launch_id)
    profiler.disable()
    held.release()  # the held runs find their launches settled and signalled: nothing more is sent
    drain(120)
    whole = statistics.median(took for took, _ in runs)
    counts = [len(statements) for _, statements in runs]
    took, statements = min(runs, key=lambda run: abs(run[0] - whole))
    figures = {"ms": ms(whole), "statements": statistics.median(counts),
               "db_ms": ms(sum(t for t, _ in statements))}
    out = io.StringIO()
    out.write(f"One settle_launch() (median of {len(runs)}, run one at a time with the fake Cyclr at once): "
              f"{figures['ms']:.2f} ms, {figures['statements']:g} statements through the ORM (COMMIT, and on "
              "PostgreSQL BEGIN, are not among them); the one nearest the median, statement by statement, "
              f"{took * 1000:.2f} ms, {figures['db_ms']:.2f} ms of them waiting for the database:\n")
    for took, sql in statements:
        out.write(f"  {took * 1000:6.2f} ms  {' '.join(sql.split())[:100]}\n")
    out.write("\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(proxy|hostkit|django/db|requests|sqlite3|psycopg|channels)", 30)
    return out.getvalue(), figures


def summarize(samples):
    return {"p50": ms(percentile(samples, 50)), "p95": ms(percentile(samples, 95)),
            "p99": ms(percentile(samples, 99)), "n": len(samples)}


# --- one pass ------------------------------------------------------------------------------------------


def prepare_database(db, suffix=""):
    """A fresh database for the pass: the SQLite file removed, or the PostgreSQL database dropped and created.

    ``suffix`` names a database of its own beside the pass's (``bench.browser``'s ``"browser"``: the file
    ``var/bench-browser.sqlite3``, the database ``BENCH_DATABASE_URL``'s name + ``_browser``)."""
    if db == "sqlite":
        path = ROOT / "var" / (f"bench-{suffix}.sqlite3" if suffix else "bench.sqlite3")
        for ending in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{ending}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench")
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + (f"_{suffix}" if suffix else "")
    url = parts._replace(path=f"/{name}").geturl()
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def pass_environment(db, fake_url, suffix="", **more):
    """The environment of a pass on ``db`` against the fake at ``fake_url``, set in this process too (Django reads it
    at setup) and returned for the server's: ``bench.settings``, a fresh database (``prepare_database``, ``suffix``
    naming one of its own), the fake as Cyclr, and Redis on PostgreSQL with the channel prefix ``bench`` (plus
    ``-suffix``); none on SQLite. ``more``: further variables."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": prepare_database(db, suffix),
           "CYCLR_API_URL": fake_url, "CYCLR_MARKETPLACE_ORIGINS": fake_url, "CYCLR_CLIENT_ID": CLIENT_ID,
           "CYCLR_CLIENT_SECRET": CLIENT_SECRET, **more}
    env.pop("REDIS_URL", None)
    if db == "postgres":
        env["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
        env["CHANNELS_PREFIX"] = f"bench-{suffix}" if suffix else "bench"
    os.environ.update(env)
    if db != "postgres":
        os.environ.pop("REDIS_URL", None)
    return env


def run_pass(db, profile_name, out_path):
    settings = PROFILES[profile_name]
    raise_fd_limit()
    (ROOT / "var").mkdir(exist_ok=True)
    from bench import fakeproc

    with fakeproc.running(CLIENT_ID, CLIENT_SECRET) as (parent, fake_url):
        env = pass_environment(db, fake_url)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        result = {"db": db, "profile": profile_name, "settings": {k: v for k, v in settings.items()}, "runs": []}
        fixtures = Fixtures(parent, settings["users"])
        for run in range(settings["runs"]):
            print(f"[{db}] run {run + 1}/{settings['runs']}", flush=True)
            result["runs"].append(one_run(env, fixtures, settings, parent))
        print(f"[{db}] profile of accept_result", flush=True)
        result["profile_accept_result"] = profile_accept_result(fixtures, settings["profile_calls"])
        print(f"[{db}] profile of settle_launch", flush=True)
        result["profile_settlement"], result["settlement"] = profile_settlement(fixtures, settings["profile_calls"])
    Path(out_path).write_text(json.dumps(result, indent=1))


def one_run(env, fixtures, settings, fake_conn):
    figures = {}
    n, slow = settings["latency"], settings["slow_latency"]
    needed = n + slow + sum(c * settings["per_client"] for c in settings["concurrency"])
    pools = {target: fixtures.launches(needed) for target in ("kit", "floor_insert", "floor_get")}
    http_pools = {target: fixtures.launches(settings["http"]) for target in ("kit", "floor", "floor_get")}
    with Server(env) as server:
        client = Client(server, fixtures)
        # Warm-up: the first delivery of each kind pays imports, the token, the first connection.
        asyncio.run(socket_latency(client, {t: fixtures.launches(2) for t in pools}, 2))
        samples, errors = asyncio.run(socket_latency(client, pools, n))
        figures["socket"] = {t: {**summarize(s), "errors": errors[t]} for t, s in samples.items()}

        fake_conn.send(("delay", SLOW_CYCLR))
        fake_conn.recv()
        try:
            samples, errors = asyncio.run(socket_latency(client, pools, slow))
        finally:
            fake_conn.send(("delay", 0))
            fake_conn.recv()
        figures["socket_slow_cyclr"] = {t: {**summarize(s), "errors": errors[t]} for t, s in samples.items()}

        # Time to truth, against the same 150 ms Cyclr: the launches are made (and installed) before it slows.
        truth = settings["truth"]
        truth_pools = {"kit": fixtures.launches(truth + 1, TRUTH_PACKAGE),
                       "floor": fixtures.launches(truth + 1, TRUTH_PACKAGE),
                       "kit_one_cycle": fixtures.launches(truth + 1, ONE_CYCLE_PACKAGE)}
        fake_conn.send(("delay", SLOW_CYCLR))
        fake_conn.recv()
        try:
            asyncio.run(time_to_truth(client, truth_pools, 1))  # warm-up: the floor's pool, the events sockets
            samples, errors = asyncio.run(time_to_truth(client, truth_pools, truth))
        finally:
            fake_conn.send(("delay", 0))
            fake_conn.recv()
        figures["truth"] = {t: {**summarize(s), "errors": errors[t]} for t, s in samples.items()}

        samples, errors = http_latency(server, fixtures, http_pools, settings["http"])
        figures["http"] = {t: {**summarize(s), "errors": errors[t]} for t, s in samples.items()}

        figures["throughput"] = {}
        for clients in settings["concurrency"]:
            figures["throughput"][str(clients)] = {
                target: asyncio.run(throughput(client, target, pools[target], clients, settings["per_client"]))
                for target in pools}

        samples, errors = launch_ttfb(server, fixtures, settings["ttfb"])
        figures["launch_ttfb"] = {t: {**summarize(s), "errors": errors[t]} for t, s in samples.items()}

    # What one settlement costs alone, in this process (the report's statements per settlement).
    figures["settlement"] = profile_settlement(fixtures, settings["profile_calls"])[1]
    figures["idle_memory"] = {
        "kit": idle_memory(env, fixtures, "/ws/proxy/events/", settings["idle"]),
        "floor": idle_memory(env, fixtures, "/ws/bench/floor/idle/", settings["idle"]),
    }
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="quick")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    run_pass(args.db, args.profile, args.json)


if __name__ == "__main__":
    main()
