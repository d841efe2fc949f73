"""Per-user limits (proxy.limits) at every door: proxy:launch, the delivery doors, and the sockets.

Real parts throughout: Django's cache (LocMemCache, cleared before each test by ``fresh_limits``),
the fake Cyclr over HTTP, the project's ASGI stack for the sockets. Each limit is set low in the
test; windows that must run out are one second long, and the tests wait for the limit to lift.
"""
import json
import os
import subprocess
import sys
import time
import types
import uuid
from unittest import mock
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.cache import caches
from django.urls import reverse

from tests.asgi import application
from proxy import limits
from proxy.cyclr import CyclrClient
from proxy.reconcile import reconcile
from proxy.conf import DEFAULTS
from proxy.exceptions import RateLimited
from proxy.models import Arrival, Launch
from proxy.testing.marketplace import install_over_http

from .test_consumers import ORIGIN, cookie_for, launch_socket, result_message
from .test_views import LAUNCH_URL, Tags, assert_nothing_written, logged_in, result_body

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_RATE_LIMITED = 4429
ROOT = Path(__file__).resolve().parent.parent
GARBAGE = "not json"


@pytest.fixture
def set_limits(settings, cyclr):
    """``set_limits(launches=(2, 60), ...)`` sets those limits over the defaults."""

    def apply(**values):
        settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "LIMITS": values}

    return apply


def eventually(attempt, timeout=5.0):
    """Call ``attempt()`` until it returns something true (a window running out), or fail."""
    deadline = time.monotonic() + timeout
    while not (outcome := attempt()):
        assert time.monotonic() < deadline, "the limit did not lift in time"
        time.sleep(0.05)
    return outcome


def run(coroutine_function):
    return async_to_sync(coroutine_function)()


def events_socket(cookie):
    return WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])


def error_page(response):
    (error,) = [p for p in Tags(response.content.decode()).all("p") if p.get("id") == "launch-error"]
    return error["data-code"]


# --- launches --------------------------------------------------------------------------------------


def test_launches_trip_at_their_limit_with_a_429_page_and_no_cyclr_call(set_limits, cyclr, user):
    set_limits(launches=(3, 60))
    client = logged_in(user)
    assert [client.get(LAUNCH_URL).status_code for _ in range(3)] == [200, 200, 200]

    refused = client.get(LAUNCH_URL)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert error_page(refused) == "rate_limited"
    assert "You have opened the Marketplace too many times in a short while." in refused.content.decode()
    assert Launch.objects.count() == 3 and len(cyclr.marketplace_requests) == 3


def test_the_launch_limit_is_per_user(set_limits, user, other_user):
    set_limits(launches=(1, 60))
    assert logged_in(user).get(LAUNCH_URL).status_code == 200
    assert logged_in(user).get(LAUNCH_URL).status_code == 429
    assert logged_in(other_user).get(LAUNCH_URL).status_code == 200
    assert Launch.objects.filter(user=other_user).count() == 1


def test_the_launch_limit_lifts_when_its_window_ends(set_limits, user):
    set_limits(launches=(1, 1))
    client = logged_in(user)
    assert client.get(LAUNCH_URL).status_code == 200
    refused = client.get(LAUNCH_URL)
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    eventually(lambda: client.get(LAUNCH_URL).status_code == 200)
    assert Launch.objects.count() == 2


# --- ORBIT: its page (a Cyclr mint) and its close notice (a reconcile) ------------------------------------

ORBIT_URL = "/proxy/orbit/"


def test_orbit_loads_trip_at_their_own_limit_with_a_429_page_and_no_cyclr_call(set_limits, user, other_user):
    set_limits(launches=(1, 60), orbits=(2, 60))
    client = logged_in(user)
    assert client.get(LAUNCH_URL).status_code == 200
    assert client.get(LAUNCH_URL).status_code == 429  # past the launch limit: ORBIT counts on its own
    with mock.patch("proxy.orbit.CyclrClient.mint_orbit_url", wraps=CyclrClient().mint_orbit_url) as mint:
        assert [client.get(ORBIT_URL).status_code for _ in range(2)] == [200, 200]
        refused = client.get(ORBIT_URL)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert error_page(refused) == "rate_limited"
    assert "You have opened your integrations too many times in a short while." in refused.content.decode()
    assert mint.call_count == 2
    assert logged_in(other_user).get(ORBIT_URL).status_code == 200  # per user


