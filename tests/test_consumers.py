"""The sockets, through the project's real ASGI stack (origin check, session auth, routing)."""
import asyncio
import json
import logging
from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests.asgi import application
from proxy.consumers import LaunchConsumer
from proxy.models import Arrival, Launch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_layer")]

ORIGIN = (b"origin", b"http://localhost:8000")


def signed_in(user):
    """``(client, cookie header)``: one session of ``user``; ``client.logout()`` ends it for real."""
    client = Client()
    client.force_login(user)
    return client, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())


def cookie_for(user):
    return signed_in(user)[1]


def launch_socket(launch, cookie=None, origin=ORIGIN):
    headers = [origin] + ([cookie] if cookie else [])
    return WebsocketCommunicator(application, f"/ws/proxy/launches/{launch.pk}/", headers=headers)


def run(coroutine_function):
    return async_to_sync(coroutine_function)()


def result_message(data, message_id="m1"):
    return json.dumps({"type": "result", "id": message_id, "result": data})


async def deliver_once(launch, cookie, data, timeout=10, message_id="m1"):
    """Open the launch's socket, send ``data`` as one result, return the first frame answering it."""
    socket = launch_socket(launch, cookie)
    connected, _ = await socket.connect()
    assert connected
    await socket.send_to(text_data=result_message(data, message_id))
    answer = await socket.receive_json_from(timeout=timeout)
    await socket.disconnect()
    return answer


def test_a_result_is_acked_with_the_normalized_result(installed, user, settled):
    launch, data = installed()
    cookie = cookie_for(user)

    async def scenario():
        return await deliver_once(launch, cookie, data)

    ack = run(scenario)
    assert ack["type"] == "ack" and ack["id"] == "m1" and ack["launch"] == str(launch.pk)
    assert ack["status"] == "received" and ack["reason"] is None  # stored: verified after the ack
    assert ack["result"]["cycles"][0]["cycle_id"] == data["cycles"][0]["cycleId"]
    assert settled(Launch.objects.get(pk=launch.pk)).status == Launch.Status.COMPLETED


