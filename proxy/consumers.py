"""WebSocket consumers: results in from the proxy page, events out to the user's pages.

Every kit socket checks, before it accepts, that the page's ``Origin`` is exactly one of
``CYCLR_PROXY["HOST_ORIGINS"]`` (scheme, host and port: Channels' ``AllowedHostsOriginValidator``
compares host names only, so a page on another port of the same host would pass it); any
other origin is refused at the handshake with close code 4403 and no data. A signed-in
socket re-reads its session on each message it receives and before each event it pushes:
once the session has ended (logout, a flushed session, a changed password), it sends an
``unauthenticated`` error frame and closes with 4401. Close codes are 4000 + the HTTP status
of the error code (``proxy.errors``).

The consumers' database work runs through ``database_call``: in the event loop's thread pool, not on
Channels' one shared ``database_sync_to_async`` thread, so deliveries to different sockets are stored
side by side instead of queueing behind each other (and behind every handshake's session lookup).
"""
import functools
import json
import logging
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.db import close_old_connections
from django.utils import translation
from django.utils.translation import gettext as _

from . import ahead, errors, limits, protocol, settlement
from .conf import proxy_settings
from .exceptions import InvalidResult, LaunchRejected, ProxyError
from .logs import loggable
from .models import Launch
from .origins import is_origin
from .services import accept_result, check_owner, check_unexpired, launch_not_found

logger = logging.getLogger(__name__)

CLOSE_BAD_ORIGIN = errors.close_code_of("bad_origin")  # 4403, before accepting: the handshake fails
CLOSE_UNAUTHENTICATED = errors.close_code_of("unauthenticated")  # 4401


def database_call(func):
    """``func`` (synchronous) as a coroutine function run in a pool thread, with Django's connection upkeep.

    Channels' ``database_sync_to_async`` sends every call of every consumer to one shared thread. Each
    call here is whole in itself (its own transaction, nothing kept on the thread between calls), so it
    may run on any thread: with asgiref's ``sync_to_async(thread_sensitive=False)`` the calls run side by
    side, and that thread's expired connections are closed before and after (a pooled database takes them
    back), as Channels does. Django keeps one connection per thread. Works on methods, as a decorator.

    Channels' own test communicators turn its ``close_old_connections`` into a no-op (its calls share the
    test's thread and connection); these threads are never the test's, so the upkeep here stays on and no
    pool thread keeps a connection open past its call.
    """
    @functools.wraps(func)
    def with_connection_upkeep(*args, **kwargs):
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(with_connection_upkeep, thread_sensitive=False)


def origin_of_scope(scope):
    """The ``Origin`` header of a WebSocket handshake, or None."""
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return value.decode("latin1")
    return None


LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"


def scope_language(scope):
    """The language a socket speaks: the one the site's pages would answer its handshake in.

    With ``LocaleMiddleware`` in ``MIDDLEWARE``, as Django picks it for a request (the language cookie, then
    ``Accept-Language``, among ``LANGUAGES``); without it, ``LANGUAGE_CODE``, as the pages do.
    """
    if LOCALE_MIDDLEWARE not in settings.MIDDLEWARE:
        return settings.LANGUAGE_CODE
    headers = {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope.get("headers", ())}
    cookies = scope.get("cookies")
    if cookies is None:  # not under Channels' CookieMiddleware (AuthMiddlewareStack has it)
        cookies = {}
        for pair in headers.get("cookie", "").split(";"):
            name, _sep, value = pair.strip().partition("=")
            cookies.setdefault(name, value)
    request = SimpleNamespace(COOKIES=cookies, META={"HTTP_ACCEPT_LANGUAGE": headers.get("accept-language", "")})
    return translation.get_language_from_request(request)


def origin_allowed(origin):
    """True if ``origin`` is exactly one of ``HOST_ORIGINS``, as a browser serializes it."""
    return is_origin(origin) and origin in proxy_settings.HOST_ORIGINS


class KitConsumer(AsyncWebsocketConsumer):
    """What every kit socket does: the exact-origin check, and refusing with an error frame."""

    closed = False

    async def dispatch(self, message):
        """Handle each message in the socket's language (``scope_language``), so its error frames speak it."""
        if not hasattr(self, "language"):
            self.language = scope_language(self.scope)
        with translation.override(self.language):
            await super().dispatch(message)

    async def websocket_connect(self, message):
        origin = origin_of_scope(self.scope)
        if not origin_allowed(origin):
            # Both come from the request: escaped, so that "%0A" in the path cannot start a forged log line.
            logger.warning("Refused a WebSocket to %s from origin %s: not in HOST_ORIGINS.",
                           loggable(self.scope.get("path")), loggable(repr(origin)))
            await self.close(code=CLOSE_BAD_ORIGIN)
            return
        await super().websocket_connect(message)

    async def refuse(self, error):
        """Send ``error`` as an error frame, then close with its close code; nothing more is read or sent."""
        await self.send(text_data=json.dumps(protocol.error(error)))
        await self.close(code=errors.close_code_of(error.code))
        self.closed = True

    async def signed_out(self):
        """True, after refusing the socket, if the user it was opened for no longer has a session."""
        if await self.session_is_current():
            return False
        await self.refuse(LaunchRejected("unauthenticated"))
        return True

    async def session_is_current(self):
        return await database_call(self.session_is_current_sync)()

    def session_is_current_sync(self):
        """Re-read the session from its store: still signed in as the same user, password unchanged?

        A socket keeps the session it was opened with; without this, it would outlive a logout.
        Synchronous, so that a door can check it in the same database call as its work.
        """
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if key is None:
            return False
        fresh = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
        # Django's get_user: the session's user, with its auth hash checked (flushing it if changed).
        user = auth.get_user(SimpleNamespace(session=fresh))
        return user.is_authenticated and user.pk == self.user_id

    async def join_group(self, group):
        await self.channel_layer.group_add(group, self.channel_name)
        self.group = group

    async def leave_group(self):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def disconnect(self, code):
        await self.leave_group()

    async def install_event(self, message):
        """A settled launch pushed to the socket's group (``proxy.push.push_event``): sent only while signed in."""
        if self.closed:
            return
        if await self.signed_out():  # never push a result to a socket whose person has signed out
            await self.leave_group()
            return
        await self.send(text_data=json.dumps(message["event"]))


