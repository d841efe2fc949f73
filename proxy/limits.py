"""Per-user limits on what costs the server: launches, ORBIT, deliveries, socket frames and open sockets.

Each limit is set in ``CYCLR_PROXY["LIMITS"]`` (see ``proxy.conf``): ``(count, seconds)`` for the
counted ones, a number for open sockets, ``None`` to turn one off. Counts live in the Django cache
named by ``CYCLR_PROXY["LIMITS_CACHE"]``, so every server process that shares that cache (Redis,
Memcached) shares the counts; ``LocMemCache`` counts per process (``proxy.W005``).

A counted limit is a fixed window that opens at a user's first hit and lasts ``seconds``: at most
``count`` hits are allowed in it, and ``Retry-After`` is the time until it closes (more hits do
not push it out). Counting is ``cache.add`` then ``cache.incr``, both atomic in the shared backends
(not in the database or file caches: ``proxy.W006``).

Going past a limit raises ``RateLimited`` (code ``rate_limited``); the doors answer it with HTTP 429
and ``Retry-After`` (``proxy.views``), or an error frame and close code ``CLOSE_RATE_LIMITED`` on a
socket (``SocketLimits``).
"""
import json
import math
import time

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from . import errors, protocol
from .conf import SETTING_NAME, proxy_settings
from .exceptions import RateLimited

LAUNCHES = "launches"      # proxy:launch loads: each one mints a Marketplace URL through Cyclr's API
DELIVERIES = "deliveries"  # result messages over the socket, POSTs to proxy:result and proxy:complete
FRAMES = "frames"          # WebSocket frames of any kind, garbage included
SOCKETS = "sockets"        # WebSockets open at once (a count, not a rate)
ORBITS = "orbits"          # proxy:orbit loads: each one mints an ORBIT URL through Cyclr's API
ORBIT_CLOSES = "orbit_closes"  # ORBIT's close notices (POST proxy:orbit): each one reconciles an account with Cyclr
COUNTED = (LAUNCHES, DELIVERIES, FRAMES, ORBITS, ORBIT_CLOSES)

# Close code of a socket refused or cut off by a limit (4000-4999 are the application's; 429 as in HTTP).
CLOSE_RATE_LIMITED = errors.close_code_of("rate_limited")

# An open-socket count is dropped this long after it was started, so that a process that died
# without closing its sockets cannot hold a user's count up for longer (the count then restarts
# from zero: it errs towards allowing).
SOCKET_COUNT_TTL = 60 * 60

# What a person is told past each limit, in the language of the request (the number decides the plural).
MESSAGES = {
    LAUNCHES: ngettext_lazy(
        "You have opened the Marketplace too many times in a short while. "
        "Please wait %(retry_after)s second, then try again.",
        "You have opened the Marketplace too many times in a short while. "
        "Please wait %(retry_after)s seconds, then try again.", "retry_after"),
    DELIVERIES: ngettext_lazy(
        "Too many results arrived from you in a short while. Please wait %(retry_after)s second.",
        "Too many results arrived from you in a short while. Please wait %(retry_after)s seconds.", "retry_after"),
    FRAMES: _("This connection sent too many messages in a short while, so the server closed it."),
    ORBITS: ngettext_lazy(
        "You have opened your integrations too many times in a short while. "
        "Please wait %(retry_after)s second, then try again.",
        "You have opened your integrations too many times in a short while. "
        "Please wait %(retry_after)s seconds, then try again.", "retry_after"),
    ORBIT_CLOSES: ngettext_lazy(
        "Your integrations were checked with Cyclr too many times in a short while. "
        "Please wait %(retry_after)s second; they are checked again when you next close them.",
        "Your integrations were checked with Cyclr too many times in a short while. "
        "Please wait %(retry_after)s seconds; they are checked again when you next close them.", "retry_after"),
    SOCKETS: _("Too many of this site's pages are connected for you at once. Close some tabs or windows, then try again."),
}


def limits_cache():
    """The Django cache the limits count in."""
    return caches[proxy_settings.LIMITS_CACHE]


def counted_limit(kind):
    """``(count, seconds)`` for a counted limit, or None when it is turned off."""
    value = proxy_settings.LIMITS.get(kind)
    if value is None:
        return None
    try:
        count, seconds = value
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{SETTING_NAME}['LIMITS'][{kind!r}] must be (count, seconds) or None.") from None
    return int(count), int(seconds)


def socket_limit():
    """How many sockets a user may have open at once, or None for no limit."""
    value = proxy_settings.LIMITS.get(SOCKETS)
    return None if value is None else int(value)


def _user_key(kind, user):
    """The cache key of one user's count, or None for a user who is not signed in (never counted:
    every door refuses them before it costs anything)."""
    if user is None or not user.is_authenticated:
        return None
    return f"proxy.limits.{kind}.{user.pk}"


