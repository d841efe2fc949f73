"""``manage.py proxy_doctor`` (``proxy.doctor``): each check against a fake Cyclr over real HTTP.

The fake's knobs give each shape Cyclr's pages disagree on (``account_ids``: which id the mint's AccountId and
the account resource's Id hold; ``account_header``: which id ``X-Cyclr-Account`` must hold): the doctor must
name each one and what to set. Framing headers are parsed in unit tests, and read from a real HTTP answer.
"""
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from proxy import doctor
from proxy.cyclr import CyclrClient
from proxy.doctor import framing_verdict, probe_framing, run_checks
from proxy.testing.fake_cyclr import FakeCyclr

ROOT = Path(__file__).resolve().parent.parent
HOST = "http://localhost:8000"
ACCOUNT = "acme-42"


def proxy_for(fake, **overrides):
    values = {
        "API_URL": fake.url, "CLIENT_ID": fake.state.client_id, "CLIENT_SECRET": fake.state.client_secret,
        "MARKETPLACE_ID": 1, "MARKETPLACE_ORIGINS": [fake.origin], "HOST_ORIGINS": [HOST],
    }
    values.update(overrides)
    return values


@pytest.fixture
def fake(request):
    options = getattr(request, "param", {})
    CyclrClient.forget_tokens()
    with FakeCyclr(client_secret="doctor-client-secret-0123", **options) as running:
        with override_settings(CYCLR_PROXY=proxy_for(running), ALLOWED_HOSTS=["localhost"],
                               CSRF_TRUSTED_ORIGINS=[HOST]):
            yield running
    CyclrClient.forget_tokens()


def statuses(report):
    return {check.id: check.status for check in report.checks}


