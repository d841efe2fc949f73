"""The host's record of what each Cyclr account has installed, kept true from every channel.

One service writes ``Installation`` rows: ``record_install()`` for a verified install result,
``apply_event()`` for a Marketplace notification or a reconciliation finding. Each change of stored
state becomes one ``InstallationChange`` row, and its signal (``integration_uninstalled``,
``integration_started``, ``integration_stopped``) is sent once, after commit. An event that changes
nothing (Cyclr retrying, a repeat) writes nothing and sends nothing.
"""
import logging
from dataclasses import asdict, dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import signals
from .models import Installation, InstallationChange, InstallationCycle
from .notify import claim_signal, mark_signal_sent, run_receivers

logger = logging.getLogger(__name__)

RUNNING = "Active"
STATUS_OF_EVENT = {"started": RUNNING, "stopped": "Stopped"}
SIGNALS = {
    InstallationChange.Kind.UNINSTALLED: signals.integration_uninstalled,
    InstallationChange.Kind.STARTED: signals.integration_started,
    InstallationChange.Kind.STOPPED: signals.integration_stopped,
}


@dataclass(frozen=True)
class CycleState:
    """One cycle as an event reports it."""

    cycle_id: str
    status: str = ""
    template_id: str = ""
    template_release_id: str = ""
    name: str = ""


@dataclass(frozen=True)
class IntegrationEvent:
    """A normalized lifecycle event: what Cyclr says happened to an account's integration.

    ``status`` is ``installed``, ``uninstalled``, ``started`` or ``stopped``; ``cycles`` are the
    ``CycleState``s it names; ``raw`` keeps what it was made from (the notification body, or
    Cyclr's cycle list for reconciliation).
    """

    status: str
    account_id: str
    account_api_id: str = ""
    package_id: int | None = None
    cycles: tuple = ()
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_result(cls, status, result, raw=None):
        """From a Marketplace notification already checked by ``InstallResult.parse``."""
        cycles = tuple(CycleState(cycle_id=c.cycle_id, status=c.status, template_id=c.template_id,
                                  template_release_id=c.template_release_id, name=c.name) for c in result.cycles)
        return cls(status=status, account_id=result.account_id, account_api_id=result.account_api_id,
                   package_id=result.marketplace_package_id, cycles=cycles, raw=raw if raw is not None else result.raw)

    def as_json(self):
        return asdict(self)


# --- writing state ----------------------------------------------------------------------------------------


def record_install(launch, result, *, source="install"):
    """Record a launch's verified install (call inside the transaction that completes the launch).

    The installation becomes ``installed`` with the result's cycles; no lifecycle signal is sent,
    because ``install_completed`` already reports it.
    """
    event = IntegrationEvent.from_result("installed", result, raw={"launch": str(launch.pk)})
    if not event.account_id:
        event = IntegrationEvent(**{**asdict(event), "account_id": launch.cyclr_account_id, "raw": event.raw})
    return apply_event(event, source=source, launch=launch)


def apply_event(event, *, source, launch=None):
    """Apply one lifecycle event; return the ``InstallationChange``s it made (empty: nothing changed).

    Signals for the changes are sent after the surrounding transaction commits.
    """
    for attempt in (0, 1):
        try:
            with transaction.atomic():
                return _apply(event, source=source, launch=launch)
        except IntegrityError:
            # Two workers created the same installation or cycle at once: the second pass sees the first's row.
            if attempt:
                raise


def _apply(event, *, source, launch):
    now = timezone.now()
    installation = _installation_for(event)
    if installation is None:
        if event.status == "uninstalled":
            return []  # never known as installed here: nothing to take back
        installation = Installation.objects.create(
            cyclr_account_id=event.account_id, account_api_id=event.account_api_id,
            package_id=event.package_id or 0, changed_by=source, launch=launch,
        )
        was_installed = False
    else:
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        was_installed = installation.is_installed
    if event.account_api_id and not installation.account_api_id:
        installation.account_api_id = event.account_api_id

    kinds = []
    if event.status == "uninstalled":
        if was_installed:
            installation.state = Installation.State.UNINSTALLED
            InstallationCycle.objects.filter(installation=installation, removed_at__isnull=True).update(removed_at=now, changed_at=now)
            kinds.append(InstallationChange.Kind.UNINSTALLED)
    else:
        transitions = _write_cycles(installation, event, now)
        if event.status == "installed" and not was_installed:
            kinds.append(InstallationChange.Kind.INSTALLED)
        if not was_installed or installation.state != Installation.State.INSTALLED:
            installation.state = Installation.State.INSTALLED
        if event.status != "installed" or was_installed:
            if any(new == RUNNING for _, new in transitions):
                kinds.append(InstallationChange.Kind.STARTED)
            if any(new != RUNNING for _, new in transitions):
                kinds.append(InstallationChange.Kind.STOPPED)
        if launch is not None:
            installation.launch = launch
    if not kinds:  # the account id, state or launch may still have been filled in
        installation.save(update_fields=["account_api_id", "state", "launch"])
        return []
    installation.changed_at, installation.changed_by = now, source
    installation.save()
    changes = [InstallationChange.objects.create(installation=installation, kind=kind, source=source,
                                                 event=event.as_json(), created_at=now) for kind in kinds]
    for change in changes:
        if change.kind in SIGNALS:
            transaction.on_commit(lambda change=change: send_change_signal(change.pk))
    logger.info("Installation %s: %s (%s)", installation.pk, ", ".join(kinds), source)
    return changes


