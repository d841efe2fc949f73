"""proxy:launch's top-level modes (redirect, direct, ``next``) and proxy:complete's binding rule.

Django's test client against the real fake Cyclr over HTTP: the results are the fake Marketplace's own, the
webhook bodies the fake's own (``marketplace_notification``), posted to proxy:webhook as in test_webhooks.py.
"""
import hashlib
import json
import re
import uuid
from datetime import timedelta

import hypothesis
import pytest
from hypothesis import strategies as st
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from proxy.exceptions import InvalidResult, LaunchRejected
from proxy.launches import launch_for_completion, sign_launch_id, unsign_launch_id
from proxy.models import Arrival, Launch
from proxy.testing.fake_cyclr.state import marketplace_notification
from proxy.testing.marketplace import install_over_http

pytestmark = pytest.mark.django_db(transaction=True)

LAUNCH_URL = reverse("proxy:launch")
COMPLETE_URL = reverse("proxy:complete")
SECRET = "whsec-0123456789abcdef-modes"
UNKNOWN_LAUNCH = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def page_config(response, element_id):
    html = response.content.decode()
    return json.loads(re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html).group(1))


def csp_directives(response):
    return {d.split()[0]: d.split()[1:] for d in response["Content-Security-Policy"].split("; ")}


def open_in_browser(client, mode, **query):
    """GET proxy:launch as the window would; returns (launch, redirect-page config)."""
    response = client.get(LAUNCH_URL, {"mode": mode, **query})
    assert response.status_code == 200, response.content
    config = page_config(response, "redirect-config")
    return Launch.objects.get(pk=config["launch"]), config


def completion(result, config=None, message_id="m1", **fields):
    """The message complete.js posts: the result, and the {launch, nonce} the opening window kept."""
    message = {"type": "result", "id": message_id, "result": result}
    if config is not None:
        message.update(launch=config["launch"], nonce=config["nonce"])
    message.update(fields)
    return json.dumps(message)


def post_complete(client, body):
    return client.post(COMPLETE_URL, body, content_type="application/json")


def assert_nothing_written(launch):
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING
    assert launch.result_raw is None and launch.result is None
    assert not Arrival.objects.filter(launch=launch).exists()


def arrivals(launch):
    return list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate"))


@pytest.fixture
def client(user):
    return logged_in(user)


# --- proxy:launch: redirect and direct modes -----------------------------------------------------------------


@pytest.mark.parametrize("mode, cut_opener", [("redirect", True), ("direct", False)])
def test_a_top_level_mode_renders_the_redirect_page_with_its_launch_and_nonce(cyclr, client, mode, cut_opener):
    response = client.get(LAUNCH_URL, {"mode": mode})

    assert response.status_code == 200
    config = page_config(response, "redirect-config")
    assert set(config) == {"url", "launch", "nonce", "cutOpener"}
    assert config["cutOpener"] is cut_opener
    assert config["url"].startswith(cyclr.url + "/account/signinwithtoken?token=")
    launch = Launch.objects.get(pk=config["launch"])
    assert launch.mode == mode
    # Only the hash is kept: the window holds the nonce itself.
    assert len(config["nonce"]) >= 32
    assert launch.nonce_hash == hashlib.sha256(config["nonce"].encode()).hexdigest()
    assert config["nonce"] not in json.dumps(list(Launch.objects.values())[0], default=str)
    (minted,) = cyclr.marketplace_requests
    assert minted["body"]["InlineOAuth"] is True  # top level: connector OAuth runs in place
    html = response.content.decode()
    assert "<iframe" not in html
    assert re.search(r'<script nonce="[^"]+" src="/static/proxy/js/redirect\.min\.js"', html)


