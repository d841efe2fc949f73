"""Pre-minting (CYCLR_PROXY["PREMINT"], proxy.premint): proxy:premint makes the launch before the click, and
proxy:launch?premint=<id> opens it once, for its own person only, while it is fresh."""
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from proxy import premint
from proxy.checks import check_premint
from proxy.conf import proxy_settings
from proxy.launches import premint_key
from proxy.models import Launch

from .test_webhooks import notified, post, webhook_secret  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

PREMINT_URL = reverse("proxy:premint")


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def premint_for(client, query=""):
    return client.post(PREMINT_URL + query)


def test_a_premint_mints_once_and_the_click_opens_it_without_another_call(cyclr, user):
    client = logged_in(user)
    before = timezone.now()
    response = premint_for(client)
    assert response.status_code == 200, response.content
    answer = response.json()
    launch = Launch.objects.get()
    assert answer["launch"] == str(launch.pk) and answer["expires_in"] == premint.PREMINT_TTL
    assert answer["url"].startswith(f"{reverse('proxy:launch')}?premint=")  # a ticket the server made up
    assert (launch.user, launch.mode, launch.status) == (user, Launch.Mode.POPUP, Launch.Status.PENDING)
    # Offered for less than Cyclr's five minutes, then the launch expires unopened.
    assert before + timedelta(seconds=premint.PREMINT_TTL) <= launch.expires_at <= timezone.now() + timedelta(
        seconds=premint.PREMINT_TTL)
    assert len(cyclr.marketplace_requests) == 1

    page = client.get(answer["url"])
    assert page.status_code == 200
    assert page.context["launch"].pk == launch.pk
    assert page.context["marketplace_url"].startswith(cyclr.url)
    assert len(cyclr.marketplace_requests) == 1  # the click made no Cyclr call
    assert Launch.objects.count() == 1  # and no second launch
    launch.refresh_from_db()
    assert launch.expires_at >= timezone.now() + timedelta(seconds=proxy_settings.LAUNCH_TTL - 60)


def test_a_premint_is_taken_once_then_the_same_link_mints_anew(cyclr, user):
    client = logged_in(user)
    url = premint_for(client, "?marketplace=1").json()["url"]
    assert "marketplace=1" in url  # the launch's own query, for a click that must mint anew
    first = client.get(url)
    again = client.get(url)
    assert first.status_code == again.status_code == 200
    assert first.context["launch"].pk != again.context["launch"].pk
    assert first.context["marketplace_url"] != again.context["marketplace_url"]  # Cyclr's URL works once
    assert Launch.objects.count() == 2 and len(cyclr.marketplace_requests) == 2


def test_another_persons_premint_is_never_theirs(cyclr, user, other_user):
    answer = premint_for(logged_in(user)).json()
    page = logged_in(other_user).get(answer["url"])
    assert page.status_code == 200
    theirs = page.context["launch"]
    assert theirs.pk != answer["launch"] and theirs.user == other_user  # a launch of their own, minted now
    assert theirs.account_api_id != Launch.objects.get(pk=answer["launch"]).account_api_id
    # The owner's pre-mint was not spent by the other person's try.
    assert logged_in(user).get(answer["url"]).context["launch"].pk == Launch.objects.get(pk=answer["launch"]).pk


