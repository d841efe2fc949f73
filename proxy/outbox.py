"""The signal outbox: a signal the kit sends once, sent once, and never lost.

Every signal the kit sends once is sent the same way, for a ``Launch`` and an ``InstallationChange``
alike: ``claim_signal`` takes it on, one conditional ``UPDATE`` under the row lock (``signal_claimed_at``; a
launch's verdict sets it in the ``UPDATE`` that settles the launch), ``run_receivers`` calls every receiver
and records each one that raises as a ``ReceiverFailure``, and ``mark_signal_sent`` sets ``signal_sent_at``
only after they ran. What receivers get: **exactly once**, except across a crash between sending and marking
(or receivers running longer than ``SIGNAL_CLAIM_TIMEOUT``), where the sweeper (``manage.py proxy_replay``) sends
it again: **at least once**. It is never lost.

The pages hear of it apart, through ``proxy.push``.
"""
import logging
import traceback
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from . import signals
from .models import ReceiverFailure

logger = logging.getLogger(__name__)

# How long a claim to send a signal holds before the sweeper may take it over (the claimer died).
SIGNAL_CLAIM_TIMEOUT = timedelta(minutes=5)


def _receiver_name(receiver):
    return f"{getattr(receiver, '__module__', '?')}.{getattr(receiver, '__qualname__', repr(receiver))}"


def claim_signal(queryset, pk):
    """The row ``pk`` of ``queryset``, claimed for sending its signal now; None if it is not in ``queryset``
    (not ready), was sent, or another process claimed it less than ``SIGNAL_CLAIM_TIMEOUT`` ago.

    One conditional ``UPDATE`` takes the claim: the database runs it under the row's lock and checks its
    conditions against the row as the lock leaves it, so of two callers at once only one sets it. (A launch's
    verdict sets the claim itself, in the UPDATE that settles it: ``proxy.settle.settle_launch``.)
    """
    now = timezone.now()
    claimable = Q(signal_claimed_at__isnull=True) | Q(signal_claimed_at__lte=now - SIGNAL_CLAIM_TIMEOUT)
    if not queryset.filter(claimable, pk=pk, signal_sent_at__isnull=True).update(signal_claimed_at=now):
        return None
    row = queryset.get(pk=pk)
    row.signal_claimed_at = now
    return row


def mark_signal_sent(row):
    """Record that ``row``'s signal went out (after its receivers ran)."""
    row.signal_sent_at = timezone.now()
    type(row).objects.filter(pk=row.pk).update(signal_sent_at=row.signal_sent_at)


def signal_unsent():
    """The filter for rows whose signal never went out: unclaimed, or claimed longer ago than
    ``SIGNAL_CLAIM_TIMEOUT`` (the process sending it died before marking it sent)."""
    now = timezone.now()
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