def run_command(*args):
    """``call_command("proxy_doctor", ...)``: (exit status, stdout)."""
    out = io.StringIO()
    try:
        call_command("proxy_doctor", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the whole run against the fake ---------------------------------------------------------------------


def test_a_well_configured_site_passes_every_check(fake):
    report = run_checks(ACCOUNT)
    assert report.ok
    assert [c.id for c in report.checks] == list(doctor.CHECK_IDS)
    assert statuses(report) == {
        "account": "ok", "settings": "ok", "token": "ok",
        "marketplace_url": "warning",  # the account was new: Cyclr (the fake) created it
        "account_id": "ok", "account_header": "ok", "marketplace_origins": "ok",
        "allowed_hosts": "ok", "csrf_trusted_origins": "ok", "framing": "ok",
    }
    assert "created" in report.get("marketplace_url").message
    # Two URLs minted (one left unused, one spent on the framing request), for the account named, never another.
    assert [r["account_api_id"] for r in fake.marketplace_requests] == [ACCOUNT, ACCOUNT]
    assert {r["body"]["CompleteParameter"] for r in fake.marketplace_requests} == {"proxy-doctor"}


def test_an_existing_account_is_not_reported_as_created(fake):
    CyclrClient().mint_marketplace_url(ACCOUNT, marketplace_id=1, complete_parameter="setup")
    report = run_checks(ACCOUNT)
    assert report.get("marketplace_url").status == "ok"
    assert "created" not in report.get("marketplace_url").message
    assert set(fake.accounts) == {ACCOUNT}


@pytest.mark.parametrize("fake", [{"marketplace_url_ttl": 120}], indirect=True)
def test_a_url_that_expires_well_before_five_minutes_is_a_warning_naming_the_clock(fake):
    CyclrClient().mint_marketplace_url(ACCOUNT, marketplace_id=1, complete_parameter="setup")  # not a new account
    check = run_checks(ACCOUNT).get("marketplace_url")
    assert check.status == "warning"
    assert "ExpiresAtUtc" in check.message
    assert re.search(r"is 11[89] s from now .* offered 5[89] s\.", check.message)  # 120 s, a minute kept back
    assert "clock" in check.fix


@pytest.mark.parametrize("fake", [{"marketplace_url_ttl": 30}], indirect=True)
def test_a_url_with_no_time_for_a_premint_says_every_click_mints(fake):
    check = run_checks(ACCOUNT).get("marketplace_url")
    assert check.status == "warning" and "created" in check.message  # the new account's finding stays
    assert "none: every click mints" in check.message and "clock" in check.fix


# (account_ids, account_header) -> (account_id says, account_header status, fix names)
SHAPES = {
    ("api", "api_id"): ("API id", "ok", None),
    ("api", "id"): ("API id", "fail", None),  # no GUID anywhere to try: the doctor says so, and fails
    ("api", "either"): ("API id", "ok", None),
    ("guid", "api_id"): ("GUID", "ok", None),
    ("guid", "id"): ("GUID", "fail", '"id"'),
    ("guid", "either"): ("GUID", "ok", None),
}


@pytest.mark.parametrize("fake", [{"account_ids": ids, "account_header": header} for ids, header in SHAPES],
                         ids=[f"{ids}-{header}" for ids, header in SHAPES], indirect=True)
def test_which_id_cyclr_answers_and_takes_is_reported(fake):
    says, header_status, fix = SHAPES[(fake.account_ids, fake.account_header)]
    report = run_checks(ACCOUNT)
    account_id = report.get("account_id")
    header = report.get("account_header")
    assert account_id.status == "ok"
    assert f"AccountId holds {'the account' if says == 'API id' else 'a GUID'}" in account_id.message
    assert header.status == header_status, header
    assert report.ok is (header_status == "ok")
    if fake.account_ids == "api":
        assert "no GUID was found" in header.message
    elif fake.account_header == "either":
        assert "the API id and the GUID" in header.message
    elif fake.account_header == "api_id":
        assert "refuses the GUID" in header.message
    if fix:
        assert header.fix == f'Set CYCLR_PROXY["ACCOUNT_HEADER"] = {fix}.'
        assert "refuses X-Cyclr-Account with the API id (HTTP 404) and accepts the GUID" in header.message
    if header_status == "fail" and not fix:
        assert '"id"' in header.fix and "Accounts" in header.fix


@pytest.mark.parametrize("fake", [{"account_ids": "guid", "account_header": "id"}], indirect=True)
def test_a_site_set_to_the_guid_passes_where_cyclr_takes_only_the_guid(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, ACCOUNT_HEADER="id")):
        report = run_checks(ACCOUNT)
    assert report.get("account_header").status == "ok"
    assert report.ok


@pytest.mark.parametrize("fake", [{"account_ids": "api", "account_header": "api_id"}], indirect=True)
def test_a_site_set_to_the_guid_fails_where_cyclr_takes_only_the_api_id(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, ACCOUNT_HEADER="id")):
        report = run_checks(ACCOUNT)
    header = report.get("account_header")
    assert header.status == "fail"
    assert header.fix == 'Set CYCLR_PROXY["ACCOUNT_HEADER"] = "api_id" (the default, as Cyclr\'s current docs say).'


def test_a_marketplace_origin_missing_from_the_settings_is_named_exactly(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, MARKETPLACE_ORIGINS=["https://acme-h.cyclr.com"])):
        report = run_checks(ACCOUNT)
    check = report.get("marketplace_origins")
    assert check.status == "fail" and not report.ok
    assert check.fix == f'Add "{fake.origin}" to CYCLR_PROXY["MARKETPLACE_ORIGINS"].'


def test_host_origins_missing_from_allowed_hosts_and_csrf_trusted_origins(fake):
    origins = [HOST, "https://app.example.com", "https://shop.example.org:8443"]
    with override_settings(CYCLR_PROXY=proxy_for(fake, HOST_ORIGINS=origins),
                           ALLOWED_HOSTS=["localhost", ".example.com"], CSRF_TRUSTED_ORIGINS=[HOST]):
        report = run_checks(ACCOUNT)
    hosts, csrf = report.get("allowed_hosts"), report.get("csrf_trusted_origins")
    assert hosts.status == "fail"
    assert hosts.fix == 'Add "shop.example.org" to ALLOWED_HOSTS.'  # ALLOWED_HOSTS has no ports
    assert csrf.status == "warning" and report.ok is False
    assert csrf.fix == 'Add "https://app.example.com", "https://shop.example.org:8443" to CSRF_TRUSTED_ORIGINS.'