@pytest.mark.parametrize("stale", ["expired", "url_gone", "settled", "malformed"])
def test_a_stale_or_unusable_premint_makes_the_click_mint_anew(cyclr, user, stale):
    client = logged_in(user)
    answer = premint_for(client).json()
    url = answer["url"]
    if stale == "expired":
        Launch.objects.filter(pk=answer["launch"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif stale == "url_gone":  # the cache dropped it (its timeout is PREMINT_TTL)
        caches[proxy_settings.LIMITS_CACHE].delete(premint_key(answer["launch"]))
    elif stale == "settled":
        Launch.objects.filter(pk=answer["launch"]).update(status=Launch.Status.FAILED)
    else:
        url = f"{reverse('proxy:launch')}?premint=not-a-launch-id"
    page = client.get(url)
    assert page.status_code == 200
    assert str(page.context["launch"].pk) != answer["launch"]
    assert len(cyclr.marketplace_requests) == 2


def test_a_premint_is_not_taken_for_another_account_than_the_resolver_names_now(cyclr, user, settings):
    client = logged_in(user)
    answer = premint_for(client).json()
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "ACCOUNT_RESOLVER": lambda request: "another-account"}
    page = client.get(answer["url"])
    assert str(page.context["launch"].pk) != answer["launch"]
    assert page.context["launch"].account_api_id == "another-account"


def test_a_premint_counts_as_a_launch_and_its_click_does_not(cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "LIMITS": {"launches": (2, 60)}}
    client = logged_in(user)
    urls = [premint_for(client).json()["url"] for _ in range(2)]
    refused = premint_for(client)
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert Launch.objects.count() == 2 and len(cyclr.marketplace_requests) == 2
    for url in urls:  # counted when minted: opening them is not another launch
        assert client.get(url).status_code == 200
    assert client.get(reverse("proxy:launch")).status_code == 429  # a click with none left is counted


def test_signed_out_is_401_in_json(cyclr):
    response = Client().post(PREMINT_URL)
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert not Launch.objects.exists() and cyclr.marketplace_requests == []


def test_get_is_405(cyclr, user):
    response = logged_in(user).get(PREMINT_URL)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "POST"
    assert not Launch.objects.exists()


def test_csrf_is_checked_with_the_header(cyclr, user):
    client = logged_in(user, enforce_csrf_checks=True)
    response = client.post(PREMINT_URL)
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    assert not Launch.objects.exists() and cyclr.marketplace_requests == []
    page = client.get(reverse("proxy:launch"))  # a page of the site: it sets the CSRF cookie
    token = page.context["proxy_config"]["csrfToken"]
    assert client.post(PREMINT_URL, headers={"X-CSRFToken": "x" * 32}).status_code == 403
    assert client.post(PREMINT_URL, headers={"X-CSRFToken": token}).status_code == 200


@pytest.mark.parametrize("query, code", [
    ("?mode=redirect", "premint_mode"),
    ("?mode=direct", "premint_mode"),
    ("?mode=nonsense", "premint_mode"),
    ("?marketplace=99", "marketplace_not_offered"),
    ("?marketplace=%C2%B2", "marketplace_not_offered"),
    ("?marketplace=-1", "marketplace_not_offered"),
    ("?launch=no-such-preset", "unknown_preset"),
    ("?next=/somewhere/", "next_not_allowed"),
])
def test_bad_input_is_refused_with_a_code_and_writes_nothing(cyclr, user, query, code):
    response = premint_for(logged_in(user), query)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code and body["message"] and body["terminal"] is True
    assert not Launch.objects.exists() and cyclr.marketplace_requests == []


def test_an_inline_premint_is_an_inline_launch(cyclr, user):
    client = logged_in(user)
    answer = premint_for(client, "?mode=inline").json()
    assert client.get(answer["url"]).context["launch"].mode == Launch.Mode.INLINE


def test_cyclr_down_is_502_in_json_with_nothing_written(cyclr, user):
    cyclr.api_down = True
    response = premint_for(logged_in(user))
    assert response.status_code == 502 and response.json()["code"] == "cyclr_api_error"
    assert not Launch.objects.exists()


# --- the setting: its check, and the Connect button ------------------------------------------------------


@pytest.mark.parametrize("value", [None, "intent", "load"])
def test_the_check_takes_the_three_choices(settings, value):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "PREMINT": value}
    assert check_premint() == []


@pytest.mark.parametrize("value", ["hover", "", True, 1, ["intent"]])
def test_the_check_names_a_wrong_value(settings, value):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "PREMINT": value}
    (error,) = check_premint()
    assert error.id == "proxy.E017"
    assert repr(value) in error.msg and '"intent"' in error.msg and "None" in error.msg
    with pytest.raises(SystemCheckError, match="proxy.E017"):
        call_command("check")


def render_button(settings, mode, premint_value):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "PREMINT": premint_value}
    request = RequestFactory().get("/")
    return Template("{% load proxy %}{% connect_button mode=mode marketplace=1 %}").render(
        Context({"mode": mode, "request": request, "csrf_token": "the-token"}))


@pytest.mark.parametrize("value", ["intent", "load"])
def test_a_popup_button_carries_what_hostkit_needs_to_premint(settings, value):
    html = render_button(settings, "popup", value)
    assert f'data-premint="{value}"' in html
    assert f'data-premint-url="{PREMINT_URL}?marketplace=1"' in html
    assert 'data-csrf="the-token"' in html


@pytest.mark.parametrize("mode, value", [("popup", None), ("inline", "intent"), ("redirect", "intent")])
def test_other_buttons_do_not_premint(settings, mode, value):
    html = render_button(settings, mode, value)
    assert "data-premint" not in html and "data-csrf" not in html


# --- a pre-mint nobody opened is nobody's open launch ----------------------------------------------------


def test_a_notification_without_complete_parameter_skips_an_unopened_premint(notified, user, cyclr):
    opened, _, body = notified()  # a launch whose window is installing
    del body["CompleteParameter"]
    client = logged_in(user)
    unopened = premint_for(client).json()["launch"]  # the pointer passed over the button again since
    assert post(body).json()["launch"] == str(opened.pk)
    assert Launch.objects.get(pk=unopened).status == Launch.Status.PENDING