@pytest.mark.parametrize("mode", ["redirect", "direct"])
def test_the_redirect_page_keeps_the_kits_csp(cyclr, client, mode):
    response = client.get(LAUNCH_URL, {"mode": mode})
    directives = csp_directives(response)
    nonce = directives["script-src"][0]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9_-]{20,}'", nonce)
    assert directives["style-src"] == [nonce]
    for name in ("default-src", "frame-src", "connect-src", "frame-ancestors"):
        assert directives[name] == ["'none'"], name
    assert directives["form-action"] == ["'none'"] and directives["base-uri"] == ["'none'"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("mode", ["popup", "inline"])
def test_framed_modes_get_no_nonce_and_no_inline_oauth(cyclr, client, mode):
    assert client.get(LAUNCH_URL, {"mode": mode}).status_code == 200
    (launch,) = Launch.objects.all()
    assert launch.nonce_hash == "" and launch.next_url == ""
    assert cyclr.marketplace_requests[0]["body"]["InlineOAuth"] is False


def test_every_launch_gets_its_own_nonce(cyclr, client):
    nonces = {open_in_browser(client, "redirect")[1]["nonce"] for _ in range(3)}
    assert len(nonces) == 3


# --- proxy:launch: next (same-tab redirect) -------------------------------------------------------------------


@pytest.mark.parametrize("next_url", ["/integrations/", "/integrations/?mode=redirect#top", "http://testserver/integrations/"])
def test_a_next_page_on_this_site_is_stored_on_a_redirect_launch(cyclr, client, next_url):
    launch, _ = open_in_browser(client, "redirect", next=next_url)
    assert launch.next_url == next_url


@pytest.mark.parametrize("next_url", [
    "https://evil.example/",
    "http://evil.example/integrations/",
    "//evil.example/integrations/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\\/evil.example/",
    "http:\\\\evil.example/",
    "https:/\\evil.example/",
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\x01//evil.example/",
    "http://testserver.evil.example/",
    "http://evil.example@testserver/",
    "http://testserver:8080/",
    "ftp://testserver/",
    "/" + "a" * 2048,
    "/integrations/\x00",
    "/integrations/\r\nSet-Cookie: x=1",
    "/integrations/\u2028",
])
def test_an_unsafe_next_is_a_400_page_and_opens_nothing(cyclr, client, next_url):
    response = client.get(LAUNCH_URL, {"mode": "redirect", "next": next_url})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-code="unsafe_next"' in html
    assert "The next page must be a page of this site." in html
    assert not Launch.objects.exists()
    assert cyclr.marketplace_requests == []  # nothing minted either


def test_an_http_next_is_refused_when_the_request_is_secure(cyclr, client):
    refused = client.get(LAUNCH_URL, {"mode": "redirect", "next": "http://testserver/integrations/"}, secure=True)
    assert refused.status_code == 400 and 'data-code="unsafe_next"' in refused.content.decode()
    assert not Launch.objects.exists()
    taken = client.get(LAUNCH_URL, {"mode": "redirect", "next": "https://testserver/integrations/"}, secure=True)
    assert taken.status_code == 200
    assert Launch.objects.get().next_url == "https://testserver/integrations/"


@pytest.mark.parametrize("mode", ["popup", "inline", "direct"])
def test_next_is_only_for_redirect_mode(cyclr, client, mode):
    response = client.get(LAUNCH_URL, {"mode": mode, "next": "/integrations/"})
    assert response.status_code == 400
    assert 'data-code="next_not_allowed"' in response.content.decode()
    assert not Launch.objects.exists()


def test_an_empty_next_is_no_next(cyclr, client):
    launch, _ = open_in_browser(client, "redirect", next="")
    assert launch.next_url == ""


# --- proxy:complete: what it takes ------------------------------------------------------------------------------


def test_the_complete_page_keeps_the_kits_csp(client):
    response = client.get(COMPLETE_URL)
    assert response.status_code == 200
    directives = csp_directives(response)
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert directives["script-src"][0].startswith("'nonce-")
    assert response["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("mode", ["redirect", "direct"])
def test_a_result_bound_by_launch_and_nonce_completes_its_launch(cyclr, client, completed_receiver, mode, settled):
    launch, config = open_in_browser(client, mode)
    result = install_over_http(config["url"])

    response = post_complete(client, completion(result, config))

    assert response.status_code == 200, response.content
    ack = response.json()
    assert (ack["type"], ack["id"], ack["launch"], ack["status"]) == ("ack", "m1", str(launch.pk), "received")
    assert ack["next"] is None  # no next page: the window closes itself
    settled(launch)
    assert (launch.status, launch.source) == (Launch.Status.COMPLETED, "http")
    assert arrivals(launch) == [("http", False)]
    completed_receiver.assert_called_once()


def test_the_ack_carries_the_next_page_of_a_same_tab_launch(cyclr, client, settled):
    launch, config = open_in_browser(client, "redirect", next="/integrations/?connected=1")
    result = install_over_http(config["url"])

    ack = post_complete(client, completion(result, config)).json()

    assert ack["status"] == "received" and ack["next"] == "/integrations/?connected=1"
    settled()
    # A repeat (the page reloaded) is a duplicate, answered with the status now, and still knows the way back.
    again = post_complete(client, completion(result, config, message_id="m2")).json()
    assert again["status"] == "completed" and again["next"] == "/integrations/?connected=1"
    assert arrivals(launch) == [("http", False), ("http", True)]


def test_a_result_naming_no_launch_is_unbound_even_with_one_open_launch_to_guess(cyclr, client):
    # Today's guess (the user's newest open launch for the account) would have taken it: no more.
    launch, config = open_in_browser(client, "redirect")
    result = install_over_http(config["url"])

    response = post_complete(client, completion(result))

    assert response.status_code == 400
    assert response.json()["code"] == "unbound"
    assert response.json()["message"].startswith("This result does not say which of your launches it completes")
    assert_nothing_written(launch)


@pytest.mark.parametrize("nonce", ["wrong-nonce", "\ud800", None])
def test_a_wrong_or_missing_nonce_is_refused(cyclr, client, nonce):
    launch, config = open_in_browser(client, "redirect")
    result = install_over_http(config["url"])
    body = json.loads(completion(result, config))
    if nonce is None:
        del body["nonce"]
    else:
        body["nonce"] = nonce

    response = post_complete(client, json.dumps(body))

    # An unpaired surrogate is refused before any binding is looked at: no message holding one is read (proxy.protocol).
    expected = (400, "malformed") if nonce == "\ud800" else (403, "bad_nonce")
    assert (response.status_code, response.json()["code"]) == expected
    assert_nothing_written(launch)


def test_another_launchs_nonce_does_not_fit(cyclr, client):
    launch, config = open_in_browser(client, "redirect")
    _, other_config = open_in_browser(client, "direct")
    result = install_over_http(config["url"])
    response = post_complete(client, completion(result, config, nonce=other_config["nonce"]))
    assert response.status_code == 403 and response.json()["code"] == "bad_nonce"
    assert_nothing_written(launch)


@pytest.mark.parametrize("mode", ["popup", "inline"])
def test_a_framed_launch_is_never_completed_here(cyclr, client, launch_for, user, mode):
    # A page elsewhere sends the person's browser to proxy:complete#result=... for their pending
    # popup launch. Whatever it names, and however it binds it, that launch is not changed.
    launch, url = launch_for(user, mode=mode)
    result = install_over_http(url)
    for body in (
        completion(result),
        completion(result, launch=str(launch.pk), nonce="guessed"),
        completion({**result, "completeParameter": sign_launch_id(launch.pk)}),
    ):
        response = post_complete(client, body)
        assert response.status_code in (400, 403), response.content
        assert response.json()["code"] in ("unbound", "wrong_mode")
    assert post_complete(client, completion(result, launch=str(launch.pk), nonce="x")).json()["code"] == "wrong_mode"
    assert_nothing_written(launch)


def test_another_users_launch_is_refused_even_with_its_nonce(cyclr, user, other_user):
    victim = logged_in(user)
    launch, config = open_in_browser(victim, "redirect")
    result = install_over_http(config["url"])

    response = post_complete(logged_in(other_user), completion(result, config))

    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert_nothing_written(launch)


def test_an_unknown_launch_is_404(cyclr, client):
    _, config = open_in_browser(client, "redirect")
    result = install_over_http(config["url"])
    response = post_complete(client, completion(result, launch=UNKNOWN_LAUNCH, nonce=config["nonce"]))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("fields", [
    {"launch": "not-a-uuid", "nonce": "n"},
    {"launch": 42, "nonce": "n"},
    {"launch": ["x"], "nonce": "n"},
    {"launch": UNKNOWN_LAUNCH, "nonce": 42},
    {"launch": UNKNOWN_LAUNCH, "nonce": ""},
    {"launch": UNKNOWN_LAUNCH, "nonce": "n" * 129},
])
def test_a_malformed_binding_is_400_malformed(cyclr, client, fields):
    launch, config = open_in_browser(client, "redirect")
    result = install_over_http(config["url"])
    response = post_complete(client, completion(result, **fields))
    assert response.status_code == 400
    assert response.json()["code"] == "malformed" and response.json()["id"] == "m1"
    assert_nothing_written(launch)


def test_a_signed_complete_parameter_binds_without_a_nonce(cyclr, client, completed_receiver, settled):
    # A LAUNCH-flow result carries Cyclr's echo of the signed launch id.
    launch, config = open_in_browser(client, "direct")
    result = {**install_over_http(config["url"]), "completeParameter": sign_launch_id(launch.pk)}

    response = post_complete(client, completion(result))

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "received"
    assert settled(launch).status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()


def test_a_tampered_complete_parameter_is_a_bad_signature(cyclr, client):
    launch, config = open_in_browser(client, "redirect")
    result = {**install_over_http(config["url"]), "completeParameter": sign_launch_id(launch.pk)[:-2] + "xx"}
    response = post_complete(client, completion(result))
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"
    assert_nothing_written(launch)


def test_a_complete_parameter_and_a_launch_that_disagree_are_refused(cyclr, client):
    launch, config = open_in_browser(client, "redirect")
    other, _ = open_in_browser(client, "redirect")
    result = {**install_over_http(config["url"]), "completeParameter": sign_launch_id(other.pk)}
    response = post_complete(client, completion(result, config))
    assert response.status_code == 403 and response.json()["code"] == "bad_binding"
    assert_nothing_written(launch)
    assert_nothing_written(other)


def test_an_expired_launch_is_410(cyclr, client):
    launch, config = open_in_browser(client, "redirect")
    result = install_over_http(config["url"])
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = post_complete(client, completion(result, config))
    assert response.status_code == 410 and response.json()["code"] == "expired"
    assert_nothing_written(launch)


def test_complete_needs_the_csrf_token_and_a_signed_in_user(cyclr, user):
    checked = logged_in(user, enforce_csrf_checks=True)
    launch, config = open_in_browser(checked, "redirect")
    result = install_over_http(config["url"])
    refused = post_complete(checked, completion(result, config))
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    anonymous = Client().post(COMPLETE_URL, completion(result, config), content_type="application/json")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    assert_nothing_written(launch)


# --- Cyclr's notification and the window's result, in either order, in every mode ------------------


@pytest.fixture
def webhook(cyclr, settings):
    """Post the fake Cyclr's own notification for its latest install to proxy:webhook."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}

    def send():
        body = marketplace_notification(cyclr.installs[-1])
        response = Client().post(reverse("proxy:webhook", args=[SECRET]), json.dumps(body), content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()

    return send


def open_launch_of(client, mode):
    """Open a launch as its window would; returns (launch, marketplace_url, window_post)."""
    if mode in ("popup", "inline"):
        response = client.get(LAUNCH_URL, {"mode": mode})
        config = page_config(response, "proxy-config")
        launch = Launch.objects.get(pk=config["launch"])
        url = re.search(r'<iframe[^>]*\bsrc="([^"]+)"', response.content.decode()).group(1).replace("&amp;", "&")
        return launch, url, lambda result: client.post(
            config["resultUrl"], completion(result), content_type="application/json")
    launch, config = open_in_browser(client, mode)
    return launch, config["url"], lambda result: post_complete(client, completion(result, config))


def direct_to_opener(client):
    """Direct mode with the opener alive: the host page posts the snippet's result to proxy:result."""
    launch, config = open_in_browser(client, "direct")
    return launch, config["url"], lambda result: client.post(
        reverse("proxy:result", args=[launch.pk]), completion(result), content_type="application/json")


WINDOW_PATHS = ["popup", "inline", "redirect", "direct", "direct-opener"]


def open_path(client, path):
    return direct_to_opener(client) if path == "direct-opener" else open_launch_of(client, path)


@pytest.mark.parametrize("path", WINDOW_PATHS)
def test_the_notification_first_then_the_window_is_a_duplicate_ack_not_a_404(cyclr, client, webhook,
                                                                              completed_receiver, path, settled):
    launch, url, window_post = open_path(client, path)
    result = install_over_http(url)

    assert webhook() == {"status": "accepted", "launch": str(launch.pk), "duplicate": False}
    settled()  # the notification's result is verified: the window's repeat is answered with that status
    response = window_post(result)

    assert response.status_code == 200, response.content
    ack = response.json()
    assert (ack["type"], ack["launch"], ack["status"]) == ("ack", str(launch.pk), "completed")
    launch.refresh_from_db()
    assert (launch.status, launch.source) == (Launch.Status.COMPLETED, "webhook")
    assert arrivals(launch) == [("webhook", False), ("http", True)]
    completed_receiver.assert_called_once()


@pytest.mark.parametrize("path", WINDOW_PATHS)
def test_the_window_first_then_the_notification_is_a_duplicate(cyclr, client, webhook, completed_receiver, path,
                                                               settled):
    launch, url, window_post = open_path(client, path)
    result = install_over_http(url)

    response = window_post(result)
    assert response.status_code == 200 and response.json()["status"] == "received", response.content
    assert webhook() == {"status": "accepted", "launch": str(launch.pk), "duplicate": True}

    settled(launch)
    assert (launch.status, launch.source) == (Launch.Status.COMPLETED, "http")
    assert arrivals(launch) == [("http", False), ("webhook", True)]
    completed_receiver.assert_called_once()


def test_a_notification_first_keeps_the_way_back_for_a_same_tab_launch(cyclr, client, webhook, settled):
    launch, config = open_in_browser(client, "redirect", next="/integrations/")
    result = install_over_http(config["url"])
    webhook()
    settled()
    ack = post_complete(client, completion(result, config)).json()
    assert (ack["status"], ack["next"]) == ("completed", "/integrations/")


def test_a_notification_first_does_not_let_an_unbound_post_through(cyclr, client, webhook):
    launch, config = open_in_browser(client, "redirect")
    result = install_over_http(config["url"])
    webhook()
    response = post_complete(client, completion(result, config, nonce="wrong"))
    assert response.status_code == 403 and response.json()["code"] == "bad_nonce"
    assert arrivals(launch) == [("webhook", False)]


def test_a_different_install_after_the_notification_is_still_a_conflict(cyclr, client, webhook):
    launch, config = open_in_browser(client, "redirect")
    install_over_http(config["url"])
    webhook()
    other_result = install_over_http(open_in_browser(client, "redirect")[1]["url"])  # another install
    response = post_complete(client, completion(other_result, config))
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert arrivals(launch) == [("webhook", False)]


@pytest.mark.parametrize("mode", ["popup", "inline"])
@pytest.mark.parametrize("notification_first", [True, False], ids=["notification-first", "notification-last"])
def test_the_proxy_pages_socket_with_the_notification_first_and_last(cyclr, client, user, webhook, completed_receiver,
                                                                     mode, notification_first, settled):
    from asgiref.sync import async_to_sync

    from .test_consumers import cookie_for, launch_socket

    launch, url, _ = open_launch_of(client, mode)
    result = install_over_http(url)
    if notification_first:
        assert webhook()["duplicate"] is False
        settled()

    cookie = cookie_for(user)

    async def send_over_socket():
        socket = launch_socket(launch, cookie)
        connected, _ = await socket.connect()
        assert connected
        await socket.send_to(text_data=completion(result))
        ack = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return ack

    ack = async_to_sync(send_over_socket)()
    # First: received (stored, verified after); a repeat: the launch's status now, verified.
    assert (ack["type"], ack["launch"], ack["status"]) == ("ack", str(launch.pk), "completed" if notification_first else "received")
    if not notification_first:
        assert webhook()["duplicate"] is True
    settled()
    first, second = ("webhook", "socket") if notification_first else ("socket", "webhook")
    assert arrivals(Launch.objects.get(pk=launch.pk)) == [(first, False), (second, True)]
    completed_receiver.assert_called_once()


# --- any binding at all: taken, or refused with a code -------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
BINDING_CODES = {"malformed", "unbound", "bad_signature", "bad_binding", "not_found", "forbidden", "wrong_mode",
                 "bad_nonce"}


@pytest.fixture
def pending_launches(user, other_user):
    """One launch of each mode for ``user`` and a redirect launch of ``other_user``, written directly."""
    now = timezone.now()
    made = {}
    for owner, mode in [(user, m) for m in Launch.Mode.values] + [(other_user, "redirect")]:
        launch = Launch.objects.create(user=owner, account_api_id="acct", marketplace_id=1, mode=mode,
                                       expires_at=now + timedelta(minutes=5),
                                       nonce_hash=hashlib.sha256(b"the-nonce").hexdigest() if mode in ("redirect", "direct") else "")
        made[(owner.pk, mode)] = launch
    return made


# The profile's examples (2,000 in CI, about 15 s): launch_for_completion is called directly, reading only.
@hypothesis.settings(deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(data=st.data())
def test_any_binding_is_taken_only_when_it_is_right_else_refused_with_a_code(user, pending_launches, data):
    ids = [str(launch.pk) for launch in pending_launches.values()]
    named = data.draw(st.none() | st.sampled_from(ids) | st.uuids().map(str) | _JSON, label="launch")
    nonce = data.draw(st.none() | st.just("the-nonce") | st.text(min_size=1, max_size=20) | _JSON, label="nonce")
    parameter = data.draw(st.none() | st.sampled_from(ids).map(sign_launch_id) | _JSON, label="completeParameter")
    message = {"type": "result", "id": "m1", "result": {"completeParameter": parameter}}
    message.update({key: value for key, value in (("launch", named), ("nonce", nonce)) if value is not None})
    try:
        launch = launch_for_completion(user, message)
    except (InvalidResult, LaunchRejected) as exc:
        assert exc.code in BINDING_CODES and exc.message
        hypothesis.event(f"refused: {exc.code}")
        return
    hypothesis.event("taken")
    # Taken: the user's own top-level launch, named by the signed parameter or by launch + the right nonce.
    assert launch.user_id == user.pk and launch.mode in ("redirect", "direct")
    assert (named is not None and str(launch.pk) == str(uuid.UUID(named)) and nonce == "the-nonce") or (
        named is None and unsign_launch_id(parameter) == launch.pk)