def test_the_launch_socket_opens_only_once_its_launch_is_checked_and_its_group_joined(installed, user):
    """Open means ready: a result the page sends at once waits behind no handshake work, and the pushed verdict
    has a group to reach the socket by."""
    from channels.layers import get_channel_layer

    from proxy import protocol

    launch, _ = installed()
    cookie = cookie_for(user)
    checked = []
    real_check = LaunchConsumer.__dict__["check_launch"]  # a database_call: bound through its __get__

    async def check_launch(consumer, user):
        checked.append(consumer.launch_id)
        return await real_check.__get__(consumer, LaunchConsumer)(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        with mock.patch.object(LaunchConsumer, "check_launch", check_launch):
            connected, _ = await socket.connect()
            joined = set(get_channel_layer().groups.get(protocol.launch_group(launch.pk), ()))
        await socket.disconnect()
        return connected, joined

    connected, joined = run(scenario)
    assert connected and checked == [launch.pk]
    assert len(joined) == 1  # this socket's channel, in the launch's group when the handshake completed


def test_a_resent_result_is_acked_again_and_recorded_once(installed, user):
    launch, data = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        acks, pushes = [], []
        for wanted, message_id in enumerate(("m1", "m1-again"), start=1):
            await socket.send_to(text_data=result_message(data, message_id))
            while len(acks) < wanted:  # the push may come between the acks, or after them
                frame = await socket.receive_json_from(timeout=10)
                (acks if frame["type"] == "ack" else pushes).append(frame)
        while not pushes:  # the launch settled: its socket hears it too (after the first ack), once
            pushes.append(await socket.receive_json_from(timeout=10))
        nothing_more = await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return acks, pushes, nothing_more

    (first, second), pushes, nothing_more = run(scenario)
    assert [push["type"] for push in pushes] == ["proxy.install.completed"] and nothing_more
    assert first["status"] == "received" and second["status"] in ("received", "completed")  # the status then
    assert second["id"] == "m1-again"
    assert list(Arrival.objects.values_list("duplicate", flat=True)) == [False, True]


def test_another_user_gets_forbidden_and_the_socket_closes(installed, other_user):
    launch, _ = installed()
    cookie = cookie_for(other_user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        connected, _ = await socket.connect()
        error = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        return connected, error, closed

    connected, error, closed = run(scenario)
    assert error == {"type": "error", "id": None, "code": "forbidden", "message": "This launch belongs to another user.",
                     "terminal": True}
    assert closed == {"type": "websocket.close", "code": 4403}


def test_an_anonymous_socket_is_refused(installed):
    launch, _ = installed()

    async def scenario():
        socket = launch_socket(launch)
        await socket.connect()
        return await socket.receive_json_from(timeout=5), await socket.receive_output(timeout=5)

    error, closed = run(scenario)
    assert error["code"] == "unauthenticated" and closed["code"] == 4401


def test_an_expired_launch_is_refused(installed, user):
    launch, _ = installed()
    cookie = cookie_for(user)
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        return await socket.receive_json_from(timeout=5)

    error = run(scenario)
    assert error["code"] == "expired" and "expired" in error["message"]


def test_a_foreign_origin_cannot_open_the_socket(installed, user):
    launch, _ = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie, origin=(b"origin", b"http://evil.test"))
        connected, _ = await socket.connect()
        return connected

    assert run(scenario) is False


@pytest.mark.parametrize(
    "frame, code",
    [
        ("{not json", "malformed"),
        (json.dumps(["result"]), "malformed"),
        (json.dumps({"type": "hello", "id": "m1", "result": {}}), "malformed"),
        (json.dumps({"type": "result", "result": {}}), "malformed"),
        (json.dumps({"type": "result", "id": "x" * 65, "result": {}}), "malformed"),
        (json.dumps({"type": "result", "id": "m1", "result": "{}"}), "invalid_result"),
        (json.dumps({"type": "result", "id": "m1", "result": {"accountId": "no\npe", "cycles": []}}), "invalid_result"),
        (json.dumps({"type": "result", "id": "m1", "result": {"pad": "x" * 70_000}}), "too_large"),
        # Text no database keeps: an unpaired surrogate (a valid JSON escape) and a NUL.
        (json.dumps({"type": "result", "id": "\ud800", "result": {}}), "malformed"),
        (json.dumps({"type": "result", "id": "m1", "result": {"userId": "a\x00b"}}), "malformed"),
    ],
)
def test_bad_frames_get_an_error_frame_write_nothing_and_keep_the_socket(installed, user, frame, code):
    launch, data = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        await socket.send_to(text_data=frame)
        error = await socket.receive_json_from(timeout=5)
        arrivals = await database_sync_to_async(Arrival.objects.count)()
        # The socket stays usable: a good result after a bad one is acked.
        await socket.send_to(text_data=result_message(data, "good"))
        ack = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return error, arrivals, ack

    error, arrivals_after_error, ack = run(scenario)
    assert error["type"] == "error" and error["code"] == code
    assert error["message"].endswith(".")
    assert arrivals_after_error == 0
    assert ack["type"] == "ack" and ack["id"] == "good"


def test_binary_frames_are_refused(installed, user):
    launch, _ = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        await socket.send_to(bytes_data=b"\x00\x01")
        return await socket.receive_json_from(timeout=5)

    assert run(scenario)["code"] == "malformed"


def test_the_events_socket_pushes_the_users_settled_launch(installed, user, other_user):
    launch, data = installed()
    cookie = cookie_for(user)
    their_cookie = cookie_for(other_user)

    async def scenario():
        mine = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])
        theirs = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, their_cookie])
        assert (await mine.connect())[0] and (await theirs.connect())[0]
        sender = launch_socket(launch, cookie)
        await sender.connect()
        await sender.send_to(text_data=result_message(data))
        await sender.receive_json_from(timeout=10)
        event = await mine.receive_json_from(timeout=5)
        nothing_for_them = await theirs.receive_nothing(timeout=0.5)
        for socket in (mine, theirs, sender):
            await socket.disconnect()
        return event, nothing_for_them

    event, nothing_for_them = run(scenario)
    assert event["type"] == "proxy.install.completed" and event["launch"] == str(launch.pk)
    assert event["result"]["account_id"] == data["accountId"]
    assert nothing_for_them


