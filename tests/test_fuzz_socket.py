"""Fuzzing the kit's sockets through the project's real ASGI stack (origin check, session auth, routing).

The launch socket: every frame a signed-in owner can send, text or bytes, gets exactly one
well-formed answer: an ``error`` frame with a code and a sentence that writes nothing, or an
``ack`` for a valid result. Nothing raises, the socket stays open, and a correct result afterwards
is acked. The events socket only listens: any frame gets no answer, crashes nothing, and the
socket still delivers the next event pushed to its user.

One socket serves a whole Hypothesis run: it lives on an event loop of its own that the test
keeps between examples, so the examples cost a frame each, not a database setup and a connect.
"""
import asyncio
import json
import uuid

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import given
from hypothesis import strategies as st

from channels.layers import get_channel_layer

from tests.asgi import application
from proxy import protocol
from proxy.models import Arrival, Launch
from proxy.settlement import drain

from .fuzzing import frames, text
from .test_consumers import ORIGIN, cookie_for, result_message

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("fast_commits", "unlimited", "in_memory_layer")]




async def next_output(communicator, timeout=10):
    """The application's next ASGI message; its exception at once if it died (``receive_output`` waits out the timeout first)."""
    if communicator.future.done():
        communicator.future.result()  # raises the application's exception
        raise AssertionError("the application has finished: nothing more will come")
    get = asyncio.ensure_future(communicator.output_queue.get())
    done, _ = await asyncio.wait({get, communicator.future}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if get in done:
        return get.result()
    get.cancel()
    if communicator.future in done:
        communicator.future.result()
        raise AssertionError("the application finished without answering")
    raise AssertionError(f"no answer within {timeout} seconds")


def is_push(output):
    """True for the launch's own settled event (``proxy.install.*``), which the server pushes whenever it settles."""
    if output.get("type") != "websocket.send" or not output.get("text"):
        return False
    try:
        return json.loads(output["text"]).get("type", "").startswith("proxy.install.")
    except (ValueError, AttributeError):
        return False


class Socket:
    """A ``WebsocketCommunicator`` on an event loop kept across examples; reconnects if the app died."""

    def __init__(self, path, headers):
        self.path, self.headers = path, headers
        self.loop = asyncio.new_event_loop()
        self.communicator = None
        self.pushes = []  # the settled launch's event, pushed to its socket (not an answer to a frame)

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def connect(self):
        async def connect():
            communicator = WebsocketCommunicator(application, self.path, headers=self.headers)
            await communicator.send_input({"type": "websocket.connect"})
            accepted = await next_output(communicator)
            assert accepted["type"] == "websocket.accept", f"the owner's socket must open, got {accepted}"
            return communicator

        self.communicator = self.run(connect())

    def exchange(self, frame, *, reconnect=True):
        """Send one frame; return the next thing the server does (an ASGI message)."""
        if self.communicator is None or (reconnect and self.communicator.future.done()):
            self.connect()  # a previous example killed the application: start the next one clean
        kind, payload = frame

        async def exchange():
            # send_input, not send_to: send_to refuses an empty frame, which a browser can send.
            await self.communicator.send_input({"type": "websocket.receive", kind: payload})
            while True:
                output = await next_output(self.communicator)
                if not is_push(output):
                    return output
                self.pushes.append(json.loads(output["text"]))

        return self.run(exchange())

    def close(self):
        if self.communicator is not None and not self.communicator.future.done():
            self.run(self.communicator.disconnect())
        self.loop.close()


def assert_error_frame(frame):
    """An error frame as the contract gives it: a stable code, a sentence, the message id (or null)."""
    assert frame["type"] == "error", frame
    assert {"type", "id", "code", "message"} <= set(frame), frame
    assert isinstance(frame["code"], str) and frame["code"].strip(), frame
    assert isinstance(frame["message"], str) and frame["message"].strip(), frame
    # server_error means the server failed (it caught an exception of its own): never the answer to input.
    assert frame["code"] != "server_error", frame


def written():
    """What a delivery can write: arrivals, and the launches' status and result."""
    return Arrival.objects.count(), list(Launch.objects.order_by("pk").values_list("pk", "status", "result_raw", "failure_code"))


def sent_id(frame):
    try:
        return json.loads(frame[1])["id"]
    except Exception:
        return object()  # no id could be read: an ack would be wrong


def test_any_frame_gets_one_well_formed_answer_and_the_socket_stays_usable(installed, user):
    launch, data = installed()
    socket = Socket(f"/ws/proxy/launches/{launch.pk}/", [ORIGIN, cookie_for(user)])
    try:
        @given(frames(data))
        def one_frame(frame):
            before = written()
            output = socket.exchange(frame)
            assert output["type"] == "websocket.send", f"the socket must stay open, got {output}"
            answer = json.loads(output["text"])
            if answer["type"] == "ack":
                assert answer["id"] == sent_id(frame) and answer["launch"] == str(launch.pk)
                assert answer["status"] in Launch.Status.values
                assert drain(60)  # its verification runs after the ack: done before the next frame's snapshot
            else:
                assert_error_frame(answer)
                assert written() == before, "a refused frame wrote something"

        one_frame()

        # A correct result on the very same socket: acked (a repeat of what the launch holds, if it settled).
        launch.refresh_from_db()
        output = socket.exchange(text(result_message(launch.result_raw or data, "retry")), reconnect=False)
        answer = json.loads(output["text"])
        assert answer["type"] == "ack" and answer["id"] == "retry", answer
        assert drain(60)
        assert Launch.objects.get(pk=launch.pk).status in (Launch.Status.COMPLETED, Launch.Status.FAILED)
        assert all(push["launch"] == str(launch.pk) for push in socket.pushes), socket.pushes
    finally:
        socket.close()


def _not_a_uuid(segment):
    try:
        uuid.UUID(segment)
    except ValueError:
        return True
    return False


def test_a_socket_to_a_launch_path_that_is_not_a_uuid_is_refused_cleanly():
    headers = [ORIGIN]  # the path alone must be refused: no session needed to get there
    loop = asyncio.new_event_loop()
    segments = st.text(max_size=60).filter(_not_a_uuid)
    paths = st.builds("/ws/proxy/launches/{}/".format, segments) | st.builds("/ws/proxy/launches/{}".format, segments)

    @given(paths)
    def connect(path):
        async def attempt():
            communicator = WebsocketCommunicator(application, path, headers=headers)
            await communicator.send_input({"type": "websocket.connect"})
            outputs = [await next_output(communicator)]
            while outputs[-1]["type"] != "websocket.close":  # accepted only to say why, then closed
                outputs.append(await next_output(communicator))
            if not communicator.future.done():  # as the server would, once the connection is gone
                await communicator.send_input({"type": "websocket.disconnect", "code": outputs[-1].get("code", 1000)})
            await communicator.wait(timeout=10)
            return outputs[0]["type"] == "websocket.accept", outputs[1:]

        accepted, outputs = loop.run_until_complete(attempt())
        for output in outputs[:-1] if accepted else ():
            assert output["type"] == "websocket.send", output
            assert_error_frame(json.loads(output["text"]))

    try:
        connect()
    finally:
        loop.close()


def test_the_events_socket_takes_any_frame_and_still_delivers_the_next_push(user):
    socket = Socket("/ws/proxy/events/", [ORIGIN, cookie_for(user)])
    layer = get_channel_layer()
    group = protocol.user_group(user.pk)
    pushed = iter(range(1, 10**9))
    # The events socket is not sent results; any frame will do, a result-shaped one included.
    shaped_like_a_result = {"accountId": "0f8fad5b-d9cb-469f-a165-70867728950e", "cycles": [{"cycleId": "c1"}]}
    try:
        socket.connect()

        @given(st.lists(frames(shaped_like_a_result), min_size=1, max_size=3))
        def some_frames(sent):
            marker = next(pushed)

            async def exchange():
                for kind, payload in sent:
                    await socket.communicator.send_input({"type": "websocket.receive", kind: payload})
                # The consumer handles its messages in order: the push comes after every frame above.
                await layer.group_send(group, {"type": "install.event", "event": {"type": "test.push", "n": marker}})
                return await next_output(socket.communicator)

            output = socket.run(exchange())
            assert output["type"] == "websocket.send", f"the socket must stay open and quiet, got {output}"
            assert json.loads(output["text"]) == {"type": "test.push", "n": marker}, output

        some_frames()
        assert not socket.communicator.future.done(), "the events socket's application finished"
    finally:
        socket.close()