def _installation_for(event):
    """The installation an event is about: by its package, else by the cycles it names."""
    account = Installation.objects.filter(cyclr_account_id=event.account_id)
    if event.package_id:
        found = account.filter(package_id=event.package_id).first()
        if found:
            return found
    cycle_ids = [c.cycle_id for c in event.cycles]
    if cycle_ids:
        cycle = InstallationCycle.objects.filter(cycle_id__in=cycle_ids, installation__cyclr_account_id=event.account_id).first()
        if cycle:
            return cycle.installation
    if not event.package_id:
        return account.filter(package_id=0).first()
    return None


def _write_cycles(installation, event, now):
    """Store the event's cycles on ``installation``; return ``(old, new)`` status transitions of known cycles."""
    transitions = []
    default_status = STATUS_OF_EVENT.get(event.status, "")
    for cycle in event.cycles:
        status = cycle.status or default_status
        record = InstallationCycle.objects.filter(cycle_id=cycle.cycle_id).first()
        if record is None:
            InstallationCycle.objects.create(
                installation=installation, cycle_id=cycle.cycle_id, name=cycle.name, status=status,
                template_id=cycle.template_id, template_release_id=cycle.template_release_id, changed_at=now,
            )
            if event.status != "installed" and status:
                transitions.append(("", status))
            continue
        old = "" if record.removed_at else record.status
        record.installation = installation
        record.removed_at = None
        record.template_id = cycle.template_id or record.template_id
        record.template_release_id = cycle.template_release_id or record.template_release_id
        record.name = cycle.name or record.name
        if status and status != record.status:
            record.status = status
        if status and status != old:
            transitions.append((old, status))
        record.changed_at = now
        record.save()
    return [(old, new) for old, new in transitions if _running(old) != _running(new)]


def _running(status):
    return status == RUNNING


def remove_cycles(installation, cycle_ids, *, source):
    """Mark cycles Cyclr no longer lists as removed; uninstall the installation when none is left.

    Returns the changes made (an ``uninstalled`` change when the last cycle went).
    """
    now = timezone.now()
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        InstallationCycle.objects.filter(installation=installation, cycle_id__in=cycle_ids,
                                         removed_at__isnull=True).update(removed_at=now, changed_at=now)
        if installation.cycles.filter(removed_at__isnull=True).exists() or not installation.is_installed:
            return []
        event = IntegrationEvent(status="uninstalled", account_id=installation.cyclr_account_id,
                                 account_api_id=installation.account_api_id, package_id=installation.package_id or None,
                                 cycles=tuple(CycleState(cycle_id=c) for c in cycle_ids),
                                 raw={"reconcile": "Cyclr no longer lists these cycles", "cycles": list(cycle_ids)})
        return _apply(event, source=source, launch=None)


# --- telling the backend -------------------------------------------------------------------------------------


def signal_for_change(change):
    """``(signal, kwargs)`` a change sends, for ``send_change_signal`` and for replays."""
    return SIGNALS[change.kind], {"installation": change.installation, "event": event_of(change), "source": change.source}


def event_of(change):
    data = dict(change.event)
    data["cycles"] = tuple(CycleState(**c) for c in data.get("cycles", ()))
    return IntegrationEvent(**data)


def send_change_signal(change_id):
    """Send a change's signal once (claimed, sent, then marked, as ``proxy.notify`` says); return the
    ``ReceiverFailure``s recorded for receivers that raised, or None if it was sent or is being sent."""
    change = claim_signal(InstallationChange.objects.select_related("installation"), change_id)
    if change is None:
        return None
    signal, kwargs = signal_for_change(change)
    failures = run_receivers(signal, Installation, kwargs, name=f"integration_{change.kind}",
                             about=f"installation change {change.pk}", change=change)
    mark_signal_sent(change)
    return failures
