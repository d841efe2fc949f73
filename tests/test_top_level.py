"""proxy:top_level: a pending framed launch carried to the Marketplace at top level (docs/framing.md).

Where the framed Marketplace cannot work (third-party cookies blocked, framing refused), the proxy page's
control posts here: the same launch is re-minted (Cyclr's URLs work once) and goes on as a redirect-mode
launch with a nonce, its result ending on proxy:complete. Every refusal is the kit's page with a code.
"""
import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from proxy import errors
from proxy.launches import unsign_launch_id
from proxy.models import Arrival, Launch
from proxy.testing.marketplace import install_over_http

from .test_views import Tags

pytestmark = pytest.mark.django_db(transaction=True)

LAUNCH_URL = reverse("proxy:launch")
UNKNOWN_LAUNCH = "7c9e6679-7425-40de-944b-e07fc1f90ae7"




def browser(user):
    """A signed-in client that enforces CSRF, as a browser's requests are checked."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def proxy_page(client, mode="popup", **query):
    """GET proxy:launch; returns (launch, the form of the top-level control, the page's config)."""
    response = client.get(LAUNCH_URL, {"mode": mode, **query})
    assert response.status_code == 200, response.content
    html = response.content.decode()
    config = json.loads(re.search(r'<script id="proxy-config" type="application/json">(.*?)</script>', html).group(1))
    (form,) = [f for f in Tags(html).all("form") if f.get("id") == "proxy-top-level"]
    token = next(i["value"] for i in Tags(html).all("input") if i.get("name") == "csrfmiddlewaretoken")
    return Launch.objects.get(pk=config["launch"]), dict(form, token=token), config, response


FORM = "application/x-www-form-urlencoded"


def post_form(client, url, **fields):
    """POST as a browser submits a form."""
    return client.post(url, urlencode(fields), content_type=FORM)


def move(client, form):
    return post_form(client, form["action"], csrfmiddlewaretoken=form["token"])


def redirect_config(response):
    html = response.content.decode()
    return json.loads(re.search(r'<script id="redirect-config" type="application/json">(.*?)</script>', html).group(1))


def refusal_code(response):
    (error,) = [p for p in Tags(response.content.decode()).all("p") if p.get("id") == "launch-error"]
    return error["data-code"]


def assert_unmoved(launch, mode=Launch.Mode.POPUP):
    before = launch.nonce_hash
    launch.refresh_from_db()
    assert launch.mode == mode and launch.nonce_hash == before


# --- the proxy page offers it ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, label", [("popup", "Open the Marketplace in this window"),
                                         ("inline", "Open the Marketplace in a new window")])
def test_the_proxy_page_carries_the_control_and_may_post_it(cyclr, user, mode, label):
    launch, form, config, response = proxy_page(browser(user), mode)
    assert form["method"] == "post" and form["action"] == reverse("proxy:top_level", args=[launch.pk])
    assert "hidden" in form and form["data-after"].isdigit()  # proxy.js shows it
    assert config["topLevelUrl"] == form["action"]
    html = response.content.decode()
    assert re.search(rf'<button type="submit" data-proxy-top-level>{label}</button>', html)
    directives = {d.split()[0]: d.split()[1:] for d in response["Content-Security-Policy"].split("; ")}
    assert directives["form-action"] == ["'self'"]