def test_a_claimed_premint_is_an_open_launch_like_any_other(user, cyclr):
    from proxy.launches import newest_open_launch

    client = logged_in(user)
    answer = premint_for(client).json()
    account = Launch.objects.get(pk=answer["launch"]).account_api_id
    assert newest_open_launch(account_api_id=account) is None  # pre-minted, no window yet
    client.get(answer["url"])
    assert newest_open_launch(account_api_id=account).pk == Launch.objects.get(pk=answer["launch"]).pk


# --- any input ---------------------------------------------------------------------------------------------

QUERY_KEYS = st.sampled_from(["mode", "marketplace", "launch", "next", "premint", "other"])
PREMINT_CODES = {"premint_mode", "marketplace_not_offered", "unknown_preset", "next_not_allowed", "unsafe_next"}


def test_any_premint_query_is_a_premint_or_a_refusal_with_a_code(cyclr, user, unlimited):
    client = logged_in(user)

    @given(st.dictionaries(QUERY_KEYS, st.text(max_size=40), max_size=4))
    @hypothesis_settings(max_examples=60)
    def check(query):
        before = Launch.objects.count()
        response = client.post(PREMINT_URL + "?" + urlencode(query))
        if response.status_code == 200:
            assert Launch.objects.count() == before + 1
        else:
            assert response.status_code == 400 and response.json()["code"] in PREMINT_CODES, response.content
            assert Launch.objects.count() == before

    check()


def test_any_premint_value_claims_nothing_but_ones_own_fresh_premint(cyclr, user, other_user):
    ticket = "the-pages-ticket"
    answer = logged_in(user).post(PREMINT_URL, headers={"X-Premint": ticket}).json()
    assert answer["url"].endswith("?premint=the-pages-ticket")
    key = premint_key(answer["launch"])
    cache = caches[proxy_settings.LIMITS_CACHE]

    def request_of(person):
        request = RequestFactory().get("/")
        request.user = person
        return request

    @given(st.one_of(st.text(max_size=70), st.just(ticket), st.just(answer["launch"])))
    def check(value):
        assert premint.claim_ticket(request_of(other_user), value) is None
        assert cache.get(key)  # another person's try never spends it
        if value != ticket:
            assert premint.claim_ticket(request_of(user), value) is None
            assert cache.get(key)

    check()
    # ... and the page's own ticket still claims it, once.
    launch, url = premint.claim_ticket(request_of(user), ticket)
    assert str(launch.pk) == answer["launch"] and url.startswith(cyclr.url)
    assert premint.claim_ticket(request_of(user), ticket) is None


# --- tickets: the click before the mint's answer ---------------------------------------------------------


def test_the_page_names_its_premint_and_the_click_waits_for_the_mint_under_way(cyclr, user):
    import threading

    answers = {}

    def premint_in_another_thread():
        answers["premint"] = logged_in(user).post(PREMINT_URL, headers={"X-Premint": "t1"})

    cyclr.mint_gate.close()
    thread = threading.Thread(target=premint_in_another_thread)
    thread.start()
    try:
        assert cyclr.mint_gate.wait_for_held(1)  # the pre-mint is waiting for Cyclr
        clicked = threading.Thread(target=lambda: answers.update(click=logged_in(user).get(
            f"{reverse('proxy:launch')}?premint=t1")))
        clicked.start()
        assert not cyclr.mint_gate.wait_for_held(2, timeout=0.5)  # the click waits on the pre-mint, no mint of its own
    finally:
        cyclr.mint_gate.open()
    thread.join(30)
    clicked.join(30)
    assert answers["premint"].status_code == 200 and answers["click"].status_code == 200
    assert str(answers["click"].context["launch"].pk) == answers["premint"].json()["launch"]
    assert Launch.objects.count() == 1 and len(cyclr.marketplace_requests) == 1


def test_a_click_before_its_premint_mints_itself_and_the_late_premint_is_refused(cyclr, user):
    client = logged_in(user)
    page = client.get(f"{reverse('proxy:launch')}?premint=t2")  # the POST has not reached the server yet
    assert page.status_code == 200
    late = client.post(PREMINT_URL, headers={"X-Premint": "t2"})
    assert late.status_code == 409 and late.json()["code"] == "premint_taken"
    assert Launch.objects.count() == 1 and len(cyclr.marketplace_requests) == 1  # one click, one launch