def test_a_received_launch_pushes_its_verified_outcome_to_its_own_socket(installed, user, cyclr):
    from proxy.services import settle_launch

    launch, data = installed()
    other_launch, _ = installed()
    cookie = cookie_for(user)
    cyclr.api_down = True  # Cyclr's API fails during verification: the server holds the result, unverified

    async def scenario():
        socket = launch_socket(launch, cookie)
        bystander = launch_socket(other_launch, cookie)  # the same user's other launch hears nothing of it
        assert (await socket.connect())[0] and (await bystander.connect())[0]
        await socket.send_to(text_data=result_message(data))
        ack = await socket.receive_json_from(timeout=10)
        nothing_yet = await socket.receive_nothing(timeout=0.3)
        cyclr.api_down = False
        await database_sync_to_async(settle_launch)(launch.pk)
        pushed = await socket.receive_json_from(timeout=5)
        nothing_for_bystander = await bystander.receive_nothing(timeout=0.3)
        for each in (socket, bystander):
            await each.disconnect()
        return ack, nothing_yet, pushed, nothing_for_bystander

    ack, nothing_yet, pushed, nothing_for_bystander = run(scenario)
    assert ack["type"] == "ack" and ack["status"] == "received"  # answered before Cyclr was asked
    assert nothing_yet and nothing_for_bystander
    assert pushed["type"] == "proxy.install.completed" and pushed["launch"] == str(launch.pk)
    assert pushed["result"]["cycles"][0]["cycle_id"] == data["cycles"][0]["cycleId"]
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED


@pytest.fixture
def layer_cannot_join(monkeypatch):
    """The in-memory layer's ``group_add`` raises, as a layer that is down or out of connections does."""
    from channels.layers import InMemoryChannelLayer

    async def broken(*args, **kwargs):
        raise ConnectionError("Too many connections")

    monkeypatch.setattr(InMemoryChannelLayer, "group_add", broken)


def test_a_launch_socket_still_takes_results_when_the_channel_layer_fails(installed, user, layer_cannot_join, caplog,
                                                                           settled):
    launch, data = installed()
    ack = async_to_sync(deliver_once)(launch, cookie_for(user), data)
    assert ack["status"] == "received"  # stored; the page learns the verdict from proxy:status
    assert settled(Launch.objects.get(pk=launch.pk)).status == Launch.Status.COMPLETED
    assert "gets no pushed verdict" in caplog.text


def test_an_events_socket_whose_group_cannot_be_joined_is_refused_with_a_code_not_a_500(user, layer_cannot_join, caplog):
    """The channel layer down, or out of connections (redis-py's pool raises past its limit): the handshake
    completes, then an error frame and close 4500, so the page connects again; a warning, no traceback."""
    cookie = cookie_for(user)

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])
        connected, _ = await socket.connect()
        frame = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        return connected, frame, closed

    connected, frame, closed = run(scenario)
    assert connected and frame["type"] == "error" and frame["code"] == "server_error" and frame["message"]
    assert closed == {"type": "websocket.close", "code": 4500}
    assert "could not join its group (ConnectionError: Too many connections)" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_launch_socket_gets_no_push_once_its_session_has_ended(installed, user):
    from proxy.push import push_event

    launch, _ = installed()
    client, cookie = signed_in(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        assert (await socket.connect())[0]
        await database_sync_to_async(client.logout)()
        await database_sync_to_async(push_event)(launch)
        frame = await socket.receive_json_from(timeout=5)
        closed = await socket.receive_output(timeout=5)
        return frame, closed

    frame, closed = run(scenario)
    assert frame["type"] == "error" and frame["code"] == "unauthenticated"  # not the event
    assert closed == {"type": "websocket.close", "code": 4401}


def test_a_settled_launch_is_pushed_to_both_its_sockets_and_one_groups_failure_spares_the_other(installed, user, caplog):
    from channels.layers import InMemoryChannelLayer

    from proxy import protocol
    from proxy.push import push_event

    launch, _ = installed()
    launch.status = Launch.Status.COMPLETED
    _, cookie = signed_in(user)
    real_send = InMemoryChannelLayer.group_send

    async def user_group_down(layer, group, message):
        if group == protocol.user_group(user.pk):
            raise ConnectionError("the user's group is unreachable")
        await real_send(layer, group, message)

    async def scenario():
        events = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])
        socket = launch_socket(launch, cookie)
        assert (await events.connect())[0] and (await socket.connect())[0]
        await database_sync_to_async(push_event)(launch)  # both groups, one trip to the loop
        both = [await events.receive_json_from(timeout=5), await socket.receive_json_from(timeout=5)]
        with mock.patch.object(InMemoryChannelLayer, "group_send", user_group_down):
            await database_sync_to_async(push_event)(launch)
        launch_only = await socket.receive_json_from(timeout=5)
        events_quiet = await events.receive_nothing(timeout=0.2)
        await events.disconnect()
        await socket.disconnect()
        return both, launch_only, events_quiet

    with caplog.at_level(logging.ERROR, logger="proxy.push"):
        both, launch_only, events_quiet = run(scenario)
    assert [frame["type"] for frame in both] == ["proxy.install.completed"] * 2
    assert both[0]["launch"] == both[1]["launch"] == str(launch.pk)
    assert launch_only["type"] == "proxy.install.completed" and events_quiet
    assert f"to the sockets of {protocol.user_group(user.pk)}" in caplog.text


