"""Telling the backend and the user's pages that a launch settled."""
import logging
import traceback

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from . import protocol, signals
from .models import ReceiverFailure

logger = logging.getLogger(__name__)


def _receiver_name(receiver):
    return f"{getattr(receiver, '__module__', '?')}.{getattr(receiver, '__qualname__', repr(receiver))}"


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
    failures = []
    for receiver, response in signal.send_robust(sender=launch.__class__, **kwargs):
        receiver_name = _receiver_name(receiver)
        if isinstance(response, Exception):
            logger.error("Receiver %s failed for launch %s: %r", receiver_name, launch.pk, response)
            failures.append(ReceiverFailure.objects.create(
                launch=launch, signal=name, receiver=receiver_name, error=repr(response),
                traceback="".join(traceback.format_exception(response)),
            ))
    return failures


def push_event(launch):
    """Push the settled launch to the user's open ``ws/proxy/events/`` sockets and to the launch's own socket.

    The proxy page that was acked ``received`` waits on its launch's socket for the verified outcome.
    """
    event = protocol.install_event(launch)
    push_to_user(launch.user_id, event)
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(protocol.launch_group(launch.pk), {"type": "install.event", "event": event})
    except Exception:  # the page also polls proxy:status; a lost push only costs the live update
        logger.exception("Could not push a %s event to launch %s's socket", event["type"], launch.pk)


def push_to_user(user_id, event):
    """Push one event (a JSON-ready dict with a ``type``) to a user's open ``ws/proxy/events/`` sockets."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(protocol.user_group(user_id), {"type": "install.event", "event": event})
    except Exception:  # what it reports is stored; a lost push only costs the live update
        logger.exception("Could not push a %s event to user %s", event.get("type"), user_id)


def notify(launch, result, reason=None):
    send_signal(launch, result, reason)
    push_event(launch)
