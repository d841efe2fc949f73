"""The HTTP views through Django's test client, with the fake Cyclr as a real HTTP service."""
import html
import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from unittest import mock
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import proxy
from proxy import errors
from proxy.conf import proxy_settings
from proxy.launches import unsign_launch_id
from proxy.models import Arrival, Launch
from proxy.testing.marketplace import install_over_http

pytestmark = pytest.mark.django_db(transaction=True)

LAUNCH_URL = reverse("proxy:launch")
UNKNOWN_LAUNCH = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


class Tags(HTMLParser):
    """Every start tag of a page as (name, attributes)."""

    def __init__(self, html):
        super().__init__()
        self.tags = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, name):
        return [attrs for tag, attrs in self.tags if tag == name]


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def login_redirect(path):
    return f"{resolve_url(settings.LOGIN_URL)}?next={quote(path)}"


def csp_directives(response):
    return {d.split()[0]: d.split()[1:] for d in response["Content-Security-Policy"].split("; ")}


def result_body(data, message_id="m1"):
    return json.dumps({"type": "result", "id": message_id, "result": data})


def post_result(client, launch, body, **extra):
    return client.post(reverse("proxy:result", args=[launch.pk]), body, content_type="application/json", **extra)


def assert_nothing_written(launch):
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING
    assert launch.result_raw is None and launch.result is None
    assert not Arrival.objects.filter(launch=launch).exists()


# --- proxy:launch ------------------------------------------------------------------------------------


def test_launch_requires_login(cyclr):
    response = Client().get(LAUNCH_URL)
    assert response.status_code == 302
    assert response["Location"] == login_redirect(LAUNCH_URL)
    assert not Launch.objects.exists() and cyclr.marketplace_requests == []


def test_launch_renders_the_proxy_page_framing_the_minted_url(cyclr, user):
    response = logged_in(user).get(LAUNCH_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")

    (launch,) = Launch.objects.all()
    assert launch.user == user and launch.status == Launch.Status.PENDING
    assert launch.mode == Launch.Mode.POPUP and launch.marketplace_id == 1
    account = cyclr.accounts[f"user-{user.pk}"]
    assert launch.account_api_id == f"user-{user.pk}"
    # The mint's AccountId is the API id (Deploy Marketplace): no GUID is learned from it.
    assert launch.cyclr_account_id == "" and account["ApiId"] == launch.account_api_id
    assert launch.marketplace_origin == cyclr.origin
    assert launch.expires_at - launch.created_at == timedelta(seconds=600)

    (minted,) = cyclr.marketplace_requests
    assert minted["body"]["InlineOAuth"] is False
    assert unsign_launch_id(minted["body"]["CompleteParameter"]) == launch.pk

    (frame,) = Tags(response.content.decode()).all("iframe")
    assert frame["id"] == "proxy-frame" and frame["referrerpolicy"] == "no-referrer"
    # proxy.js sets src from data-src once its listener is in place, so no result can arrive before it.
    assert "src" not in frame
    src = frame["data-src"]
    assert src.startswith(cyclr.url + "/account/signinwithtoken?token=")
    # It is the real minted URL: the fake Marketplace accepts it and installs into this account.
    result = install_over_http(src)
    assert result["accountId"] == account["Id"]


# The kit's templates (where the package is installed), the example host's and the tests' own.
TEMPLATE_DIRS = [Path(proxy.__file__).resolve().parent / "templates", Path(__file__).resolve().parents[1] / "templates",
                 Path(__file__).resolve().parent / "templates"]


def test_no_template_comment_spans_lines():
    """Django's ``{# #}`` is a one-line comment: one that spans lines is not a comment, and the page shows it as text
    (the proxy page's head and header showed two). A comment of several lines is ``{% comment %}``."""
    spanning = []
    for folder in TEMPLATE_DIRS:
        for path in sorted(folder.rglob("*.html")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                opened, closed = line.count("{#"), line.count("#}")
                if opened != closed:
                    spanning.append(f"{path.relative_to(folder.parent)}:{number}")
    assert spanning == []


def test_the_proxy_page_shows_no_template_source(cyclr, user):
    page = logged_in(user).get(LAUNCH_URL).content.decode()
    for template_syntax in ("{#", "#}", "{%", "%}", "{{", "}}"):
        assert template_syntax not in page


def test_launch_sends_a_nonced_csp_framing_only_the_marketplace(cyclr, user):
    response = logged_in(user).get(LAUNCH_URL)
    csp = csp_directives(response)
    assert csp["frame-src"] == [cyclr.origin]
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'self'"]
    (script_source,) = csp["script-src"]
    nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_-]{16,})'", script_source).group(1)
    assert csp["style-src"] == [f"'nonce-{nonce}'"]

    tags = Tags(response.content.decode())
    runnable = [s for s in tags.all("script") if s.get("type") != "application/json"]
    assert runnable, "the proxy page runs proxy.js"
    assert all(s.get("nonce") == nonce for s in runnable)
    assert all(s.get("nonce") == nonce for s in tags.all("style"))
    assert any(s.get("src", "").endswith("proxy/js/proxy.min.js") for s in runnable)
    assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)  # no inline handlers

    again = csp_directives(logged_in(user).get(LAUNCH_URL))
    assert again["script-src"] != csp["script-src"]  # a fresh nonce per page