def test_orbit_close_notices_trip_at_their_own_limit_with_a_429_and_reconcile_nothing(set_limits, user):
    set_limits(launches=(1, 60), orbit_closes=(2, 60))
    client = logged_in(user)
    with mock.patch("proxy.orbit.reconcile", wraps=reconcile) as reconciling:
        answers = [client.post(ORBIT_URL, "", content_type="application/x-www-form-urlencoded") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["type"] == "error" and body["code"] == "rate_limited" and body["terminal"] is False
    assert body["message"].startswith("Your integrations were checked with Cyclr too many times in a short while.")
    assert reconciling.call_count == 2


def test_orbits_limits_are_on_by_default():
    assert DEFAULTS["LIMITS"]["orbits"] == (10, 60) and DEFAULTS["LIMITS"]["orbit_closes"] == (20, 60)


# --- deliveries over HTTP --------------------------------------------------------------------------


def post_to(door, client, launch, data, message_id="m1"):
    if door == "result":
        return client.post(reverse("proxy:result", args=[launch.pk]), result_body(data, message_id),
                           content_type="application/json")
    # proxy:complete takes a redirect- or direct-mode launch bound by launch + nonce (the window's own pair).
    body = {"type": "result", "id": message_id, "result": data, "launch": str(launch.pk), "nonce": launch.nonce}
    return client.post(reverse("proxy:complete"), json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("door", ["result", "complete"])
def test_http_deliveries_trip_at_their_limit_with_a_429_and_write_nothing(set_limits, launch_for, user, door):
    set_limits(deliveries=(2, 60))

    def installed():
        launch, url = launch_for(user, mode="redirect" if door == "complete" else "popup")
        return launch, install_over_http(url)

    first, first_data = installed()
    client = logged_in(user)
    assert post_to(door, client, first, first_data).status_code == 200
    # A resend counts too (answered as a duplicate).
    assert post_to(door, client, first, first_data, "again").status_code == 200

    second, second_data = installed()
    refused = post_to(door, client, second, second_data)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["code"] == "rate_limited" and body["type"] == "error"
    assert body["message"].startswith("Too many results arrived from you in a short while.")
    assert_nothing_written(second)


def test_http_deliveries_are_limited_per_user(set_limits, installed, user, other_user):
    set_limits(deliveries=(1, 60))
    mine, my_data = installed()
    theirs, their_data = installed(other_user)
    assert post_to("result", logged_in(user), mine, my_data).status_code == 200
    assert post_to("result", logged_in(user), mine, my_data, "again").status_code == 429
    assert post_to("result", logged_in(other_user), theirs, their_data).status_code == 200


def test_the_delivery_limit_lifts_when_its_window_ends(set_limits, installed, user, settled):
    set_limits(deliveries=(1, 1))
    first, first_data = installed()
    second, second_data = installed()
    client = logged_in(user)
    assert post_to("result", client, first, first_data).status_code == 200
    assert post_to("result", client, second, second_data).status_code == 429
    ack = eventually(lambda: (r := post_to("result", client, second, second_data)).status_code == 200 and r.json())
    assert ack["type"] == "ack" and ack["status"] == "received"
    assert settled(second).status == "completed"


# --- deliveries over the socket ------------------------------------------------------------------------


def test_socket_deliveries_past_the_limit_get_an_error_frame_write_nothing_and_keep_the_socket(set_limits, installed, user):
    set_limits(deliveries=(1, 60))
    first, first_data = installed()
    second, second_data = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(first, cookie)
        await socket.connect()
        await socket.send_to(text_data=result_message(first_data))
        ack = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        socket = launch_socket(second, cookie)
        await socket.connect()
        await socket.send_to(text_data=result_message(second_data, "m2"))
        error = await socket.receive_json_from(timeout=10)
        still_open = await socket.receive_nothing(timeout=0.2)
        await socket.disconnect()
        return ack, error, still_open

    ack, error, still_open = run(scenario)
    assert ack["type"] == "ack"
    assert error["type"] == "error" and error["id"] == "m2" and error["code"] == "rate_limited"
    assert still_open
    assert_nothing_written(second)


# --- frames ----------------------------------------------------------------------------------------------


async def send_frames(socket, count):
    """Send ``count`` garbage frames; return the frames that came back, up to and including a close."""
    for _ in range(count):
        await socket.send_to(text_data=GARBAGE)
    answers = []
    while not answers or answers[-1]["type"] != "websocket.close":
        if len(answers) >= count and await socket.receive_nothing(timeout=0.2):
            break  # every frame answered and no close: the limit was not reached
        answers.append(await socket.receive_output(timeout=10))
    return answers


def codes(answers):
    return [json.loads(a["text"])["code"] if a["type"] == "websocket.send" else a["code"] for a in answers]


def test_frames_trip_at_their_limit_and_the_socket_is_closed(set_limits, installed, user):
    set_limits(frames=(5, 60))
    launch, _ = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        answers = await send_frames(socket, 8)
        after_close = await socket.receive_nothing(timeout=0.2)  # the rest are dropped unanswered
        return answers, after_close

    answers, after_close = run(scenario)
    assert codes(answers) == ["malformed"] * 5 + ["rate_limited", CLOSE_RATE_LIMITED]
    assert json.loads(answers[5]["text"])["message"] == \
        "This connection sent too many messages in a short while, so the server closed it."
    assert after_close
    assert not Arrival.objects.exists()


def test_a_flood_of_2000_bad_frames_is_cut_off_at_the_default_limit(cyclr, installed, user):
    allowed, _ = DEFAULTS["LIMITS"]["frames"]
    launch, _ = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        return await send_frames(socket, 2000)

    assert codes(run(scenario)) == ["malformed"] * allowed + ["rate_limited", CLOSE_RATE_LIMITED]
    assert not Arrival.objects.exists()


def test_frames_are_limited_per_user_across_their_sockets(set_limits, installed, user, other_user, settled):
    set_limits(frames=(3, 60))
    mine, _ = installed()
    theirs, their_data = installed(other_user)
    cookie, their_cookie = cookie_for(user), cookie_for(other_user)

    async def scenario():
        flooded = launch_socket(mine, cookie)
        await flooded.connect()
        flood = await send_frames(flooded, 5)
        again = events_socket(cookie)  # another socket of the same user: the count is the user's
        await again.connect()
        second = await send_frames(again, 1)
        other = launch_socket(theirs, their_cookie)
        await other.connect()
        await other.send_to(text_data=result_message(their_data))
        ack = await other.receive_json_from(timeout=10)
        await other.disconnect()
        return flood, second, ack

    flood, second, ack = run(scenario)
    assert codes(flood) == ["malformed"] * 3 + ["rate_limited", CLOSE_RATE_LIMITED]
    assert codes(second) == ["rate_limited", CLOSE_RATE_LIMITED]
    assert ack["type"] == "ack" and settled(Launch.objects.get(pk=theirs.pk)).status == Launch.Status.COMPLETED


def test_the_frame_limit_lifts_when_its_window_ends(set_limits, installed, user, settled):
    set_limits(frames=(2, 1))
    launch, data = installed()
    cookie = cookie_for(user)

    async def flood():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        return await send_frames(socket, 3)

    async def deliver():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        await socket.send_to(text_data=result_message(data))
        answer = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return answer if answer["type"] == "ack" else None

    assert codes(run(flood)) == ["malformed", "malformed", "rate_limited", CLOSE_RATE_LIMITED]
    ack = eventually(lambda: run(deliver))
    assert ack["status"] == "received" and settled(launch).status == Launch.Status.COMPLETED


# --- open sockets ------------------------------------------------------------------------------------------


def test_a_socket_past_the_limit_is_told_and_closed_and_a_freed_one_is_reused(set_limits, user, other_user):
    set_limits(sockets=2)
    cookie, their_cookie = cookie_for(user), cookie_for(other_user)

    async def scenario():
        first, second, extra = events_socket(cookie), events_socket(cookie), events_socket(cookie)
        assert (await first.connect())[0] and (await second.connect())[0]
        accepted, _ = await extra.connect()
        refusal = await extra.receive_json_from(timeout=5)
        closed = await extra.receive_output(timeout=5)
        theirs = events_socket(their_cookie)
        their_connect = await theirs.connect()
        their_quiet = await theirs.receive_nothing(timeout=0.2)
        await first.disconnect()
        replacement = events_socket(cookie)
        replaced = await replacement.connect()
        replacement_quiet = await replacement.receive_nothing(timeout=0.2)
        for socket in (second, theirs, replacement):
            await socket.disconnect()
        return accepted, refusal, closed, their_connect, their_quiet, replaced, replacement_quiet

    accepted, refusal, closed, their_connect, their_quiet, replaced, replacement_quiet = run(scenario)
    assert accepted  # accepted only to say why: a close before accept reaches the browser as 1006
    assert refusal["type"] == "error" and refusal["code"] == "rate_limited"
    assert refusal["message"] == ("Too many of this site's pages are connected for you at once. "
                                  "Close some tabs or windows, then try again.")
    assert closed == {"type": "websocket.close", "code": CLOSE_RATE_LIMITED}
    assert their_connect[0] and their_quiet
    assert replaced[0] and replacement_quiet


def test_launch_and_event_sockets_count_together_and_a_socket_the_server_closed_is_freed(set_limits, installed, user, other_user):
    set_limits(sockets=1)
    theirs, _ = installed(other_user)
    cookie = cookie_for(user)

    async def scenario():
        # Refused by the launch consumer (not the owner): the server closes it, the client never says goodbye.
        refused = launch_socket(theirs, cookie)
        await refused.connect()
        forbidden = await refused.receive_json_from(timeout=5)
        await refused.receive_output(timeout=5)
        events = events_socket(cookie)
        events_connect = await events.connect()
        events_quiet = await events.receive_nothing(timeout=0.2)
        extra = launch_socket(theirs, cookie)
        await extra.connect()
        over = await extra.receive_json_from(timeout=5)
        await events.disconnect()
        return forbidden, events_connect, events_quiet, over

    forbidden, events_connect, events_quiet, over = run(scenario)
    assert forbidden["code"] == "forbidden"
    assert events_connect[0] and events_quiet
    assert over["code"] == "rate_limited"


# --- the cache --------------------------------------------------------------------------------------------


def test_the_limits_count_in_the_cache_named_by_LIMITS_CACHE(settings, cyclr, user):
    settings.CACHES = {**settings.CACHES, "limits": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                                     "LOCATION": "proxy-limits-test"}}
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "LIMITS": {"launches": (1, 60)}, "LIMITS_CACHE": "limits"}
    client = logged_in(user)
    try:
        assert client.get(LAUNCH_URL).status_code == 200
        caches["default"].clear()  # not where the count is
        assert client.get(LAUNCH_URL).status_code == 429
        caches["limits"].clear()
        assert client.get(LAUNCH_URL).status_code == 200
    finally:
        caches["limits"].clear()