# --- what it does --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["popup", "inline"])
def test_it_re_mints_the_same_launch_at_top_level_with_a_nonce(cyclr, user, mode, settled):
    client = browser(user)
    launch, form, _, _ = proxy_page(client, mode)

    response = move(client, form)

    assert response.status_code == 200, response.content
    config = redirect_config(response)
    assert config["launch"] == str(launch.pk) and config["cutOpener"] is True
    assert config["url"].startswith(cyclr.url + "/account/signinwithtoken?token=")
    launch.refresh_from_db()
    assert launch.mode == Launch.Mode.REDIRECT and launch.status == Launch.Status.PENDING
    assert launch.nonce_hash == hashlib.sha256(config["nonce"].encode()).hexdigest()
    assert Launch.objects.count() == 1  # one launch, one record
    first, second = cyclr.marketplace_requests
    assert unsign_launch_id(second["body"]["CompleteParameter"]) == launch.pk  # the same signed launch id
    assert second["body"]["InlineOAuth"] is True and first["body"]["InlineOAuth"] is False
    assert second["account_api_id"] == launch.account_api_id
    assert response["Referrer-Policy"] == "no-referrer"

    # The new URL works; its result comes back on proxy:complete, bound by {launch, nonce}, as redirect mode's.
    result = install_over_http(config["url"])
    body = json.dumps({"type": "result", "id": "m1", "result": result, "launch": config["launch"],
                       "nonce": config["nonce"]})
    ack = client.post(reverse("proxy:complete"), body, content_type="application/json",
                      HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert ack.status_code == 200, ack.content
    assert ack.json()["launch"] == str(launch.pk)
    settled(launch)
    launch.refresh_from_db()
    assert launch.status == Launch.Status.COMPLETED and launch.source == "http"
    assert Arrival.objects.filter(launch=launch, duplicate=False).count() == 1


def test_a_preset_launch_is_re_minted_with_the_launch_call(cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "LAUNCHES": {"mail": {"tags": ["email"], "start": True}}}
    client = browser(user)
    launch, form, _, _ = proxy_page(client, launch="mail")
    response = move(client, form)
    assert response.status_code == 200
    first, second = cyclr.marketplace_requests
    assert second["body"]["Tags"] == ["email"] and second["body"]["Start"] is True
    assert second["body"]["InlineOAuth"] is True
    assert "returnUrl=%2Flaunch%2Fcycles" in redirect_config(response)["url"]
    launch.refresh_from_db()
    assert launch.preset == "mail" and launch.mode == Launch.Mode.REDIRECT


# --- refusals: a code and a sentence each, nothing written, nothing minted ----------------------------------


def test_get_is_405_with_allow(cyclr, user):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    response = client.get(form["action"])
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert refusal_code(response) == "method_not_allowed"
    assert_unmoved(launch)


def test_signed_out_is_401_not_a_login_redirect(cyclr, user):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    client.logout()
    response = move(client, form)
    assert response.status_code == 401 and refusal_code(response) == "unauthenticated"
    assert_unmoved(launch)
    assert len(cyclr.marketplace_requests) == 1


@pytest.mark.parametrize("token", ["", "x" * 64])
def test_without_the_pages_csrf_token_it_is_403(cyclr, user, token):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    response = move(client, dict(form, token=token))
    assert response.status_code == 403 and refusal_code(response) == "csrf_failed"
    assert_unmoved(launch)
    assert len(cyclr.marketplace_requests) == 1


def test_a_json_or_oversized_body_is_refused_unread(cyclr, user):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    as_json = client.post(form["action"], "{}", content_type="application/json")
    assert as_json.status_code == 415 and refusal_code(as_json) == "unsupported_media_type"
    big = post_form(client, form["action"], csrfmiddlewaretoken=form["token"], x="y" * 5000)
    assert big.status_code == 413 and refusal_code(big) == "too_large"
    assert_unmoved(launch)


def test_another_users_launch_is_404_and_an_unknown_one_too(cyclr, user, other_user):
    launch, form, _, _ = proxy_page(browser(user))
    intruder = browser(other_user)
    _, own_form, _, _ = proxy_page(intruder)
    response = post_form(intruder, form["action"], csrfmiddlewaretoken=own_form["token"])
    assert response.status_code == 404 and refusal_code(response) == "not_found"
    unknown = post_form(intruder, reverse("proxy:top_level", args=[UNKNOWN_LAUNCH]), csrfmiddlewaretoken=own_form["token"])
    assert unknown.status_code == 404 and refusal_code(unknown) == "not_found"
    assert_unmoved(launch)
    assert len(cyclr.marketplace_requests) == 2  # the two proxy pages', no more


def test_an_expired_launch_is_410(cyclr, user):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = move(client, form)
    assert response.status_code == 410 and refusal_code(response) == "expired"
    assert_unmoved(launch)
    assert len(cyclr.marketplace_requests) == 1


@pytest.mark.parametrize("status", [Launch.Status.RECEIVED, Launch.Status.COMPLETED, Launch.Status.FAILED])
def test_a_launch_with_its_result_is_409_not_pending(cyclr, user, status):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    Launch.objects.filter(pk=launch.pk).update(status=status)
    response = move(client, form)
    assert response.status_code == 409 and refusal_code(response) == "not_pending"
    assert "already has its result" in response.content.decode()
    assert_unmoved(launch)


def test_moving_twice_is_403_wrong_mode(cyclr, user):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    assert move(client, form).status_code == 200
    again = move(client, form)
    assert again.status_code == 403 and refusal_code(again) == "wrong_mode"
    assert "already runs the Marketplace at top level" in again.content.decode()
    assert len(cyclr.marketplace_requests) == 2


@pytest.mark.parametrize("mode", ["redirect", "direct"])
def test_a_top_level_launch_is_403_wrong_mode(cyclr, user, mode):
    client = browser(user)
    client.get(LAUNCH_URL, {"mode": mode})
    launch = Launch.objects.get()
    _, form, _, _ = proxy_page(client)  # for a CSRF token
    response = post_form(client, reverse("proxy:top_level", args=[launch.pk]), csrfmiddlewaretoken=form["token"])
    assert response.status_code == 403 and refusal_code(response) == "wrong_mode"
    assert_unmoved(launch, mode)


def test_an_account_that_changed_is_409(cyclr, user, settings):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    Launch.objects.filter(pk=launch.pk).update(account_api_id="someone-else")
    response = move(client, form)
    assert response.status_code == 409 and refusal_code(response) == "account_mismatch"
    assert len(cyclr.marketplace_requests) == 1


def test_cyclr_down_is_a_502_page_and_the_launch_stays_framed(cyclr, user, settings):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    cyclr.api_down = True
    response = move(client, form)
    assert response.status_code == 502 and refusal_code(response) == "cyclr_api_error"
    assert_unmoved(launch)


def test_every_refusal_code_is_registered():
    for code in ("method_not_allowed", "unauthenticated", "csrf_failed", "too_large", "unsupported_media_type",
                 "not_found", "expired", "not_pending", "wrong_mode", "account_mismatch"):
        assert code in errors.REGISTRY


def test_a_re_mint_from_another_origin_is_refused_before_anything_moves(cyclr, user, settings):
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_ORIGINS": ["https://acme-h.cyclr.com"]}
    response = move(client, form)
    assert response.status_code == 500 and refusal_code(response) == "origin_not_allowed"
    assert_unmoved(launch)
    launch.refresh_from_db()
    assert launch.marketplace_origin == cyclr.origin


def test_a_result_that_lands_while_re_minting_wins(cyclr, user):
    # The result (or a second move) can land between the checks and the write: the conditional update sees it.
    client = browser(user)
    launch, form, _, _ = proxy_page(client)
    cyclr.mint_gate.close()  # the move's new mint waits at Cyclr, after the kit checked the launch was pending
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            moving = pool.submit(move, client, form)
            assert cyclr.mint_gate.wait_for_held(1), "the move never asked Cyclr for a new URL"
            Launch.objects.filter(pk=launch.pk).update(status=Launch.Status.RECEIVED)  # the result lands meanwhile
            cyclr.mint_gate.open()
            response = moving.result(timeout=60)
    finally:
        cyclr.mint_gate.open()
    assert response.status_code == 409 and refusal_code(response) == "not_pending"
    launch.refresh_from_db()
    assert launch.mode == Launch.Mode.POPUP and launch.nonce_hash == ""
