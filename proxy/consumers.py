"""WebSocket consumers: results in from the proxy page, events out to the user's pages."""
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from . import limits, messages
from .conf import proxy_settings
from .exceptions import InvalidResult, LaunchRejected, ProxyError
from .models import Launch
from .services import accept_result, check_owner, check_unexpired, launch_not_found
from .storable import refuse_unstorable_text

logger = logging.getLogger(__name__)

# Close codes in the 4000-4999 range, which applications may use freely.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_REJECTED = 4403


class LaunchConsumer(limits.SocketLimits, AsyncWebsocketConsumer):
    """``ws/proxy/launches/<uuid>/``: the proxy page sends the result; the server acks it.

    Only the launch's owner may connect. Every refused message gets an ``error`` frame
    with a stable ``code`` and the socket stays open for a corrected retry.
    """

    async def connect(self):
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(LaunchRejected("unauthenticated", "Sign in to the app, then connect again."), CLOSE_UNAUTHENTICATED)
            return
        self.launch_id = self.scope["url_route"]["kwargs"]["launch_id"]
        problem = await self.check_launch(user)
        if problem:
            await self.refuse(problem, CLOSE_REJECTED)

    @database_sync_to_async
    def check_launch(self, user):
        launch = Launch.objects.filter(pk=self.launch_id).first()
        if launch is None:
            return launch_not_found()
        try:
            check_owner(launch, user)
            check_unexpired(launch)
        except LaunchRejected as exc:
            return exc
        return None

    async def refuse(self, error, close_code):
        await self.send(text_data=json.dumps(messages.error(error)))
        await self.close(code=close_code)

    async def receive(self, text_data=None, bytes_data=None):
        message_id = None
        try:
            if text_data is None:
                raise InvalidResult("malformed", "Send results as JSON text frames.")
            if len(text_data.encode()) > proxy_settings.MAX_RESULT_BYTES:
                raise InvalidResult("too_large", f"The message is larger than {proxy_settings.MAX_RESULT_BYTES} bytes.")
            message = parse_result_message(text_data)
            message_id = message["id"]
            outcome = await self.take_result(message)
            await self.send(text_data=json.dumps(messages.ack(outcome.launch, message_id)))
        except ProxyError as exc:
            await self.send(text_data=json.dumps(messages.error(exc, message_id)))
        except Exception:
            logger.exception("Could not take a result for launch %s", getattr(self, "launch_id", "?"))
            await self.send(text_data=json.dumps(messages.error(
                ProxyError("server_error", "The server could not store the result. It will be retried."), message_id)))

    @database_sync_to_async
    def take_result(self, message):
        limits.count(limits.DELIVERIES, self.scope["user"])  # RateLimited: an error frame, nothing written
        return accept_result(self.launch_id, message["result"], source="socket", user=self.scope["user"], message_id=message["id"])


def parse_result_message(text):
    """``{"type": "result", "id": str, "result": {...}}`` from JSON text, or ``InvalidResult``."""
    try:
        message = json.loads(text)
    except ValueError:
        raise InvalidResult("malformed", "The message is not valid JSON.") from None
    if not isinstance(message, dict) or message.get("type") != "result":
        raise InvalidResult("malformed", 'Expected a JSON object with "type": "result".')
    refuse_unstorable_text(message)
    message_id = message.get("id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 64:
        raise InvalidResult("malformed", 'The message needs an "id" string of at most 64 characters.')
    if not isinstance(message.get("result"), dict):
        raise InvalidResult("not_an_object", 'The message\'s "result" must be a JSON object.')
    return message


class EventsConsumer(limits.SocketLimits, AsyncWebsocketConsumer):
    """``ws/proxy/events/``: pushes the signed-in user's settled launches to their pages."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group = messages.user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        pass  # the page only listens

    async def install_event(self, message):
        await self.send(text_data=json.dumps(message["event"]))