@pytest.mark.parametrize("secure, host, socket_origin", [
    (False, "testserver", "ws://testserver"),
    (True, "testserver", "wss://testserver"),
    (False, "localhost:8000", "ws://localhost:8000"),
])
def test_the_proxy_pages_csp_connects_only_to_its_own_sockets_origin(cyclr, user, settings, secure, host, socket_origin):
    """``connect-src`` names this page's own socket origin (its host, ws or wss as its scheme), never ``ws:``/``wss:``."""
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    response = logged_in(user).get(LAUNCH_URL, secure=secure, HTTP_HOST=host)
    assert response.status_code == 200
    assert csp_directives(response)["connect-src"] == ["'self'", socket_origin]


def test_launch_sets_the_privacy_and_caching_headers(cyclr, user):
    response = logged_in(user).get(LAUNCH_URL)
    # Never a Referer to another origin; to its own, so that its top-level control's form POST carries a real
    # Origin for the CSRF check (under no-referrer it would be "null": docs/framing.md).
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "must-revalidate", "private", "max-age=0"} <= cache_control
    assert response.has_header("Expires")


def test_launch_page_config_names_this_launch_and_its_urls(cyclr, user):
    response = logged_in(user).get(LAUNCH_URL + "?mode=inline")
    (launch,) = Launch.objects.all()
    assert launch.mode == Launch.Mode.INLINE
    config = json.loads(re.search(r'<script id="proxy-config" type="application/json">(.*?)</script>',
                                  response.content.decode(), re.S).group(1))
    assert config["launch"] == str(launch.pk)
    assert config["mode"] == "inline"
    assert config["marketplaceOrigins"] == [cyclr.origin]
    assert config["hostOrigins"] == list(proxy_settings.HOST_ORIGINS)  # the page says so on any other
    assert config["socketPath"] == f"/ws/proxy/launches/{launch.pk}/"
    assert config["resultUrl"] == reverse("proxy:result", args=[launch.pk])
    assert config["statusUrl"] == reverse("proxy:status", args=[launch.pk])
    assert config["maxResultBytes"] == 64 * 1024
    assert config["csrfToken"]


