"""The webhook's secret (it is in the URL) is in no line the servers the README recommends write.

Each test starts a real server in a subprocess, as README says to run it, POSTs a Marketplace notification to
``proxy/webhook/<secret>/`` (and to the same URL percent-encoded, which the server decodes to the same view),
stops the server, and reads everything it wrote (stdout and stderr): the request is logged, with its path
masked as ``/proxy/webhook/…``, and the secret appears nowhere.

- ``manage.py runserver`` (daphne's, the example's ``LOGGING`` as it is), as ``make run`` starts it;
- ``python -m proxy.server hostkit.asgi:application``, bare, in development;
- the production command, ``python -m proxy.server -b … -p … --proxy-headers hostkit.asgi:application``, with
  ``.env.production.example``.
"""
import os
import secrets
import signal
import subprocess
import sys
import uuid

import pytest
import requests

from .test_deploy import BEHIND_HTTPS, ROOT, free_port, manage, production_env, wait_until_listening

SECRET = "whsec-" + secrets.token_urlsafe(24)
NOTIFICATION = {
    "Status": "stopped",
    "AccountId": str(uuid.uuid4()),
    "AccountApiId": "nobody-here",
    "MarketplaceIntegrationPackageId": 1,
    "MarketplaceInstallDetails": [{"CycleId": str(uuid.uuid4()), "CycleStatus": "Stopped", "Webhooks": [],
                                   "TemplateId": str(uuid.uuid4()), "TemplateReleaseId": str(uuid.uuid4())}],
    "Errors": [],
    "UserId": "",
    "CompleteParameter": "",
}


def development_env(tmp_path):
    """The example's defaults (``make run``), with a database of the test's own and the webhook's secret set."""
    env = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**env, "ENV_FILE": str(tmp_path / "no.env"), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "CYCLR_WEBHOOK_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}


def serve(command, env, headers=None):
    """Start ``command`` (with ``{port}``), POST the notification to the webhook twice, stop it; (answers, output)."""
    migrated = manage("migrate", "--noinput", "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    server = subprocess.Popen([part.format(port=port) for part in command], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_listening(port, server)
        base = f"http://127.0.0.1:{port}/proxy/"
        answers = [requests.post(base + path, json=NOTIFICATION, headers=headers or {}, timeout=30, allow_redirects=False)
                   for path in (f"webhook/{SECRET}/", f"webhook%2F{SECRET}%2F")]
    finally:
        server.send_signal(signal.SIGINT)  # as Ctrl-C or systemd's stop: the server flushes what it wrote
        try:
            output, _ = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    return answers, output


def assert_logged_without_the_secret(answers, output):
    assert SECRET not in output, output
    assert SECRET[6:] not in output  # nor the secret's random part, however it is cut
    # The requests were logged (a test that found no log line at all would prove nothing), masked.
    assert [answer.status_code for answer in answers] == [200, 200], [answer.text for answer in answers]
    logged = [line for line in output.splitlines() if "/proxy/webhook/…" in line]
    assert len(logged) == 2 and all("POST" in line and "200" in line for line in logged), output


@pytest.mark.parametrize("command", [
    ["{python}", "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
    ["{python}", "-m", "proxy.server", "-p", "{port}", "hostkit.asgi:application"],
], ids=["runserver", "proxy.server"])
def test_the_development_servers_log_the_webhook_without_its_secret(tmp_path, command):
    answers, output = serve([part.replace("{python}", sys.executable) for part in command], development_env(tmp_path))
    assert_logged_without_the_secret(answers, output)


def test_the_production_command_logs_the_webhook_without_its_secret(tmp_path):
    env = production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL="", CACHE_URL="locmemcache://",
                         STATIC_ROOT=str(tmp_path / "static"), CYCLR_WEBHOOK_SECRET=SECRET, PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "proxy.server", "-b", "127.0.0.1", "-p", "{port}", "--proxy-headers",
               "hostkit.asgi:application"]
    answers, output = serve(command, env, headers={**BEHIND_HTTPS, "X-Forwarded-For": "203.0.113.7"})
    assert_logged_without_the_secret(answers, output)
    assert "203.0.113.7" in output  # --proxy-headers: the caller's address, as README says
