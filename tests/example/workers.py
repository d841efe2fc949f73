"""Real ASGI worker processes for the scale-out tests: daphne, as production runs it.

``start_workers(2, env)`` starts two ``daphne hostkit.asgi:application`` processes on free ports,
sharing this test run's PostgreSQL database and Redis channel layer (``scaleout_env``), and waits
until each one's ``proxy:health`` says both work. Clients talk to them as browsers would: HTTP with
the session cookie (``requests``), WebSockets with the Origin and cookie (``websocket-client``).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import requests
import websocket
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The origin the pages are served from, as a load balancer in front of both workers would give them.
PAGE_ORIGIN = "http://localhost:8000"
WEBHOOK_SECRET = "scaleout-webhook-secret-0123456789"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url():
    """The test database this process created (TEST NAME), so the workers see the test's rows."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def scaleout_env(fake, signal_log, **extra):
    """A worker's environment: the shared database and layer, the fake Cyclr, the signal log."""
    layer = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.example.scaleout_worker.settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CHANNELS_PREFIX": layer["prefix"],
        "CYCLR_API_URL": fake.url,
        "CYCLR_CLIENT_ID": settings.CYCLR_PROXY["CLIENT_ID"],
        "CYCLR_CLIENT_SECRET": settings.CYCLR_PROXY["CLIENT_SECRET"],
        "CYCLR_MARKETPLACE_ORIGINS": fake.origin,
        "CYCLR_HOST_ORIGINS": PAGE_ORIGIN,
        "CYCLR_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SIGNAL_LOG": str(signal_log),
        **extra,
    }


def signals_sent(signal_log, launch):
    """``[(signal name, pid)]`` the workers' receivers logged for ``launch`` (``scaleout_worker``'s receivers)."""
    lines = [line.split() for line in signal_log.read_text().splitlines()]
    return [(name, int(pid)) for name, launch_id, pid in lines if launch_id == str(launch.pk)]


def wait_until(condition, what, timeout=60):
    """Poll the shared database until ``condition()`` holds: the workers are other processes and set no flag here."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class Worker:
    """One daphne process; ``kill()`` is SIGKILL (no clean shut-down), ``pause()``/``resume()`` SIGSTOP/SIGCONT."""

    def __init__(self, name, env, log_dir):
        self.name = name
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_dir) / f"worker-{name}.log"
        self.process = None

    def start(self):
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "hostkit.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def wait_healthy(self, timeout=60):
        """Poll proxy:health until 200: the worker is up and reaches PostgreSQL and Redis."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.name} exited with {self.process.returncode}{self.log()}")
            try:
                response = requests.get(f"{self.url}/proxy/health/", timeout=5)
                if response.status_code == 200:
                    return self
                last = f"{response.status_code} {response.text}"
            except requests.ConnectionError:
                pass  # not listening yet
            time.sleep(0.1)  # a process starting up sets no flag to wait on: poll its port
        raise AssertionError(f"worker {self.name} not healthy within {timeout}s: {last}{self.log()}")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self):
        self.process.send_signal(signal.SIGSTOP)

    def resume(self):
        self.process.send_signal(signal.SIGCONT)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.resume()  # a stopped process cannot act on SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process is not None:
            self._log.close()

    def log(self):
        try:
            return f"\n--- worker {self.name} log ---\n{self.log_path.read_text()[-4000:]}"
        except OSError:
            return ""

    # --- clients -------------------------------------------------------------------------------

    def socket(self, path, session, timeout=20):
        """A WebSocket to this worker, from a page at PAGE_ORIGIN signed in with ``session``."""
        return websocket.create_connection(
            f"ws://127.0.0.1:{self.port}{path}", origin=PAGE_ORIGIN, timeout=timeout,
            cookie=f"{settings.SESSION_COOKIE_NAME}={session}")

    def http(self, session):
        """A requests session signed in with ``session``, carrying a CSRF cookie and its header."""
        client = requests.Session()
        csrf = "scaleoutcsrfsecret0123456789abcd"  # any 32 letters and digits is a valid CSRF secret
        client.cookies.set(settings.SESSION_COOKIE_NAME, session)
        client.cookies.set(settings.CSRF_COOKIE_NAME, csrf)
        client.headers["X-CSRFToken"] = csrf
        return client

    def status(self, session, launch_id):
        response = self.http(session).get(f"{self.url}/proxy/launches/{launch_id}/", timeout=20)
        assert response.status_code == 200, f"{response.status_code} {response.text}{self.log()}"
        return response.json()

    def wait_for_status(self, session, launch_id, statuses=("completed",), timeout=30):
        """proxy:status on this worker, polled until the launch reaches one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(session, launch_id)
            if status["status"] in statuses or time.monotonic() > deadline:
                return status
            time.sleep(0.1)  # the server pushes nothing to an HTTP client: poll proxy:status, as the page does


def start_workers(names, env, log_dir, **per_worker_env):
    """Start one worker per name (in parallel), wait until all are healthy; ``per_worker_env[name]`` adds to env."""
    workers = [Worker(name, {**env, **per_worker_env.get(name, {})}, log_dir).start() for name in names]
    try:
        for worker in workers:
            worker.wait_healthy()
    except BaseException:
        for worker in workers:
            worker.stop()
        raise
    return workers


def send_result(ws, data, message_id):
    ws.send(json.dumps({"type": "result", "id": message_id, "result": data}))


def receive_json(ws):
    return json.loads(ws.recv())


class Front:
    """A load balancer's stand-in: one origin, ``http://localhost:<port>``, in front of the workers.

    ``route(path)`` picks the worker for each request. Every plain HTTP request is sent on with
    ``Connection: close``, so the browser opens a new connection for the next one and each request
    is routed on its own, as a balancer without sticky sessions may; WebSocket upgrades are piped
    as they are. ``routed`` records ``(path, worker name)`` for the test to check.
    """

    def __init__(self, route):
        self.route = route
        self.routed = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.origin = f"http://localhost:{self.port}"

    def start(self):
        thread = threading.Thread(target=self._accept, name="front", daemon=True)
        thread.start()
        return self

    def stop(self):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(65536)
            if not chunk:
                client.close()
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        path = lines[0].split(b" ")[1].decode()
        worker = self.route(path)
        self.routed.append((path, worker.name))
        if not any(line.lower().startswith(b"upgrade:") for line in lines):
            lines = [line for line in lines if not line.lower().startswith(b"connection:")] + [b"Connection: close"]
        try:
            upstream = socket.create_connection(("127.0.0.1", worker.port), timeout=30)
        except OSError:  # the worker is down: the browser sees the connection fail, as behind a balancer
            client.close()
            return
        upstream.settimeout(None)
        upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + rest)

        def pipe(source, target):
            try:
                while data := source.recv(65536):
                    target.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, target):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        back.start()
        pipe(client, upstream)
        back.join(timeout=60)
        client.close()
        upstream.close()
