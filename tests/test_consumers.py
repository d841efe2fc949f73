"""The sockets, through the project's real ASGI stack (origin check, session auth, routing)."""
import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from hostkit.asgi import application
from proxy.models import Arrival, Launch

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost:8000")


def cookie_for(user):
    client = Client()
    client.force_login(user)
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode())


def launch_socket(launch, cookie=None, origin=ORIGIN):
    headers = [origin] + ([cookie] if cookie else [])
    return WebsocketCommunicator(application, f"/ws/proxy/launches/{launch.pk}/", headers=headers)


def run(coroutine_function):
    return async_to_sync(coroutine_function)()


def result_message(data, message_id="m1"):
    return json.dumps({"type": "result", "id": message_id, "result": data})


def test_a_result_is_acked_with_the_normalized_result(installed, user):
    launch, data = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        connected, _ = await socket.connect()
        assert connected
        await socket.send_to(text_data=result_message(data))
        ack = await socket.receive_json_from(timeout=10)
        await socket.disconnect()
        return ack

    ack = run(scenario)
    assert ack["type"] == "ack" and ack["id"] == "m1" and ack["launch"] == str(launch.pk)
    assert ack["status"] == "completed" and ack["reason"] is None
    assert ack["result"]["cycles"][0]["cycle_id"] == data["cycles"][0]["cycleId"]
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED


def test_a_resent_result_is_acked_again_and_recorded_once(installed, user):
    launch, data = installed()
    cookie = cookie_for(user)

    async def scenario():
        socket = launch_socket(launch, cookie)
        await socket.connect()
        acks = []
        for message_id in ("m1", "m1-again"):
            await socket.send_to(text_data=result_message(data, message_id))
            acks.append(await socket.receive_json_from(timeout=10))
        await socket.disconnect()
        return acks

    first, second = run(scenario)
    assert first["status"] == second["status"] == "completed"
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
    assert error == {"type": "error", "id": None, "code": "forbidden", "message": "This launch belongs to another user."}
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
        (json.dumps({"type": "result", "id": "m1", "result": {"accountId": "nope", "cycles": []}}), "invalid_result"),
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


def test_the_events_socket_refuses_anonymous_users():
    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN])
        connected, code = await socket.connect()
        return connected, code

    assert run(scenario) == (False, 4401)
