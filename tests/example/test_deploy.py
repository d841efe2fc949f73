"""The production configuration: `.env.production.example` passes `check --deploy`, and a worker
started with it serves hashed static files through WhiteNoise, redirects to https, and answers the
load balancer's health probe over plain http.

Each runs `manage.py` (or daphne) in a subprocess with only that file's environment, as a server would.
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.production.example"
# What the example leaves for the operator to fill in: secrets and credentials, never committed.
TO_FILL = {"SECRET_KEY", "CYCLR_CLIENT_ID", "CYCLR_CLIENT_SECRET", "CYCLR_WEBHOOK_SECRET"}


def example_values():
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def production_env(**overrides):
    """The example file as the only configuration, its blanks filled as an operator would."""
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": str(EXAMPLE),
        **{key: secrets.token_urlsafe(50) for key in TO_FILL},
        **overrides,
    }
    for passthrough in ("HOME", "LANG", "SYSTEMROOT"):
        if passthrough in os.environ:
            env[passthrough] = os.environ[passthrough]
    return env


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_example_leaves_only_secrets_and_credentials_blank():
    values = example_values()
    assert {key for key, value in values.items() if not value} == TO_FILL
    assert values["DEBUG"] == "false"


def test_check_deploy_is_clean_with_the_production_example():
    checked = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues (0 silenced)." in checked.stdout


def test_check_deploy_flags_what_the_example_fills_in_when_it_is_missing():
    """The test above can fail: without the operator's values the kit's and Django's checks speak up."""
    env = production_env(SECRET_KEY="django-insecure-" + "x" * 50, CYCLR_WEBHOOK_SECRET="", SECURE_HSTS_SECONDS="0")
    checked = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert checked.returncode != 0
    for check_id in ("security.W009", "security.W004", "proxy.W004"):
        assert check_id in checked.stderr + checked.stdout


def test_check_deploy_flags_the_demos_published_webhook_secret():
    """The README and `make run` publish the demo's secret: in production it would authenticate anyone."""
    env = production_env(CYCLR_WEBHOOK_SECRET="demo-webhook-secret-change-me")
    checked = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert checked.returncode != 0
    assert "proxy.W007" in checked.stderr + checked.stdout
    assert "proxy.W007" not in manage("check", env=env).stderr  # a deploy check: the demo itself runs quietly


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def production_worker(tmp_path_factory):
    """collectstatic, then one daphne worker, both with the example's environment.

    Only the database (a SQLite file) and the channel layer (in-memory) are swapped for local
    ones, since the example names servers that do not exist here.
    """
    tmp = tmp_path_factory.mktemp("production")
    env = production_env(STATIC_ROOT=str(tmp / "static"), DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}", REDIS_URL="")
    collected = manage("collectstatic", "--noinput", env=env)
    assert collected.returncode == 0, collected.stderr
    port = free_port()
    # The production command (docs/production.md): daphne's command line, its access log masking the webhook's secret.
    daphne = subprocess.Popen([sys.executable, "-m", "proxy.server", "-b", "127.0.0.1", "-p", str(port),
                               "hostkit.asgi:application"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(port, daphne)
        yield {"url": url, "static_root": tmp / "static"}
    finally:
        daphne.kill()
        daphne.wait(timeout=10)


def wait_until_listening(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"daphne exited with {process.returncode}: {process.stdout.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)  # polling a port that is not open yet: nothing on the page to wait for
    raise AssertionError(f"daphne did not listen on {port} within {timeout}s")


# As the TLS-terminating load balancer sends them (SECURE_PROXY_SSL_HEADER in the example).
BEHIND_HTTPS = {"Host": "app.example.com", "X-Forwarded-Proto": "https"}


def test_collectstatic_writes_hashed_compressed_copies(production_worker):
    manifest = json.loads((production_worker["static_root"] / "staticfiles.json").read_text())
    hashed = manifest["paths"]["proxy/js/hostkit.js"]
    assert hashed != "proxy/js/hostkit.js" and hashed.startswith("proxy/js/hostkit.")
    assert (production_worker["static_root"] / (hashed + ".gz")).exists()


def test_the_worker_serves_hashed_static_files_cacheable_forever(production_worker):
    manifest = json.loads((production_worker["static_root"] / "staticfiles.json").read_text())
    hashed = manifest["paths"]["proxy/js/hostkit.js"]
    response = requests.get(f"{production_worker['url']}/static/{hashed}", headers=BEHIND_HTTPS, timeout=10)
    assert response.status_code == 200
    assert "Hostkit" in response.text
    assert "immutable" in response.headers["Cache-Control"]
    # Pages name the hashed copies, so a deploy never leaves a browser on a stale file.
    login = requests.get(f"{production_worker['url']}/login/", headers=BEHIND_HTTPS, timeout=10)
    assert login.status_code == 200
    assert f'href="/static/{manifest["paths"]["css/host.css"]}"' in login.text


def test_plain_http_is_redirected_to_https_with_hsts_on_https(production_worker):
    plain = requests.get(f"{production_worker['url']}/login/", headers={"Host": "app.example.com"},
                         allow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"] == "https://app.example.com/login/"
    secure = requests.get(f"{production_worker['url']}/login/", headers=BEHIND_HTTPS, timeout=10)
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "Secure" in secure.headers["Set-Cookie"]  # the CSRF cookie of the login form


def test_the_health_probe_answers_over_plain_http(production_worker):
    response = requests.get(f"{production_worker['url']}/proxy/health/", headers={"Host": "app.example.com"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