def test_host_origins_that_are_not_origins_are_a_failure_not_a_traceback(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, HOST_ORIGINS=["https://app.example.com/"])):
        report = run_checks(ACCOUNT)
    assert report.get("allowed_hosts").status == "fail"
    assert "not exact origins" in report.get("allowed_hosts").message
    assert report.get("framing").status == "skipped"


def test_the_fakes_marketplace_may_be_framed_and_third_party_cookies_are_mentioned(fake):
    framing = run_checks(ACCOUNT).get("framing")
    assert framing.status == "ok"
    assert "may be framed" in framing.message
    assert "third-party cookies" in framing.message and "docs/framing.md" in framing.message
    assert "HTTP 302" in framing.message  # the sign-in's own answer, read without following it


@pytest.mark.parametrize("fake", [{"refuse_framing": True}], indirect=True)
def test_a_marketplace_that_refuses_frames_is_a_failure_naming_what_to_enable(fake):
    # The fake as an account without iframe embedding: X-Frame-Options DENY, frame-ancestors 'none'.
    report = run_checks(ACCOUNT)
    framing = report.get("framing")
    assert framing.status == "fail" and not report.ok
    assert "refuses to be framed" in framing.message and "iframe" in framing.fix.lower()


def test_a_plain_http_host_other_than_localhost_is_warned_about_for_framing(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, HOST_ORIGINS=["http://app.example.com"]),
                           ALLOWED_HOSTS=["app.example.com"], CSRF_TRUSTED_ORIGINS=["http://app.example.com"]):
        report = run_checks(ACCOUNT)
    assert report.get("framing").status == "warning"
    assert "HTTPS" in report.get("framing").message
    assert report.ok


# --- bad input: a sentence and exit status 1, never a traceback ----------------------------------------------


def test_wrong_credentials(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, CLIENT_SECRET="not-the-secret-9876")):
        status, out = run_command("--account", ACCOUNT)
    assert status == 1
    assert "[FAIL] token: Cyclr refused the client credentials" in out
    assert "OAuth Client Credentials" in out
    assert "not-the-secret-9876" not in out and "Traceback" not in out
    assert "[skip] marketplace_url" in out
    assert fake.marketplace_requests == []


def test_unknown_marketplace(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, MARKETPLACE_ID=77)):
        status, out = run_command("--account", ACCOUNT)
    assert status == 1
    assert "[FAIL] marketplace_url: Cyclr does not know Marketplace 77" in out
    assert 'fix: Set CYCLR_PROXY["MARKETPLACE_ID"]' in out


def test_unreachable_api_url(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, API_URL=f"http://127.0.0.1:{free_port()}")):
        status, out = run_command("--account", ACCOUNT)
    assert status == 1
    assert "could not be reached" in out and 'Check CYCLR_PROXY["API_URL"]' in out


@pytest.mark.parametrize("api_url", ["", "ftp://api.cyclr.com", "api.cyclr.com", "https://"])
def test_api_url_empty_or_not_http(fake, api_url):
    with override_settings(CYCLR_PROXY=proxy_for(fake, API_URL=api_url)):
        status, out = run_command("--account", ACCOUNT, "--json")
    assert status == 1
    checks = {c["id"]: c for c in json.loads(out)["checks"]}
    assert checks["settings"]["status"] == "fail"
    assert "API_URL" in checks["settings"]["message"] and "https://api.eu.cyclr.com" in checks["settings"]["fix"]
    assert checks["token"]["status"] == "skipped"
    assert fake.api_calls == [] and fake.token_requests == 0