def test_launch_opens_another_marketplace_by_id(cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_IDS": [2]}
    assert logged_in(user).get(LAUNCH_URL + "?marketplace=2").status_code == 200
    assert Launch.objects.get().marketplace_id == 2
    assert cyclr.marketplace_requests[0]["body"]["MarketplaceId"] == 2


def test_each_load_is_a_new_launch(cyclr, user):
    client = logged_in(user)
    client.get(LAUNCH_URL)
    client.get(LAUNCH_URL)
    assert Launch.objects.filter(user=user, status=Launch.Status.PENDING).count() == 2
    assert len(cyclr.marketplace_requests) == 2


def test_an_unknown_mode_is_a_400_sentence(cyclr, user):
    response = logged_in(user).get(LAUNCH_URL + "?mode=bogus")
    assert response.status_code == 400
    text = response.content.decode()
    assert "Mode &#x27;bogus&#x27; is not supported here; use one of: popup, inline, redirect, direct." in text
    assert not Launch.objects.exists() and cyclr.marketplace_requests == []


def test_a_mode_is_escaped_in_the_error_page(cyclr, user):
    response = logged_in(user).get(LAUNCH_URL, {"mode": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert b"<script>alert(1)</script>" not in response.content


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "0x1", "0", "1 ", "1234567890", "\u00b2", "\u0661"])
def test_a_marketplace_that_is_not_a_number_is_a_400(cyclr, user, value):
    response = logged_in(user).get(LAUNCH_URL, {"marketplace": value})
    assert response.status_code == 400
    assert "The marketplace parameter must be a Marketplace id (a number)." in response.content.decode()
    assert not Launch.objects.exists() and cyclr.marketplace_requests == []


def launch_error(response):
    """The error page's sentence and its ``data-code``."""
    (error,) = [p for p in Tags(response.content.decode()).all("p") if p.get("id") == "launch-error"]
    text = re.search(r'<p id="launch-error"[^>]*>([^<]*)</p>', response.content.decode()).group(1)
    return error["data-code"], html.unescape(text)


@pytest.mark.parametrize("value", ["2", "99"])
def test_a_marketplace_off_the_allow_list_is_a_400_page_before_any_cyclr_call(cyclr, user, value):
    response = logged_in(user).get(LAUNCH_URL, {"marketplace": value})
    assert response.status_code == 400
    assert "<title>This Marketplace is not offered here" in response.content.decode()
    assert launch_error(response) == ("marketplace_not_offered",
                                      f"Marketplace {value} is not one this site offers. Start again from the site's Connect button.")
    assert not Launch.objects.exists() and cyclr.marketplace_requests == [] and cyclr.token_requests == 0


def test_the_default_marketplace_is_always_offered(cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_IDS": [2]}
    assert logged_in(user).get(LAUNCH_URL, {"marketplace": "1"}).status_code == 200
    assert Launch.objects.get().marketplace_id == 1


@pytest.mark.parametrize("query", [{"marketplace": "99"}, {}])
def test_a_marketplace_cyclr_does_not_know_is_a_page_for_the_admin_not_try_again(cyclr, user, settings, query):
    # Offered here (or the default) but unknown to Cyclr: a settings mistake that waiting will not fix.
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_ID": 99 if not query else 1, "MARKETPLACE_IDS": [99]}
    response = logged_in(user).get(LAUNCH_URL, query)
    assert response.status_code == 502
    code, text = launch_error(response)
    assert code == "marketplace_not_found"
    assert text == ("Cyclr does not know Marketplace 99. "
                    "Please tell the site's administrator: the Marketplace id in its settings is wrong.")
    assert "try again" not in text
    assert not Launch.objects.exists()


def test_cyclr_down_is_a_502_page_and_no_launch(cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "API_URL": "http://127.0.0.1:9", "API_TIMEOUT": (2, 2)}
    response = logged_in(user).get(LAUNCH_URL)
    assert response.status_code == 502
    (error,) = [p for p in Tags(response.content.decode()).all("p") if p.get("id") == "launch-error"]
    assert error["data-code"] == "cyclr_unreachable"
    assert "Close this window and try again in a minute." in response.content.decode()
    assert not Launch.objects.exists()


def test_a_marketplace_origin_missing_from_the_settings_is_refused_before_framing(cyclr, user, settings):
    # Framing a Marketplace whose results the page would refuse helps nobody: say so instead.
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_ORIGINS": ["https://acme-h.cyclr.com"]}
    response = logged_in(user).get(LAUNCH_URL)
    assert response.status_code == 500
    (error,) = [p for p in Tags(response.content.decode()).all("p") if p.get("id") == "launch-error"]
    assert error["data-code"] == "origin_not_allowed"
    assert "tell the site&#x27;s administrator" in response.content.decode()
    assert not Launch.objects.exists()


def told_scripts(response):
    """The nonce'd refusal.min.js the error page runs to tell the host page, as [(src, nonce ok)]."""
    nonce = csp_directives(response)["script-src"][0].removeprefix("'nonce-").rstrip("'")
    return [(t["src"].rsplit("/", 1)[1], t.get("nonce") == nonce) for t in Tags(response.content.decode()).all("script")
            if t.get("src")]


@pytest.mark.parametrize("overrides, code", [
    ({"MARKETPLACE_ORIGINS": ["https://acme-h.cyclr.com"]}, "origin_not_allowed"),
    ({"API_URL": "http://127.0.0.1:9", "API_TIMEOUT": (2, 2)}, "cyclr_unreachable"),
])
def test_a_refused_launch_tells_the_host_page_with_its_code(cyclr, user, settings, overrides, code):
    # No launch exists: only the error page can settle the host page's Hostkit.connect() (refusal.js posts
    # proxy.install.failed with the code in data-code and the sentence shown).
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, **overrides}
    response = logged_in(user).get(LAUNCH_URL)
    (error,) = [p for p in Tags(response.content.decode()).all("p") if p.get("id") == "launch-error"]
    assert error["data-code"] == code
    assert told_scripts(response) == [("refusal.min.js", True)]


@pytest.mark.parametrize("query", ["?marketplace=99", "?launch=nope", "?mode=popup&next=/elsewhere/"])
def test_each_coded_refusal_of_a_launch_tells_the_host_page(cyclr, user, query):
    response = logged_in(user).get(LAUNCH_URL + query)
    assert response.status_code == 400
    assert told_scripts(response) == [("refusal.min.js", True)]


def test_error_pages_of_other_views_do_not_tell_the_host_page_of_a_launch(cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_ORIGINS": ["https://acme-h.cyclr.com"]}
    # ORBIT is not a Hostkit.connect() window; a code-less refusal (a mode Hostkit never sends) has nothing to tell.
    for url in ("/proxy/orbit/", LAUNCH_URL + "?mode=bogus"):
        response = logged_in(user).get(url)
        assert response.status_code in (400, 500)
        assert told_scripts(response) == [], url


def test_redirect_mode_sends_the_window_to_the_marketplace_with_its_opener_cut(cyclr, user):
    response = logged_in(user).get(LAUNCH_URL + "?mode=redirect")
    assert response.status_code == 200
    (launch,) = Launch.objects.filter(user=user)
    assert launch.mode == Launch.Mode.REDIRECT
    (minted,) = cyclr.marketplace_requests
    assert minted["body"]["InlineOAuth"] is True  # top level: connector OAuth can run in place
    html = response.content.decode()
    config = json.loads(re.search(r'<script id="redirect-config" type="application/json">(.*?)</script>', html).group(1))
    assert config["url"].startswith(cyclr.url + "/account/signinwithtoken?token=")
    assert not Tags(html).all("iframe")
    nonce = csp_directives(response)["script-src"][0]
    assert [t["nonce"] for t in Tags(html).all("script") if t.get("src")] == [nonce.removeprefix("'nonce-").rstrip("'")]
    assert response["Referrer-Policy"] == "no-referrer"


def test_launch_is_get_only(cyclr, user):
    assert logged_in(user).post(LAUNCH_URL).status_code == 405
    assert not Launch.objects.exists()


# --- proxy:status ------------------------------------------------------------------------------------


def test_status_of_a_pending_launch_for_its_owner(launch_for, user):
    launch, _ = launch_for(user)
    response = logged_in(user).get(reverse("proxy:status", args=[launch.pk]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {
        "launch": str(launch.pk),
        "status": "pending",
        "result": None,
        "reason": None,
        "refusal": None,
        "created_at": launch.created_at.isoformat(),
        "expires_at": launch.expires_at.isoformat(),
        "completed_at": None,
    }


def test_status_of_a_completed_launch_carries_the_result(installed, user, settled):
    launch, data = installed()
    client = logged_in(user)
    post_result(client, launch, result_body(data))
    settled()
    body = client.get(reverse("proxy:status", args=[launch.pk])).json()
    assert body["status"] == "completed" and body["reason"] is None
    assert body["result"]["account_id"] == data["accountId"]
    assert [c["cycle_id"] for c in body["result"]["cycles"]] == [c["cycleId"] for c in data["cycles"]]
    assert body["completed_at"]


def test_status_of_a_launch_that_expired_while_pending_gives_the_registrys_reason(launch_for, user):
    # The host page shows the server's sentence for a verdict: it keeps none of its own.
    launch, _ = launch_for(user)
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = logged_in(user).get(reverse("proxy:status", args=[launch.pk])).json()
    assert body["status"] == "expired"
    assert body["reason"] == {"code": "expired", "message": errors.REGISTRY["expired"].message}


def test_status_is_404_for_another_user(launch_for, user, other_user):
    launch, _ = launch_for(user)
    response = logged_in(other_user).get(reverse("proxy:status", args=[launch.pk]))
    assert response.status_code == 404
    assert str(launch.pk).encode() not in response.content


def test_status_is_404_for_an_unknown_launch(user):
    assert logged_in(user).get(reverse("proxy:status", args=[UNKNOWN_LAUNCH])).status_code == 404


def test_status_requires_login(launch_for, user):
    launch, _ = launch_for(user)
    path = reverse("proxy:status", args=[launch.pk])
    response = Client().get(path)
    assert response.status_code == 302 and response["Location"] == login_redirect(path)


# --- proxy:result (HTTP fallback) --------------------------------------------------------------------


def test_result_without_a_csrf_token_is_403(installed, user):
    launch, data = installed()
    response = post_result(logged_in(user, enforce_csrf_checks=True), launch, result_body(data))
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed" and response.json()["terminal"] is True
    assert_nothing_written(launch)


def test_result_with_the_proxy_pages_csrf_token_is_accepted(installed, user, settled):
    launch, data = installed()
    client = logged_in(user, enforce_csrf_checks=True)
    page = client.get(LAUNCH_URL)  # the proxy page hands its script the token, as in the browser
    token = json.loads(re.search(r'<script id="proxy-config" type="application/json">(.*?)</script>',
                                 page.content.decode(), re.S).group(1))["csrfToken"]
    response = post_result(client, launch, result_body(data), headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.json()["status"] == "received"
    settled()


def test_result_with_a_wrong_csrf_token_is_403(installed, user):
    launch, data = installed()
    client = logged_in(user, enforce_csrf_checks=True)
    client.get(LAUNCH_URL)  # sets the CSRF cookie
    response = post_result(client, launch, result_body(data), headers={"X-CSRFToken": "x" * 64})
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert_nothing_written(launch)


def test_a_valid_result_is_acked_received_then_completes(installed, user, settled):
    launch, data = installed()
    response = post_result(logged_in(user), launch, result_body(data, "msg-1"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    ack = response.json()
    assert ack["type"] == "ack" and ack["id"] == "msg-1" and ack["launch"] == str(launch.pk)
    assert ack["status"] == "received" and ack["reason"] is None  # the server owns it; Cyclr is asked after
    assert ack["result"]["cycles"][0]["cycle_id"] == data["cycles"][0]["cycleId"]
    settled(launch)
    assert launch.status == Launch.Status.COMPLETED and launch.source == "http" and launch.result_raw == data
    assert list(Arrival.objects.values_list("source", "message_id", "duplicate")) == [("http", "msg-1", False)]


def test_a_repeated_result_is_acked_again_and_recorded_once(installed, user, settled):
    launch, data = installed()
    client = logged_in(user)
    first = post_result(client, launch, result_body(data, "m1"))
    settled()
    again = post_result(client, launch, result_body(data, "m1-retry"))
    assert first.status_code == again.status_code == 200
    # The repeat is answered with the launch's status now: verified.
    assert first.json()["status"] == "received"
    assert again.json()["id"] == "m1-retry" and again.json()["status"] == "completed"
    assert again.json()["result"]["cycles"][0]["cycle_id"] == first.json()["result"]["cycles"][0]["cycle_id"]
    assert Arrival.objects.filter(launch=launch, duplicate=False).count() == 1
    assert list(Arrival.objects.values_list("message_id", "duplicate")) == [("m1", False), ("m1-retry", True)]


def test_a_forged_cycle_is_acked_received_then_refused_and_the_genuine_result_completes(installed, user, settled):
    launch, data = installed()
    forged = {**data, "cycles": [{**data["cycles"][0], "cycleId": "00000000-0000-4000-8000-000000000000"}]}
    client = logged_in(user)
    ack = post_result(client, launch, result_body(forged)).json()
    assert ack["status"] == "received"
    settled()
    status = client.get(reverse("proxy:status", args=[launch.pk])).json()
    assert status["status"] == "pending" and status["reason"] is None and status["refusal"]["code"] == "unknown_cycle"
    again = post_result(client, launch, result_body(forged, "m2"))  # the same claim: refused at once
    assert again.status_code == 409 and again.json()["code"] == "claim_refused" and again.json()["terminal"] is True

    assert post_result(client, launch, result_body(data, "m3")).json()["status"] == "received"
    settled()
    status = client.get(reverse("proxy:status", args=[launch.pk])).json()
    assert status["status"] == "completed" and status["refusal"] is None


def test_status_reads_a_launch_and_its_last_refusal_in_one_statement(installed, user, settled):
    # A page polls proxy:status: the launch and the refusal of its last claim come from one query, not two.
    launch, data = installed()
    forged = {**data, "cycles": [{**data["cycles"][0], "cycleId": "00000000-0000-4000-8000-000000000000"}]}
    client = logged_in(user)
    post_result(client, launch, result_body(forged))
    settled()  # refused: unknown_cycle
    first = Arrival.objects.get(launch=launch)
    Arrival.objects.create(launch=launch, source="http", message_id="later", content_hash="other",
                           received_at=first.received_at + timedelta(seconds=1),
                           last_received_at=first.received_at + timedelta(seconds=1), refused_code="claim_mismatch")
    path = reverse("proxy:status", args=[launch.pk])

    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).json()

    assert len([q for q in queries if "proxy_" in q["sql"]]) == 1  # the session's and the user's are Django's
    assert status["status"] == "pending" and status["refusal"]["code"] == "claim_mismatch"  # the last one


def test_another_users_launch_is_403_forbidden(installed, other_user):
    launch, data = installed()
    response = post_result(logged_in(other_user), launch, result_body(data))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and response.json()["type"] == "error"
    assert response.json()["id"] == "m1"
    assert_nothing_written(launch)


def test_an_unknown_launch_is_404(cyclr, user):
    response = logged_in(user).post(reverse("proxy:result", args=[UNKNOWN_LAUNCH]),
                                    result_body({"accountId": "0f8fad5b-d9cb-469f-a165-70867728950e", "cycles": []}),
                                    content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert not Arrival.objects.exists()


@pytest.mark.parametrize("body", [
    "{not json",
    " ",  # (an empty body would go without a Content-Type: the test client sends none, and that is 415)
    "[]",
    json.dumps({"type": "hello", "id": "m1", "result": {}}),
    json.dumps({"type": "result", "result": {}}),
    json.dumps({"type": "result", "id": "x" * 65, "result": {}}),
    json.dumps({"type": "result", "id": "\udfff", "result": {}}),  # an unpaired surrogate: no database stores it
    json.dumps({"type": "result", "id": "m1", "result": {"accountId": "\x00"}}),  # nor a NUL (PostgreSQL)
])
def test_a_malformed_message_is_400_malformed(installed, user, body):
    launch, _ = installed()
    response = post_result(logged_in(user), launch, body)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["code"] == "malformed" and error["message"]
    assert_nothing_written(launch)


def test_a_too_large_body_is_413(installed, user):
    launch, data = installed()
    body = result_body(data, "m1")
    body = body[:-1] + " " * (64 * 1024 - len(body) + 1) + "}"  # valid JSON, one byte over
    assert len(body.encode()) == 64 * 1024 + 1
    response = post_result(logged_in(user), launch, body)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert_nothing_written(launch)


def test_a_body_past_djangos_upload_limit_is_413_too(installed, user, settings):
    # Past DATA_UPLOAD_MAX_MEMORY_SIZE Django refuses to read the body at all: the answer must
    # still be the JSON error frame the proxy page understands.
    launch, data = installed()
    body = result_body(data, "m1")
    body = body[:-1] + " " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + "}"
    response = post_result(logged_in(user), launch, body)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert_nothing_written(launch)


def test_a_body_at_the_limit_is_taken(installed, user):
    launch, data = installed()
    body = result_body(data, "m1")
    body = body[:-1] + " " * (64 * 1024 - len(body)) + "}"
    assert len(body.encode()) == 64 * 1024
    assert post_result(logged_in(user), launch, body).status_code == 200


def test_an_invalid_result_is_400_invalid_result_with_detail(installed, user):
    launch, data = installed()
    response = post_result(logged_in(user), launch, result_body({**data, "accountId": "not\ta-guid"}))
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid_result" and error["detail"] == "invalid_value"
    assert "accountId" in error["message"]
    assert_nothing_written(launch)


def test_a_result_that_is_not_an_object_is_400_invalid_result(installed, user):
    launch, _ = installed()
    response = post_result(logged_in(user), launch, json.dumps({"type": "result", "id": "m1", "result": "yes"}))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_result" and response.json()["detail"] == "not_an_object"
    assert_nothing_written(launch)


def test_an_expired_launch_is_410(installed, user):
    launch, data = installed()
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post_result(logged_in(user), launch, result_body(data))
    assert response.status_code == 410
    assert response.json()["code"] == "expired"
    assert_nothing_written(launch)


def test_a_conflicting_second_result_is_409(installed, user, settled):
    launch, data = installed()
    client = logged_in(user)
    assert post_result(client, launch, result_body(data)).status_code == 200
    settled()
    forged = {**data, "cycles": [{**data["cycles"][0], "cycleId": "00000000-0000-4000-8000-000000000000"}]}
    response = post_result(client, launch, result_body(forged, "m2"))
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and response.json()["id"] == "m2"
    launch.refresh_from_db()
    assert launch.result_raw == data and launch.status == Launch.Status.COMPLETED
    assert Arrival.objects.filter(launch=launch).count() == 1


def test_result_requires_login(installed):
    # The page that posts is a script: it gets the kit's JSON, with the registry's sentence, not the login page.
    launch, data = installed()
    response = Client().post(reverse("proxy:result", args=[launch.pk]), result_body(data), content_type="application/json")
    assert response.status_code == 401
    assert response.json() == {"type": "error", "id": None, "code": "unauthenticated", "terminal": True,
                               "message": errors.REGISTRY["unauthenticated"].message}
    assert_nothing_written(launch)


@pytest.mark.parametrize("name", ["proxy:result", "proxy:complete"])
def test_under_login_required_middleware_the_doors_still_answer_in_json(installed, user, settings, name):
    # The doors are login_not_required and check the session themselves: the middleware would redirect.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    launch, data = installed()
    path = reverse(name, args=[launch.pk]) if name == "proxy:result" else reverse(name)
    response = Client().post(path, result_body(data), content_type="application/json")
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert_nothing_written(launch)
    if name == "proxy:complete":  # its page (GET) still sends a signed-out person to sign in
        page = Client().get(path)
        assert page.status_code == 302 and page["Location"] == login_redirect(path)


def test_get_on_result_is_405(launch_for, user):
    launch, _ = launch_for(user)
    response = logged_in(user).get(reverse("proxy:result", args=[launch.pk]))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed" and response.json()["message"]


# --- Fetch Metadata: proxy:launch and proxy:orbit run only as a navigation -------------------------------


@pytest.mark.parametrize("url", [LAUNCH_URL, "/proxy/orbit/"])
@pytest.mark.parametrize("headers", [
    {"HTTP_SEC_FETCH_DEST": "image", "HTTP_SEC_FETCH_MODE": "no-cors"},  # <img src> on a same-site page
    {"HTTP_SEC_FETCH_DEST": "script"},
    {"HTTP_SEC_FETCH_DEST": "empty", "HTTP_SEC_FETCH_MODE": "cors"},     # fetch()
    {"HTTP_SEC_FETCH_MODE": "no-cors"},
    {"HTTP_SEC_FETCH_DEST": "document", "HTTP_SEC_FETCH_MODE": "no-cors"},
])
def test_a_launch_or_orbit_loaded_as_anything_but_a_navigation_is_refused_before_any_cyclr_call(cyclr, user, url, headers):
    with mock.patch("proxy.cyclr.CyclrClient.mint_marketplace_url") as mint, \
            mock.patch("proxy.cyclr.CyclrClient.mint_orbit_url") as mint_orbit:
        response = logged_in(user).get(url, **headers)
    assert response.status_code == 403
    code, sentence = launch_error(response)
    assert code == "not_a_navigation" and sentence.startswith("This page opens only in a window or a frame")
    assert not mint.called and not mint_orbit.called
    assert not Launch.objects.exists()
    assert cyclr.marketplace_requests == []


@pytest.mark.parametrize("url", [LAUNCH_URL, "/proxy/orbit/"])
@pytest.mark.parametrize("headers", [
    {"HTTP_SEC_FETCH_DEST": "document", "HTTP_SEC_FETCH_MODE": "navigate"},  # a popup, a redirect
    {"HTTP_SEC_FETCH_DEST": "iframe", "HTTP_SEC_FETCH_MODE": "navigate"},    # inline mode
    {},                                                                       # no Fetch Metadata: allowed
])
def test_a_navigation_or_a_browser_without_fetch_metadata_opens_launch_and_orbit(cyclr, user, url, headers):
    assert logged_in(user).get(url, **headers).status_code == 200