def test_pushes_run_on_the_servers_loop_there_and_on_one_kept_loop_elsewhere():
    """In a server's thread a push runs on the server's loop (the in-memory layer's queues are there); in a
    worker's thread, on the kit's one push loop: not a new loop (and a new Redis connection) per push."""
    import threading

    from channels.layers import InMemoryChannelLayer

    from proxy.push import push, push_loop

    loops = []
    real_send = InMemoryChannelLayer.group_send

    async def recording_send(layer, group, message):
        loops.append(asyncio.get_running_loop())
        await real_send(layer, group, message)

    def from_a_worker_thread():
        thread = threading.Thread(target=push, args=({"type": "proxy.test"}, "proxy.user.1", "proxy.user.2"))
        thread.start()
        thread.join(10)

    async def from_a_servers_thread():
        await database_sync_to_async(push)({"type": "proxy.test"}, "proxy.user.1")
        return asyncio.get_running_loop()

    with mock.patch.object(InMemoryChannelLayer, "group_send", recording_send):
        from_a_worker_thread()
        from_a_worker_thread()
        server_loop = run(from_a_servers_thread)
    assert loops[:4] == [push_loop()] * 4  # two pushes of two groups each, from two threads: one loop
    assert loops[4:] == [server_loop]


def test_a_kit_thread_settling_for_a_server_pushes_on_that_servers_loop():
    """What a door's thread records (``server_loop``: asked of ``async_to_sync``, no asgiref internals) and a kit
    thread then pushes on (``pushing_on``): the server's own loop, where the in-memory layer's queues are."""
    import threading

    from channels.layers import InMemoryChannelLayer

    from proxy.push import push, pushing_on, server_loop

    loops = []
    real_send = InMemoryChannelLayer.group_send

    async def recording_send(layer, group, message):
        loops.append(asyncio.get_running_loop())
        await real_send(layer, group, message)

    def settle_in_a_kit_thread(loop):
        with pushing_on(loop):
            push({"type": "proxy.test"}, "proxy.user.1")

    async def scenario():
        recorded = await database_sync_to_async(server_loop)()  # in a door's thread
        kit_thread = threading.Thread(target=settle_in_a_kit_thread, args=(recorded,))
        await asyncio.get_running_loop().run_in_executor(None, lambda: (kit_thread.start(), kit_thread.join(10)))
        return recorded, asyncio.get_running_loop()

    with mock.patch.object(InMemoryChannelLayer, "group_send", recording_send):
        recorded, the_servers_loop = run(scenario)
    assert recorded is the_servers_loop
    assert loops == [the_servers_loop]
    outside = []
    thread = threading.Thread(target=lambda: outside.append(server_loop()))
    thread.start()
    thread.join(10)
    assert outside == [None]  # a thread that serves no server


