"""Settling what did not settle: unverified results, signals that never went out, receivers that raised.

This is the sweeper ``manage.py proxy_replay`` runs from cron (docs/production.md, "The sweeper cron"). It leaves alone what
is still in flight elsewhere: a launch being verified (``proxy.sweep.launches_due``: its backoff and
the grace period) and a signal being sent (``proxy.sweep.signals_due``). A due launch is settled by
``proxy.sweep.settle_due``, as ``proxy_reconcile`` settles it.
"""
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .exceptions import ProxyError
from .installations import SIGNALLED, send_change_signal, sends_signal, signal_for_change
from .models import Installation, InstallationChange, Launch, ReceiverFailure
from .outbox import signal_for, signal_unsent
from .services import deliver_signal
from .sweep import GRACE, launches_due, settle_due, signals_due


def launches_needing_replay(grace=GRACE):
    """Launches a replay can change: a result due for verification, a signal that never went out, or a
    receiver failure not yet resolved.

    Settled launches whose receivers all ran (the great majority) are left alone, and so are results
    still in flight elsewhere (within their backoff or ``grace``) and signals another process is sending
    (claimed less than ``proxy.outbox.SIGNAL_CLAIM_TIMEOUT`` ago).
    """
    unresolved = ReceiverFailure.objects.filter(launch=OuterRef("pk"), resolved_at__isnull=True)
    due = launches_due(grace).values("pk")
    unsignalled = signals_due().values("pk")
    return Launch.objects.filter(Q(pk__in=due) | Q(pk__in=unsignalled) | Q(Exists(unresolved))).order_by("created_at")


def changes_needing_replay():
    """Installation changes whose signal never went out, or with a receiver failure not yet resolved."""
    unresolved = ReceiverFailure.objects.filter(change=OuterRef("pk"), resolved_at__isnull=True)
    return InstallationChange.objects.filter(
        (signal_unsent() & SIGNALLED) | Q(Exists(unresolved))).order_by("created_at")


def replay_launch(launch) -> str:
    """Retry verification of a ``received`` launch, send a signal that never went out, rerun failed receivers;
    say what happened."""
    if launch.status == Launch.Status.RECEIVED:
        settle_due(launch.pk)
        launch.refresh_from_db()
        if launch.status == Launch.Status.RECEIVED:
            return (f"still unverified after {launch.settle_attempts} attempt(s) ({launch.last_attempt_error_message}); "
                    f"next attempt at {launch.next_attempt_at.isoformat() if launch.next_attempt_at else 'once due'}")
        return f"settled as {launch.status}"
    if launch.status in (Launch.Status.COMPLETED, Launch.Status.FAILED) and launch.signal_sent_at is None:
        if deliver_signal(launch.pk):
            return f"{launch.status} signal sent"
        return "signal being sent by another process"
    reason = ProxyError(launch.failure_code, launch.failure_message) if launch.status == Launch.Status.FAILED else None
    signal, _, kwargs = signal_for(launch, launch.install_result(), reason)
    return rerun_failures(launch.receiver_failures, signal, Launch, kwargs)


def replay_change(change) -> str:
    """Send an installation change's signal if it never went out; rerun its receivers that raised."""
    if not sends_signal(change.kind, change.source):
        return str(_("no signal of its own: install_completed reports a launch's install"))
    if change.signal_sent_at is None:
        failures = send_change_signal(change.pk)
        if failures is None:
            return "signal being sent by another process"
        return f"signal sent, {len(failures)} receiver(s) failing"
    signal, kwargs = signal_for_change(change)
    return rerun_failures(change.receiver_failures, signal, Installation, kwargs)


def rerun_failures(failures, signal, sender, kwargs) -> str:
    """Call each unresolved failed receiver again with the signal's arguments; mark the ones that pass resolved."""
    rerun, still_failing = 0, 0
    for failure in failures.filter(resolved_at__isnull=True):
        try:
            import_string(failure.receiver)(signal=signal, sender=sender, **kwargs)
        except Exception as exc:
            still_failing += 1
            failure.error = f"{failure.error}\nreplayed {timezone.now().isoformat()}: {exc!r}"
            failure.save(update_fields=["error"])
            continue
        failure.resolved_at = timezone.now()
        failure.save(update_fields=["resolved_at"])
        rerun += 1
    return f"{rerun} receiver(s) rerun, {still_failing} still failing"
