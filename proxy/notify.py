"""Telling the backend and the user's pages that something happened: a launch settled, an installation changed.

Every signal the kit sends once is sent the same way, for a ``Launch`` and an ``InstallationChange``
alike: ``claim_signal`` takes it on under the row lock (``signal_claimed_at``), ``run_receivers`` calls every
receiver and records each one that raises as a ``ReceiverFailure``, and ``mark_signal_sent`` sets
``signal_sent_at`` only after they ran. What receivers get: **exactly once**, except across a crash between
sending and marking (or receivers running longer than ``SIGNAL_CLAIM_TIMEOUT``), where the sweeper
(``manage.py proxy_replay``) sends it again: **at least once**. It is never lost.
"""
import asyncio
import logging
import os
import threading
import traceback
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta

from contextlib import contextmanager

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import protocol, signals
from .models import ReceiverFailure

logger = logging.getLogger(__name__)

# How long a claim to send a signal holds before the sweeper may take it over (the claimer died).
SIGNAL_CLAIM_TIMEOUT = timedelta(minutes=5)


def _receiver_name(receiver):
    return f"{getattr(receiver, '__module__', '?')}.{getattr(receiver, '__qualname__', repr(receiver))}"


def claim_signal(queryset, pk, *, claim_timeout=SIGNAL_CLAIM_TIMEOUT):
    """The row ``pk`` of ``queryset``, claimed for sending its signal now; None if it is not in ``queryset``
    (not ready), was sent, or another process claimed it less than ``claim_timeout`` ago."""
    now = timezone.now()
    with transaction.atomic():
        row = queryset.select_for_update().filter(pk=pk).first()
        if row is None or row.signal_sent_at is not None:
            return None
        if row.signal_claimed_at is not None and row.signal_claimed_at > now - claim_timeout:
            return None  # another process is sending it right now
        row.signal_claimed_at = now
        row.save(update_fields=["signal_claimed_at"])
    return row


def mark_signal_sent(row):
    """Record that ``row``'s signal went out (after its receivers ran)."""
    row.signal_sent_at = timezone.now()
    type(row).objects.filter(pk=row.pk).update(signal_sent_at=row.signal_sent_at)


def signal_unsent(now=None):
    """The filter for rows whose signal never went out: unclaimed, or claimed longer ago than
    ``SIGNAL_CLAIM_TIMEOUT`` (the process sending it died before marking it sent)."""
    now = now or timezone.now()
    return Q(signal_sent_at__isnull=True) & (Q(signal_claimed_at__isnull=True) | Q(signal_claimed_at__lte=now - SIGNAL_CLAIM_TIMEOUT))


def run_receivers(signal, sender, kwargs, *, name, about, **failure_of):
    """Send ``signal`` to every receiver; record each that raises as a ``ReceiverFailure`` (with its
    traceback, for ``about``: ``launch=`` or ``change=`` in ``failure_of``); the others still run.
    Returns the failures recorded."""
    failures = []
    for receiver, response in signal.send_robust(sender=sender, **kwargs):
        if isinstance(response, Exception):
            receiver_name = _receiver_name(receiver)
            logger.error("Receiver %s failed for %s: %r", receiver_name, about, response)
            failures.append(ReceiverFailure.objects.create(
                **failure_of, signal=name, receiver=receiver_name, error=repr(response),
                traceback="".join(traceback.format_exception(response)),
            ))
    return failures


def signal_for(launch, result, reason=None):
    """``(signal, name, kwargs)``: what a settled launch sends, for ``send_signal`` and for replays."""
    kwargs = {"launch": launch, "result": result, "source": launch.source}
    if reason:
        return signals.install_failed, "install_failed", {**kwargs, "reason": reason}
    return signals.install_completed, "install_completed", kwargs


def send_signal(launch, result, reason=None):
    """Send the launch's signal to every receiver.

    A receiver that raises is recorded as a ``ReceiverFailure`` with its traceback; the
    others still run. Returns the failures recorded.
    """
    signal, name, kwargs = signal_for(launch, result, reason)
    return run_receivers(signal, launch.__class__, kwargs, name=name, about=f"launch {launch.pk}", launch=launch)


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


def notify(launch, result, reason=None):
    send_signal(launch, result, reason)
    push_event(launch)