def test_a_count_left_without_an_expiry_gets_its_window_back(set_limits, user):
    # What Redis leaves when a count expires between RedisCache.incr's EXISTS and its INCR: a key
    # that never expires. Left so, it would refuse the user for good.
    set_limits(launches=(1, 1))
    key = f"proxy.limits.launches.{user.pk}"
    caches["default"].set(key, 0, None)
    limits.count(limits.LAUNCHES, user)
    with pytest.raises(RateLimited):
        limits.count(limits.LAUNCHES, user)
    eventually(lambda: caches["default"].get(key) is None)
    limits.count(limits.LAUNCHES, user)


# --- across processes (make test's scale-out pass, with REDIS_URL) --------------------------------------

COUNT_IN_ANOTHER_PROCESS = """
import json, os, sys, types
import django
django.setup()
from django.test import override_settings
from proxy import limits
from proxy.cyclr import CyclrClient
from proxy.reconcile import reconcile
from proxy.exceptions import RateLimited
config = json.loads(os.environ["LIMITS_TEST_CONFIG"])
user = types.SimpleNamespace(pk=config["user"], is_authenticated=True)
with override_settings(CACHES=config["caches"], CYCLR_PROXY=config["proxy"]):
    answers = []
    for _ in range(config["hits"]):
        try:
            limits.count(limits.LAUNCHES, user)
            answers.append("allowed")
        except RateLimited:
            answers.append("refused")
print(json.dumps(answers))
"""


