"""Settling what did not settle: unverified results and receivers that raised."""
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .exceptions import ProxyError
from .installations import SIGNALS, send_change_signal, signal_for_change
from .models import Installation, InstallationChange, Launch, ReceiverFailure
from .notify import signal_for
from .services import settle_launch


def launches_needing_replay():
    """Launches a replay can change: a receiver failure not yet resolved, or a result still unverified.

    Settled launches whose receivers all ran (the great majority) are left alone.
    """
    unresolved = ReceiverFailure.objects.filter(launch=OuterRef("pk"), resolved_at__isnull=True)
    return Launch.objects.filter(Q(Exists(unresolved)) | Q(status=Launch.Status.RECEIVED)).order_by("created_at")


def changes_needing_replay():
    """Installation changes whose signal never went out, or with a receiver failure not yet resolved."""
    unresolved = ReceiverFailure.objects.filter(change=OuterRef("pk"), resolved_at__isnull=True)
    return InstallationChange.objects.filter(
        Q(signal_sent_at__isnull=True, kind__in=list(SIGNALS)) | Q(Exists(unresolved))).order_by("created_at")


def replay_launch(launch, *, client=None) -> str:
    """Retry verification of a ``received`` launch and rerun its failed receivers; say what happened."""
    if launch.status == Launch.Status.RECEIVED:
        launch = settle_launch(launch.pk, client=client)
        if launch.status == Launch.Status.RECEIVED:
            return f"still unverified ({launch.failure_message})"
        return f"settled as {launch.status}"
    reason = ProxyError(launch.failure_code, launch.failure_message) if launch.status == Launch.Status.FAILED else None
    signal, _, kwargs = signal_for(launch, launch.install_result(), reason)
    return rerun_failures(launch.receiver_failures, signal, Launch, kwargs)


def replay_change(change) -> str:
    """Send an installation change's signal if it never went out; rerun its receivers that raised."""
    if change.signal_sent_at is None:
        failures = send_change_signal(change.pk)
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