def test_an_http_doors_verdict_reaches_the_events_socket_on_the_servers_loop(installed, user, settled):
    """The HTTP fallback through the ASGI application: its held settlement finds the server's loop as it starts
    (Django's ASGI handler closes the response in the view's thread, once it is sent), so the in-memory layer's
    push reaches the person's events socket on that loop, with no proxy:status needed."""
    from asgiref.testing import ApplicationCommunicator
    from channels.layers import InMemoryChannelLayer

    from tests.test_bad_input import CSRF, post_scope

    launch, data = installed()
    cookie = cookie_for(user)
    loops = []
    real_send = InMemoryChannelLayer.group_send

    async def recording_send(layer, group, message):
        loops.append(asyncio.get_running_loop())
        await real_send(layer, group, message)

    path = f"/proxy/launches/{launch.pk}/result/"
    headers = [(b"host", b"localhost:8000"), (b"content-type", b"application/json"), ORIGIN,
               (b"cookie", cookie[1] + f"; csrftoken={CSRF}".encode()), (b"x-csrftoken", CSRF.encode())]
    scope = post_scope(path, headers)

    async def scenario():
        events = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])
        assert (await events.connect())[0]
        door = ApplicationCommunicator(application, scope)
        await door.send_input({"type": "http.request", "body": result_message(data).encode(), "more_body": False})
        start = await door.receive_output(timeout=10)
        body = await door.receive_output(timeout=10)
        event = await events.receive_json_from(timeout=10)
        await events.disconnect()
        return start["status"], json.loads(body["body"]), event, asyncio.get_running_loop()

    with mock.patch.object(InMemoryChannelLayer, "group_send", recording_send):
        status, ack, event, the_servers_loop = run(scenario)
    assert status == 200 and ack["status"] == "received", ack
    assert event["type"] == "proxy.install.completed" and event["launch"] == str(launch.pk)
    assert loops and all(loop is the_servers_loop for loop in loops)
    assert settled(launch).status == Launch.Status.COMPLETED


def test_the_events_socket_refuses_anonymous_users():
    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN])
        connected, code = await socket.connect()
        return connected, code

    assert run(scenario) == (False, 4401)


# --- the exact origin ------------------------------------------------------------------------------------
# The example host's ALLOWED_HOSTS has "localhost", so Channels' AllowedHostsOriginValidator lets
# each of these through: only the kit's own check (HOST_ORIGINS = ["http://localhost:8000"]) tells them apart.


@pytest.mark.parametrize("origin", [
    "http://localhost:9999",   # the same host name on another port
    "https://localhost:8000",  # another scheme
    "http://localhost",        # the default port is another port
    "http://localhost:8000/",  # not an origin as a browser sends it
])
@pytest.mark.parametrize("path", ["launch", "/ws/proxy/events/", "/ws/proxy/nowhere/"])
def test_a_socket_from_any_other_origin_is_refused_at_the_handshake(installed, user, origin, path):
    launch, _ = installed()
    path = f"/ws/proxy/launches/{launch.pk}/" if path == "launch" else path
    cookie = cookie_for(user)

    async def scenario():
        socket = WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode()), cookie])
        connected, code = await socket.connect()
        nothing_sent = await socket.receive_nothing(timeout=0.2)
        return connected, code, nothing_sent

    assert run(scenario) == (False, 4403, True)


def test_the_exact_host_origin_is_accepted(installed, user, settings):
    launch, data = installed()
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "HOST_ORIGINS": ["https://app.example.com", "http://localhost:8000"]}
    cookie = cookie_for(user)

    async def scenario():
        events = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])
        socket = launch_socket(launch, cookie)
        opened = [(await events.connect())[0], (await socket.connect())[0]]
        await socket.send_to(text_data=result_message(data))
        ack = await socket.receive_json_from(timeout=10)
        for each in (events, socket):
            await each.disconnect()
        return opened, ack

    opened, ack = run(scenario)
    assert opened == [True, True] and ack["type"] == "ack"


# --- the session, re-checked ------------------------------------------------------------------------------