def _add(cache, key, delta, timeout):
    """Add ``delta`` to ``key``, creating it with ``timeout`` if absent; returns the new value."""
    if delta > 0 and cache.add(key, delta, timeout):
        return delta
    try:
        value = cache.incr(key, delta)
    except ValueError:  # absent, or it expired between add and incr
        if delta < 0:
            return 0  # nothing to take from
        cache.add(key, delta, timeout)
        return delta
    if value == delta:
        # Redis checks that the key exists, then INCRs: if it expired in between, INCR made it
        # again with no expiry, and a count that never expires would shut the user out for good.
        cache.touch(key, timeout)
    return value


def count(kind, user):
    """Count one of the user's ``kind`` (one of ``COUNTED``); ``RateLimited`` past the limit.

    Call it before the work it guards, so that a refused hit has done nothing.
    """
    limit = counted_limit(kind)
    key = _user_key(kind, user)
    if limit is None or key is None:
        return
    allowed, seconds = limit
    cache = limits_cache()
    now = time.time()
    hits = _add(cache, key, 1, seconds)
    if hits == 1:  # this hit opened the window: remember when it closes, for Retry-After
        cache.set(f"{key}.ends", now + seconds, seconds)
    if hits <= allowed:
        return
    ends = cache.get(f"{key}.ends", now + seconds)
    retry_after = max(1, math.ceil(ends - now))
    raise RateLimited(MESSAGES[kind] % {"retry_after": retry_after}, limit=kind, retry_after=retry_after)


def open_socket(user):
    """Count one more open socket for the user; ``RateLimited`` past the limit.

    Returns True when a socket was counted (then call ``close_socket`` exactly once when it closes).
    """
    allowed = socket_limit()
    key = _user_key(SOCKETS, user)
    if allowed is None or key is None:
        return False
    cache = limits_cache()
    if _add(cache, key, 1, SOCKET_COUNT_TTL) > allowed:
        _add(cache, key, -1, SOCKET_COUNT_TTL)
        raise RateLimited(MESSAGES[SOCKETS], limit=SOCKETS)
    return True


def close_socket(user):
    """One socket counted by ``open_socket`` has closed."""
    key = _user_key(SOCKETS, user)
    if key is not None:
        _add(limits_cache(), key, -1, SOCKET_COUNT_TTL)


# The cache may be across the network (Redis): count off the event loop, and off the one thread
# that database_sync_to_async runs on, so that a flood of frames never queues behind the database.
_count_off_loop = sync_to_async(count, thread_sensitive=False)
_open_socket_off_loop = sync_to_async(open_socket, thread_sensitive=False)
_aclose_socket = sync_to_async(close_socket, thread_sensitive=False)


async def acount(kind, user):
    """``count`` off the event loop; no thread and no cache call when there is nothing to count."""
    if counted_limit(kind) is not None and _user_key(kind, user) is not None:
        await _count_off_loop(kind, user)


async def _aopen_socket(user):
    """``open_socket`` off the event loop; False at once when there is nothing to count."""
    if socket_limit() is None or _user_key(SOCKETS, user) is None:
        return False
    return await _open_socket_off_loop(user)


class SocketLimits:
    """Mixin for the kit's ``AsyncWebsocketConsumer``s: caps a user's open sockets and frames.

    It works at the ASGI message level, around the consumer's own ``connect``/``receive``:
    a socket past the ``sockets`` limit is accepted only to be told why (an error frame with code
    ``rate_limited``) and closed with ``CLOSE_RATE_LIMITED``; a frame past the ``frames`` limit
    gets the same answer and closes the socket, and every frame after that is dropped unread.
    """

    _limits_user = None      # the signed-in user the socket counts against
    _holds_socket = False    # counted by open_socket, not yet by close_socket
    _cut_off = False         # closed by a limit: nothing more is read or sent

    async def websocket_connect(self, message):
        user = self.scope.get("user")
        self._limits_user = user if user is not None and user.is_authenticated else None
        try:
            self._holds_socket = await _aopen_socket(self._limits_user)
        except RateLimited as exc:
            await self.accept()  # a close before accept reaches the browser as 1006, without our code
            await self._cut_off_for(exc)
            return
        try:
            await super().websocket_connect(message)
        except BaseException:
            await self._release_socket()
            raise

    async def websocket_receive(self, message):
        if self._cut_off:
            return
        try:
            await acount(FRAMES, self._limits_user)
        except RateLimited as exc:
            await self._cut_off_for(exc)
            return
        await super().websocket_receive(message)

    async def websocket_disconnect(self, message):
        await self._release_socket()
        await super().websocket_disconnect(message)

    async def close(self, code=None, reason=None):
        # The socket is over once the server closes it, whether or not the client says goodbye.
        await self._release_socket()
        await super().close(code=code, reason=reason)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if not self._cut_off:  # such as an event pushed to a group the socket has not left yet
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def _cut_off_for(self, error):
        await self.send(text_data=json.dumps(protocol.error(error)))
        await self.close(code=CLOSE_RATE_LIMITED)
        self._cut_off = True

    async def _release_socket(self):
        if self._holds_socket:
            self._holds_socket = False
            await _aclose_socket(self._limits_user)
