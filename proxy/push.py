"""Socket pushes: telling the user's open pages that something happened, as it happens.

``push`` sends an event to the sockets of channel-layer groups; ``push_event`` sends a settled launch to the
user's ``ws/proxy/events/`` sockets and to the launch's own. What it gives: **best effort**. What a push
reports is stored and the page also polls ``proxy:status``, so a push the channel layer loses (or that
cannot be sent) costs only the live update: it is logged, never raised. ``run_push`` decides which event loop
a push from synchronous code runs on (``pushing_on``, the server's, or the kit's one push loop per process).

Receivers hear of it apart, through ``proxy.outbox``.
"""
import asyncio
import logging
import os
import threading
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import protocol

logger = logging.getLogger(__name__)


def push_event(launch):
    """Push the settled launch to the user's open ``ws/proxy/events/`` sockets and to the launch's own socket.

    The proxy page that was acked ``received`` waits on its launch's socket for the verified outcome.
    """
    push(protocol.install_event(launch), protocol.user_group(launch.user_id), protocol.launch_group(launch.pk))


def push_to_user(user_id, event):
    """Push one event (a JSON-ready dict with a ``type``) to a user's open ``ws/proxy/events/`` sockets."""
    push(event, protocol.user_group(user_id))


def push(event, *groups):
    """Send ``event`` to the sockets of each of ``groups``, in one trip to the event loop.

    What it reports is stored and the page also polls ``proxy:status``: a push the channel layer loses
    only costs the live update, so a failure is logged, per group, and never raised.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "install.event", "event": event}

    async def send_to_all():
        for group in groups:
            try:
                await layer.group_send(group, message)
            except Exception:
                logger.exception("Could not push a %s event to the sockets of %s", event.get("type"), group)

    try:
        run_push(send_to_all)
    except Exception:  # no event loop to send on (an interpreter shutting down, a layer that cannot start)
        logger.exception("Could not push a %s event to %s", event.get("type"), ", ".join(groups))


# How long a push from outside a server's loop may take before the caller stops waiting for it.
PUSH_TIMEOUT = 10
_push_lock = threading.Lock()
_push_loop = None
_pushing = threading.local()  # loop: where this thread's pushes run (pushing_on)


def run_push(coroutine_function):
    """Run ``coroutine_function()`` from synchronous code on the event loop a push belongs on; wait for it.

    The in-memory channel layer's queues belong to the ASGI server's loop, and a write from another loop
    wakes no consumer. So: in a kit thread settling for a server (``pushing_on``), on that server's loop; in
    a thread that serves an ASGI server's loop (a sync view, a ``sync_to_async`` call), ``async_to_sync`` runs
    it there. Elsewhere (a ``db_worker``, the sweeper, a WSGI server) ``async_to_sync`` would start a new event
    loop, in a new thread, for every push, and channels-redis a new connection with it: there the kit's one
    push loop, kept running in a daemon thread of the process, serves every push.
    """
    pushing = getattr(_pushing, "loop", None)
    if _usable(pushing):
        return _run_on(pushing, coroutine_function)
    if _loop_running_here() or server_loop() is not None:
        return async_to_sync(coroutine_function)()  # in a loop's own thread, this raises: the caller logs it
    return _run_on(push_loop(), coroutine_function)


def _run_on(loop, coroutine_function):
    future = asyncio.run_coroutine_threadsafe(coroutine_function(), loop)
    try:
        return future.result(PUSH_TIMEOUT)
    except FutureTimeout:
        future.cancel()
        raise


def _usable(loop):
    return loop is not None and loop.is_running() and not loop.is_closed()


async def _running_loop():
    return asyncio.get_running_loop()


def server_loop():
    """The running event loop of the ASGI server this thread serves, or None.

    Its own, in a loop's thread; in a ``sync_to_async`` thread (a sync view, a consumer's database call),
    the loop ``async_to_sync`` runs coroutines on, which asgiref documents as the outer one. Asked of
    ``async_to_sync`` itself (one trip to the loop): in any other thread it runs the question on a new loop
    of its own, closed by the time it answers, which counts as none.
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        loop = async_to_sync(_running_loop)()
    except Exception:  # an interpreter shutting down
        return None
    return loop if _usable(loop) else None


@contextmanager
def pushing_on(loop):
    """Within the block, this thread's pushes run on ``loop`` (an ASGI server's, while it runs; None: as usual).

    For the kit's threads that settle a launch a server's door took (``proxy.settlement``): the verdict's
    push must reach that server's in-memory channel layer.
    """
    outer = getattr(_pushing, "loop", None)
    _pushing.loop = loop
    try:
        yield
    finally:
        _pushing.loop = outer


def _loop_running_here():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def push_loop():
    """The kit's push loop of this process, started on first use."""
    global _push_loop
    with _push_lock:
        if _push_loop is None or _push_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="proxy-push", daemon=True).start()
            _push_loop = loop
        return _push_loop


def _forget_parents_push_loop():
    """In a forked child the parent's push loop has no thread left to run it: start a new one on first use."""
    global _push_lock, _push_loop
    _push_lock, _push_loop = threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parents_push_loop)