def deliver_after_logout(launch, user, data):
    """Open ``launch``'s socket signed in as ``user``, sign out, then send ``data``: (error frame, close message)."""
    client, cookie = signed_in(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        assert (await socket.connect())[0]
        await database_sync_to_async(client.logout)()
        await socket.send_to(text_data=result_message(data))
        error = await socket.receive_json_from(timeout=10)
        closed = await socket.receive_output(timeout=5)
        return error, closed

    return run(scenario)


def test_a_socket_opened_before_logout_is_refused_after_it(installed, user):
    launch, data = installed()
    error, closed = deliver_after_logout(launch, user, data)
    assert error["type"] == "error" and error["code"] == "unauthenticated" and error["message"].endswith(".")
    assert closed == {"type": "websocket.close", "code": 4401}
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING and not Arrival.objects.exists()


def test_a_socket_stops_working_when_the_password_changes(installed, user):
    launch, data = installed()
    cookie = cookie_for(user)

    def change_password():
        user.set_password("a-brand-new-password")
        user.save()

    async def scenario():
        socket = launch_socket(launch, cookie)
        assert (await socket.connect())[0]
        await database_sync_to_async(change_password)()  # the session's auth hash no longer matches
        await socket.send_to(text_data=result_message(data))
        return await socket.receive_json_from(timeout=5), await socket.receive_output(timeout=5)

    error, closed = run(scenario)
    assert error["code"] == "unauthenticated" and closed["code"] == 4401
    assert not Arrival.objects.exists()


def test_the_events_socket_stops_pushing_after_logout(installed, user):
    launch, data = installed()
    page_client, page_cookie = signed_in(user)
    other_session = cookie_for(user)  # the same person, still signed in elsewhere, sends the result

    async def scenario():
        events = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, page_cookie])
        assert (await events.connect())[0]
        await database_sync_to_async(page_client.logout)()
        sender = launch_socket(launch, other_session)
        await sender.connect()
        await sender.send_to(text_data=result_message(data))
        ack = await sender.receive_json_from(timeout=10)
        frame = await events.receive_json_from(timeout=5)
        closed = await events.receive_output(timeout=5)
        await sender.disconnect()
        return ack, frame, closed

    ack, frame, closed = run(scenario)
    assert ack["status"] == "received"  # the push happened (after the ack)...
    assert frame["type"] == "error" and frame["code"] == "unauthenticated"  # ...but not to the signed-out page
    assert closed == {"type": "websocket.close", "code": 4401}


# --- ORBIT: what changed, pushed when its window closes ------------------------------------------------------


def test_closing_orbit_pushes_each_change_to_the_users_events_sockets(installed, user, other_user, cyclr, settled):
    from django.urls import reverse

    from proxy.cyclr import CyclrClient
    from proxy.services import accept_result
    from proxy.testing.marketplace import orbit_over_http

    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user)
    settled()
    install_id, cycle_id = cyclr.installs[-1]["id"], data["cycles"][0]["cycleId"]
    account = launch.account_api_id
    page, cookie = signed_in(user)  # the host page, whose beacon POSTs proxy:orbit as ORBIT's window closes
    bystander_cookie = cookie_for(other_user)
    expected = {
        "stop": [f"{account}: cycle {cycle_id} is Stopped in Cyclr, recorded as Active."],
        "start": [f"{account}: cycle {cycle_id} is Active in Cyclr, recorded as Stopped."],
        "uninstall": [f"{account}: 1 cycle of package 1 of {account} (installed) no longer exists in Cyclr."],
    }

    async def scenario():
        events = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])
        bystander = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, bystander_cookie])
        assert (await events.connect())[0] and (await bystander.connect())[0]
        pushed, answers = {}, {}
        for action in expected:  # in ORBIT, without telling the kit (no Notification URL): then the window closes
            orbit = await database_sync_to_async(CyclrClient().mint_orbit_url)(account)
            await database_sync_to_async(orbit_over_http)(orbit.url, action=action, install_id=install_id)
            answer = await database_sync_to_async(page.post)(reverse("proxy:orbit"), "", "application/x-www-form-urlencoded")
            answers[action] = (answer.status_code, answer.json())
            pushed[action] = await events.receive_json_from(timeout=10)
        nothing_for_bystander = await bystander.receive_nothing(timeout=0.3)
        for socket in (events, bystander):
            await socket.disconnect()
        return pushed, answers, nothing_for_bystander

    pushed, answers, nothing_for_bystander = run(scenario)
    for action, lines in expected.items():
        frame = {"type": "proxy.integrations.changed", "session": "", "ok": True, "changes": lines, "errors": []}
        assert pushed[action] == frame, action
        assert answers[action] == (200, frame)
    assert nothing_for_bystander


# --- paths and frames that used to crash ------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/ws/proxy/launches/not-a-uuid/",
    "/ws/proxy/launches/",
    "/ws/proxy/nothing-here/",
    "/ws/somewhere/else/",  # outside the kit's prefix: the example host mounts proxy.routing.fallback_route
])
def test_a_socket_to_an_unknown_path_gets_not_found_and_4404(user, path, caplog):
    cookie = cookie_for(user)

    async def scenario():
        socket = WebsocketCommunicator(application, path, headers=[ORIGIN, cookie])
        connected, _ = await socket.connect()
        return connected, await socket.receive_json_from(timeout=5), await socket.receive_output(timeout=5)

    with caplog.at_level(logging.WARNING):
        connected, error, closed = run(scenario)
    assert connected
    assert error == {"type": "error", "id": None, "code": "not_found", "message": "There is no WebSocket at this address.",
                     "terminal": True}
    assert closed == {"type": "websocket.close", "code": 4404}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def nested(depth):
    return "[" * depth + "]" * depth