@pytest.mark.scaleout
def test_processes_sharing_a_redis_cache_share_the_counts(settings):
    """Two server processes, one Redis cache: the limit holds for the user across both."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        (pytest.fail if os.environ.get("CI") else pytest.skip)("REDIS_URL is not set; `make test` runs this.")
    caches_setting = {**settings.CACHES, "limits": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                    "LOCATION": redis_url, "KEY_PREFIX": f"test-limits-{uuid.uuid4()}"}}
    proxy = {**settings.CYCLR_PROXY, "LIMITS": {"launches": (3, 60)}, "LIMITS_CACHE": "limits"}
    config = {"caches": caches_setting, "proxy": proxy, "user": 42}

    def hits_in_another_process(hits):
        env = {**os.environ, "LIMITS_TEST_CONFIG": json.dumps({**config, "hits": hits})}
        done = subprocess.run([sys.executable, "-c", COUNT_IN_ANOTHER_PROCESS], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.splitlines()[-1])

    settings.CACHES = caches_setting
    settings.CYCLR_PROXY = proxy
    user = types.SimpleNamespace(pk=42, is_authenticated=True)
    try:
        assert hits_in_another_process(2) == ["allowed", "allowed"]
        limits.count(limits.LAUNCHES, user)  # the third, here
        with pytest.raises(RateLimited):
            limits.count(limits.LAUNCHES, user)
        assert hits_in_another_process(1) == ["refused"]
        assert hits_in_another_process(1) == ["refused"]
    finally:
        caches["limits"].clear()