class LaunchConsumer(limits.SocketLimits, KitConsumer):
    """``ws/proxy/launches/<uuid>/``: the proxy page sends the result; the server acks it.

    Only the launch's owner may connect. Every refused message gets an ``error`` frame
    with a stable ``code`` and the socket stays open for a corrected retry. The socket is in
    the launch's group (``protocol.launch_group``): once the launch settles, it gets the same
    ``proxy.install.completed``/``failed`` event as the events socket, so a page acked
    ``received`` learns the verified outcome without asking.
    """

    awaiting = None  # the launch, as read when the socket opened, while its first result may still come

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()  # a refusal before the accept reaches the browser as 1006, without its code
            await self.refuse(LaunchRejected("unauthenticated", _("Sign in to the app, then connect again.")))
            return
        self.user_id = user.pk
        self.launch_id = self.scope["url_route"]["kwargs"]["launch_id"]
        # The launch is checked and its group joined before the handshake completes: once the page sees the
        # socket open, the server is ready, and a result sent at once does not wait behind this work.
        problem = await self.check_launch(user)
        if problem is None:
            try:
                await self.join_group(protocol.launch_group(self.launch_id))
            except Exception:  # the channel layer is down: results still arrive here, and the page polls proxy:status
                logger.exception("Launch %s's socket gets no pushed verdict: could not join its group", self.launch_id)
        await self.accept()
        if problem:
            await self.refuse(problem)

    @database_call
    def check_launch(self, user):
        launch = Launch.objects.filter(pk=self.launch_id).first()
        if launch is None:
            return launch_not_found()
        try:
            check_owner(launch, user)
            check_unexpired(launch)
        except LaunchRejected as exc:
            return exc
        if launch.status == Launch.Status.PENDING:
            self.awaiting = launch  # its first result is asked about ahead (proxy.ahead)
        return None

    async def receive(self, text_data=None, bytes_data=None):
        if self.closed:
            return
        message_id = None
        try:
            if text_data is None:
                raise InvalidResult("malformed", _("Send results as JSON text frames."))
            message = protocol.parse_result_message(text_data)
            message_id = message["id"]
            awaiting, self.awaiting = self.awaiting, None
            if awaiting is not None:  # the socket's first result: Cyclr is asked while the arrival is stored
                ahead.ask(awaiting, message["result"])
            taken = await self.take_result(message)
            if taken is None:
                await self.refuse(LaunchRejected("unauthenticated"))
                return
            outcome, held = taken
            try:
                await self.send(text_data=json.dumps(protocol.ack(outcome.launch, message_id)))
            finally:
                held.release()  # verification starts once the ack is out, not against it
        except ProxyError as exc:
            if not await self.signed_out():  # a refused frame, too, is a chance to notice a logout
                await self.send(text_data=json.dumps(protocol.error(exc, message_id)))
        except Exception:
            logger.exception("Could not take a result for launch %s", getattr(self, "launch_id", "?"))
            refusal = ProxyError("server_error", _("The server could not store the result. It will be retried."))
            await self.send(text_data=json.dumps(protocol.error(refusal, message_id)))

    @database_call
    def take_result(self, message):
        """The session check, the delivery limit and ``accept_result``, in one database call (one thread hop).

        ``(outcome, held)``, ``held`` the settlement to release once the ack is sent (``settlement.holding``);
        None when the session has ended: nothing is counted or written.
        """
        if not self.session_is_current_sync():
            return None
        limits.count(limits.DELIVERIES, self.scope["user"])  # RateLimited: an error frame, nothing written
        with settlement.holding() as held:
            outcome = accept_result(self.launch_id, message["result"], source="socket", user=self.scope["user"],
                                    message_id=message["id"])
        return outcome, held


class EventsConsumer(limits.SocketLimits, KitConsumer):
    """``ws/proxy/events/``: pushes the signed-in user's settled launches to their pages."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        try:
            await self.join_group(protocol.user_group(user.pk))
        except Exception as exc:  # the channel layer is down or out of connections: the page connects again in 3 s
            logger.warning("Refused an events socket: could not join its group (%s: %s)", type(exc).__name__, exc)
            await self.accept()  # a refusal before the accept reaches the browser as 1006, without its code
            await self.refuse(ProxyError("server_error", _("This page's live updates could not start; it tries again.")))
            return
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        # The page only listens; a frame is still a chance to notice the session has ended.
        if not self.closed and await self.signed_out():
            await self.leave_group()


class UnknownPathConsumer(KitConsumer):
    """Any other path (``ws/proxy/launches/not-a-uuid/``, a typo): an error frame and close 4404, not a crash.

    Channels' ``URLRouter`` raises for a path no route matches, which the server answers
    with a 500 and a traceback in its log.
    """

    async def connect(self):
        await self.accept()
        await self.refuse(LaunchRejected("not_found", _("There is no WebSocket at this address.")))

    async def receive(self, text_data=None, bytes_data=None):
        pass  # refused at connect; frames that crossed the close are dropped