def with_extra(data, fragment):
    """A result message for ``data`` with ``"extra": <fragment>`` (raw JSON text) added to the result."""
    return '{"type": "result", "id": "m1", "result": ' + json.dumps(data)[:-1] + ', "extra": ' + fragment + "}}"


# Each with a real result: before the fix, the first crashed the parser (RecursionError, a traceback
# per frame) and the others were stored as they came (and the database's JSON encoders choke on them).
@pytest.mark.parametrize("fragment", [nested(30_000), nested(900), "NaN", '"a\\u0000b"', '"\\ud800"'],
                         ids=["recursion", "too-deep", "nan", "nul", "surrogate"])
def test_frames_that_used_to_crash_get_malformed_and_no_traceback(installed, user, fragment, caplog):
    launch, data = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        await socket.send_to(text_data=with_extra(data, fragment))
        error = await socket.receive_json_from(timeout=5)
        arrivals = await database_sync_to_async(Arrival.objects.count)()
        await socket.send_to(text_data=result_message(data, "good"))  # and the socket still works
        ack = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return error, arrivals, ack

    with caplog.at_level(logging.WARNING):
        error, arrivals_after_error, ack = run(scenario)
    assert error["type"] == "error" and error["code"] == "malformed" and error["message"].endswith(".")
    assert arrivals_after_error == 0
    assert ack["type"] == "ack" and ack["id"] == "good"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_message_nested_just_deep_enough_is_taken(installed, user):
    launch, data = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        await socket.send_to(text_data=with_extra(data, nested(30)))  # 32 levels with the message and result
        ack = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return ack

    assert run(scenario)["type"] == "ack"


def test_two_sockets_store_their_results_side_by_side_not_one_after_the_other(installed, user, monkeypatch):
    """Each socket's database call runs in a pool thread of its own (``database_call``), not on Channels'
    one shared thread: here each call waits inside ``accept_result`` until the other has entered it, which
    two calls queued on one thread never would (the barrier then breaks and the frames get ``server_error``)."""
    import threading

    from proxy import consumers

    both_inside = threading.Barrier(2, timeout=10)
    threads = set()
    real_accept = consumers.accept_result

    def accept_when_both_are_inside(*args, **kwargs):
        threads.add(threading.get_ident())
        both_inside.wait()
        return real_accept(*args, **kwargs)

    monkeypatch.setattr(consumers, "accept_result", accept_when_both_are_inside)
    (first, first_data), (second, second_data) = installed(), installed()
    cookie = cookie_for(user)

    async def scenario():
        return await asyncio.gather(deliver_once(first, cookie, first_data, timeout=20),
                                    deliver_once(second, cookie, second_data, timeout=20))

    answers = run(scenario)
    assert [a["type"] for a in answers] == ["ack", "ack"], answers
    assert {a["launch"] for a in answers} == {str(first.pk), str(second.pk)}
    assert len(threads) == 2 and threading.get_ident() not in threads


@pytest.mark.parametrize("path", [
    "/ws/proxy/events/%0A2026-01-01 WARNING forged line",  # the server decodes "%0A" to a newline
    "/ws/proxy/nowhere/%0D%1B[2K%E2%80%A8forged line",    # carriage return, terminal escape, line separator
])
def test_a_refused_socket_path_cannot_write_a_forged_log_line(path, caplog):
    """The refusal logs the decoded path and the origin escaped: one line, the control characters as ``\\n``."""
    async def scenario():
        socket = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost:9999\nforged")])
        return await socket.connect()

    with caplog.at_level(logging.WARNING, logger="proxy.consumers"):
        assert run(scenario) == (False, 4403)
    (record,) = [r for r in caplog.records if r.name == "proxy.consumers"]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert line.startswith("Refused a WebSocket to /ws/proxy/") and "forged line" in line
    assert "\\n" in line or "\\r" in line