def test_missing_account(fake):
    status, out = run_command()
    assert status == 1
    assert "[FAIL] account: Name the Cyclr account to check with --account API_ID" in out
    assert "Cyclr creates an account for an API id it does not know" in out
    assert fake.token_requests == 0 and fake.marketplace_requests == []


@pytest.mark.parametrize("account, words", [
    ("x" * 256, "256 characters long"),
    ("   ", "Name the Cyclr account"),
    (" acme", "spaces at its ends"),
    ("acme\n1", "control characters"),
])
def test_unusable_account_ids(fake, account, words):
    status, out = run_command("--account", account)
    assert status == 1 and words in out
    assert fake.marketplace_requests == [] and fake.accounts == {}


def test_an_account_id_of_255_characters_is_accepted(fake):
    report = run_checks("x" * 255)
    assert report.get("account").status == "ok"
    assert report.get("marketplace_url").status == "warning"


# --- output: the two forms, the exit status, and no secret -------------------------------------------------


def test_human_output_is_one_line_per_check_with_the_fix_indented(fake):
    with override_settings(CYCLR_PROXY=proxy_for(fake, MARKETPLACE_ORIGINS=["https://acme-h.cyclr.com"])):
        status, out = run_command("--account", ACCOUNT)
    assert status == 1
    lines = out.splitlines()
    assert "creates that account in Cyclr" in lines[0]
    marks = [line for line in lines if line.startswith(("[ ok ]", "[warn]", "[FAIL]", "[skip]"))]
    assert [m[7:].split(":")[0] for m in marks] == list(doctor.CHECK_IDS)
    failed = lines.index(next(line for line in lines if line.startswith("[FAIL] marketplace_origins")))
    assert lines[failed + 1] == f'       fix: Add "{fake.origin}" to CYCLR_PROXY["MARKETPLACE_ORIGINS"].'
    assert lines[-1] == "1 failed, 1 warning(s): fix the failures above."


def test_json_output_and_exit_status_zero(fake):
    status, out = run_command("--account", ACCOUNT, "--json")
    assert status == 0
    data = json.loads(out)
    assert data["ok"] is True
    assert [c["id"] for c in data["checks"]] == list(doctor.CHECK_IDS)
    assert all(set(c) == {"id", "status", "message", "fix"} for c in data["checks"])
    assert {c["status"] for c in data["checks"]} <= set(doctor.STATUSES)


@pytest.mark.parametrize("fake", [{"account_ids": "guid", "account_header": "id"}], indirect=True)
def test_no_output_carries_a_secret_a_token_or_a_minted_url(fake):
    report = run_checks(ACCOUNT)
    outputs = [doctor.render_text(report), json.dumps(report.as_dict())]
    status, command_out = run_command("--account", ACCOUNT)
    status_json, command_json = run_command("--account", ACCOUNT, "--json")
    outputs += [command_out, command_json]
    assert len(fake.marketplace_requests) == 3 * 2  # each run minted two URLs (the mint check, the framing probe)
    # What the fake gave out: access tokens, and each minted URL's sign-in token (a URL carrying it is caught too).
    secrets = ["doctor-client-secret-0123", *fake.issued_tokens]
    assert len(secrets) > 1 + 3 * 2
    for output in outputs:
        for secret in secrets:
            assert secret not in output
        assert "token=" not in output and "returnUrl" not in output
    assert "/account/signinwithtoken" in outputs[0]  # the path is shown, its query never


def test_a_failure_message_that_quotes_a_secret_is_scrubbed():
    report = doctor.Report()
    report.keep_secret("s3cr3t-value", "https://x.test/a?token=abc123def")
    report.add("token", "fail", "Cyclr said s3cr3t-value at https://x.test/a?token=abc123def", "")
    assert report.checks[0].message == "Cyclr said [hidden] at [hidden]"