def test_a_click_after_a_failed_premint_mints_itself_without_waiting(cyclr, user):
    client = logged_in(user)
    cyclr.api_down = True
    assert client.post(PREMINT_URL, headers={"X-Premint": "t3"}).status_code == 502
    cyclr.api_down = False
    page = client.get(f"{reverse('proxy:launch')}?premint=t3")
    assert page.status_code == 200 and Launch.objects.count() == 1


def test_a_ticket_is_taken_once(cyclr, user):
    client = logged_in(user)
    assert client.post(PREMINT_URL, headers={"X-Premint": "t4"}).status_code == 200
    again = client.post(PREMINT_URL, headers={"X-Premint": "t4"})
    assert again.status_code == 409 and again.json()["code"] == "premint_taken"
    assert Launch.objects.count() == 1


@pytest.mark.parametrize("ticket", ["", "a b", "x" * 65, "é", "../x"])
def test_a_malformed_ticket_is_refused(cyclr, user, ticket):
    response = logged_in(user).post(PREMINT_URL, headers={"X-Premint": ticket})
    assert response.status_code == 400 and response.json()["code"] == "malformed"
    assert not Launch.objects.exists() and cyclr.marketplace_requests == []


# --- Cyclr's ExpiresAtUtc: a URL is never offered past what Cyclr says it lives --------------------------------


def test_a_url_cyclr_says_expires_sooner_is_offered_that_much_less(cyclr, user, monkeypatch):
    monkeypatch.setattr(cyclr.state, "marketplace_url_ttl", 150)  # Cyclr's docs say 300 s: this one lives 150
    client = logged_in(user)
    before = timezone.now()
    answer = premint_for(client).json()
    offered = 150 - premint.LOAD_MARGIN
    assert offered - 2 <= answer["expires_in"] <= offered  # the fake's clock and ours read a moment apart
    launch = Launch.objects.get()
    # The launch expires with its offer: no notification is bound to a launch no window can open.
    assert before + timedelta(seconds=offered - 2) <= launch.expires_at <= timezone.now() + timedelta(seconds=offered)
    page = client.get(answer["url"])  # while offered, the click takes it as any pre-mint
    assert str(page.context["launch"].pk) == answer["launch"] and len(cyclr.marketplace_requests) == 1


def test_a_url_with_no_time_left_is_not_offered_and_the_click_mints_anew(cyclr, user, monkeypatch, caplog):
    monkeypatch.setattr(cyclr.state, "marketplace_url_ttl", premint.LOAD_MARGIN)  # nothing left for the click
    client = logged_in(user)
    answer = premint_for(client).json()
    assert answer["expires_in"] == 0
    assert not caches[proxy_settings.LIMITS_CACHE].get(premint_key(answer["launch"]))
    assert "not offered before the click" in caplog.text and "clock" in caplog.text
    unopened = Launch.objects.get(pk=answer["launch"])
    assert unopened.expires_at <= timezone.now()  # expired at once: never bound to a notification

    page = client.get(answer["url"])
    assert page.status_code == 200 and str(page.context["launch"].pk) != answer["launch"]
    assert len(cyclr.marketplace_requests) == 2  # the click minted its own URL


@pytest.mark.parametrize("written, seconds", [
    ("2026-12-07T12:05:00Z", 240), ("2026-12-07T12:05:00.1234567Z", 240), ("2026-12-07T12:05:00", 240),
    ("2026-12-07T13:05:00+01:00", 240), ("2026-12-07T12:02:00Z", 60), ("2026-12-07T12:01:00Z", 0),
    ("2026-12-07T11:00:00Z", 0), ("2030-01-01T00:00:00Z", premint.PREMINT_TTL),
    ("", premint.PREMINT_TTL), ("soon", premint.PREMINT_TTL), ("2026-13-45T99:00:00Z", premint.PREMINT_TTL),
])
def test_the_offer_follows_what_cyclr_wrote_in_expires_at_utc(written, seconds):
    from datetime import datetime, timezone as dt_timezone

    from proxy.cyclr import MarketplaceURL

    now = datetime(2026, 12, 7, 12, 0, tzinfo=dt_timezone.utc)
    minted = MarketplaceURL(url="https://x.example/", account_id="", expires_at=written)
    assert premint.offer_seconds(minted.expires(), now) == seconds


@hypothesis_settings(max_examples=300, deadline=None)
@given(written=st.one_of(st.text(max_size=40), st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                         st.datetimes().map(lambda d: d.isoformat())))
def test_any_expires_at_utc_gives_an_offer_within_bounds(written):
    from proxy.cyclr import MarketplaceURL

    offer = premint.offer_seconds(MarketplaceURL(url="", account_id="", expires_at=written).expires(), timezone.now())
    assert isinstance(offer, int) and 0 <= offer <= premint.PREMINT_TTL