def test_the_command_line_exit_status(fake, tmp_path):
    """The real ``django-admin`` process: 0 when every check passes, 1 with a sentence otherwise."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT),
           "CYCLR_API_URL": fake.url, "CYCLR_CLIENT_ID": fake.state.client_id,
           "CYCLR_CLIENT_SECRET": fake.state.client_secret, "TEST_DATABASE_FILE": str(tmp_path / "db.sqlite3")}
    command = [sys.executable, "-m", "django", "proxy_doctor", "--skip-checks"]
    passed = subprocess.run([*command, "--account", ACCOUNT, "--json"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert json.loads(passed.stdout)["ok"] is True
    missing = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert "--account API_ID" in missing.stdout and "Traceback" not in missing.stdout + missing.stderr
    wrong = subprocess.run([*command, "--account", ACCOUNT], env={**env, "CYCLR_CLIENT_SECRET": "wrong-secret-77"},
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1
    assert "Cyclr refused the client credentials" in wrong.stdout
    assert "Traceback" not in wrong.stdout + wrong.stderr and "wrong-secret-77" not in wrong.stdout + wrong.stderr


def test_the_help_warns_that_an_unknown_account_is_created():
    out = io.StringIO()
    from proxy.management.commands.proxy_doctor import Command
    Command(stdout=out).create_parser("manage.py", "proxy_doctor").print_help(out)
    assert "CREATES that account" in " ".join(out.getvalue().split())


# --- framing: the headers of the Marketplace's first answer ---------------------------------------------------

MARKETPLACE = "https://acme-h.cyclr.com"
APP = "https://app.example.com"


@pytest.mark.parametrize("xfo, csp, hosts, allowed", [
    ([], [], [APP], True),
    (["DENY"], [], [APP], False),
    (["deny"], [], [APP], False),
    (["SAMEORIGIN"], [], [APP], False),
    (["SAMEORIGIN"], [], [MARKETPLACE], True),
    (["DENY, SAMEORIGIN"], [], [APP], False),  # conflicting values block
    (["DENY", "DENY"], [], [APP], False),
    (["ALLOW-FROM https://app.example.com"], [], [APP], True),  # obsolete: browsers ignore it
    ([], ["frame-ancestors 'none'"], [APP], False),
    ([], ["default-src 'self'; frame-ancestors https://app.example.com"], [APP], True),
    ([], ["frame-ancestors https://app.example.com"], [APP, "https://other.example.com"], False),
    ([], ["frame-ancestors *"], [APP, "http://localhost:8000"], True),
    ([], ["frame-ancestors https:"], [APP], True),
    ([], ["frame-ancestors https:"], ["http://localhost:8000"], False),
    ([], ["frame-ancestors https://*.example.com"], [APP], True),
    ([], ["frame-ancestors https://*.example.com"], ["https://example.com"], False),
    ([], ["frame-ancestors https://app.example.com"], ["https://app.example.com:8443"], False),
    ([], ["frame-ancestors https://app.example.com:8443"], ["https://app.example.com:8443"], True),
    ([], ["frame-ancestors https://app.example.com:*"], ["https://app.example.com:8443"], True),
    ([], ["frame-ancestors app.example.com"], [APP], True),  # no scheme: the Marketplace's own (https)
    ([], ["frame-ancestors http://app.example.com"], [APP], True),  # http admits its https upgrade
    ([], ["frame-ancestors 'self'"], [APP], False),
    ([], ["frame-ancestors 'self'"], [MARKETPLACE], True),
    ([], ["frame-ancestors"], [APP], False),  # an empty list admits nothing
    (["DENY"], ["frame-ancestors https://app.example.com"], [APP], True),  # frame-ancestors wins over XFO
    ([], ["frame-ancestors *, frame-ancestors 'none'"], [APP], False),  # two policies: both must allow
    ([], ["frame-ancestors *", "frame-ancestors 'none'"], [APP], False),
    ([], ["script-src 'self'"], [APP], True),
])
def test_framing_verdict(xfo, csp, hosts, allowed):
    verdict, reason = framing_verdict(xfo, csp, hosts, MARKETPLACE)
    assert verdict is allowed, reason
    if not allowed and csp and any("frame-ancestors" in value for value in csp) and len(hosts) > 1:
        assert "https://other.example.com" in reason


class _Refusing(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)  # before answering, so the client never sees it unrecorded
        self.send_response(302)
        self.send_header("Location", "/launch/marketplace/1")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", "frame-ancestors 'none'")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_probe_framing_reads_a_real_answer_without_following_it(refusing_server):
    url = f"http://127.0.0.1:{refusing_server.server_address[1]}/account/signinwithtoken?token=t0k3n"
    allowed, reason, status = probe_framing(url, [APP])
    assert (allowed, status) == (False, 302)
    assert "frame-ancestors 'none'" in reason
    assert refusing_server.paths == ["/account/signinwithtoken?token=t0k3n"]  # once, and not the redirect


def test_probe_framing_of_an_unreachable_marketplace_names_no_url():
    url = f"http://127.0.0.1:{free_port()}/account/signinwithtoken?token=t0k3n"
    allowed, reason, status = probe_framing(url, [APP])
    assert allowed is None and status is None
    assert "t0k3n" not in reason and "could not be reached" in reason


@pytest.mark.parametrize("allowed_hosts, debug, origin, refused", [
    (["localhost"], False, "http://localhost:8000", False),
    (["app.example.com"], False, "https://app.example.com:8443", False),
    ([".example.com"], False, "https://shop.example.com", False),
    (["*"], False, "https://anything.test", False),
    (["app.example.com"], False, "https://example.com", True),
    ([], True, "http://localhost:8000", False),  # DEBUG with no ALLOWED_HOSTS admits localhost, as Django does
    ([], False, "http://localhost:8000", True),
    (["[::1]"], False, "http://[::1]:8000", False),
])
def test_allowed_hosts_follow_djangos_rules(allowed_hosts, debug, origin, refused):
    with override_settings(ALLOWED_HOSTS=allowed_hosts, DEBUG=debug):
        assert bool(doctor.allowed_hosts_findings([origin])) is refused


@pytest.mark.parametrize("trusted, origin, ok", [
    (["https://app.example.com"], "https://app.example.com", True),
    (["https://*.example.com"], "https://app.example.com", True),
    (["http://*.example.com"], "https://app.example.com", False),
    (["https://app.example.com"], "https://app.example.com:8443", False),
    ([], "https://app.example.com", False),
])
def test_csrf_trusted_origins_follow_djangos_rules(trusted, origin, ok):
    with override_settings(CSRF_TRUSTED_ORIGINS=trusted):
        assert doctor.csrf_trusted(origin) is ok


@pytest.mark.parametrize("fake", [{"refuse_framing": True}], indirect=True)
@pytest.mark.parametrize("framing_required, status", [(True, "fail"), (False, "warning")])
def test_a_marketplace_that_refuses_framing_is_reported_with_what_to_do(fake, framing_required, status):
    report = run_checks(ACCOUNT, framing_required=framing_required)
    framing = report.get("framing")
    assert framing.status == status and report.ok is not framing_required
    assert framing.message.startswith("The Marketplace refuses to be framed by this site: Content-Security-Policy "
                                      "frame-ancestors 'none' does not include http://localhost:8000")
    assert "Settings > General Settings" in framing.fix and "Host Source Whitelist" in framing.fix
    assert "mode=redirect/direct" in framing.fix and "docs/framing.md" in framing.fix
    assert "token=[hidden]" not in framing.message
    assert "token=" not in framing.message + framing.fix


def test_an_api_id_that_is_itself_a_guid_is_not_tried_twice(fake):
    api_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    report = run_checks(api_id)
    assert report.get("account_id").message.startswith("The mint answer's AccountId holds the account's API id")
    assert report.get("account_header").status == "ok"
    assert [call for call in fake.api_calls if call == ("GET", "/v1.0/cycles")] == [("GET", "/v1.0/cycles")]
