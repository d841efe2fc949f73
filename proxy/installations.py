"""The host's record of what each Cyclr account has installed, kept true from every channel.

One service writes ``Installation`` rows: ``record_install()`` for a verified install result,
``apply_event()`` for a Marketplace notification or a reconciliation finding. Each change of stored
state becomes one ``InstallationChange`` row, and its signal (``integration_installed``,
``integration_uninstalled``, ``integration_started``, ``integration_stopped``) is sent once, after commit.
An event that changes nothing (Cyclr retrying, a repeat) writes nothing and sends nothing. Becoming installed
by a launch's verified result sends no lifecycle signal: ``install_completed`` reports it; becoming installed
otherwise (a notification no launch explains, reconciliation) sends ``integration_installed``.

An event changes only the cycles it names. One account can install one Marketplace package more than
once, and every install's cycles belong to the one installation of that package, so the installation's
state is not the event's but follows from its cycles: it is *installed* while any of its cycles is (not
removed), and *running* while any of its installed cycles is ``Active``. Uninstalling one install of
two removes that install's cycles and leaves the installation installed, with no signal; removing the
last cycle uninstalls it (``integration_uninstalled``). Likewise ``integration_stopped`` and
``integration_started`` report the installation ceasing or starting to run, whatever the event.
"""
import logging
from dataclasses import asdict, dataclass, field, replace

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import signals
from .accounts import account_q, learned_guid
from .models import Installation, InstallationChange, InstallationCycle
from .outbox import claim_signal, mark_signal_sent, run_receivers

logger = logging.getLogger(__name__)

RUNNING = "Active"
STATUS_OF_EVENT = {"started": RUNNING, "stopped": "Stopped"}
SIGNALS = {
    InstallationChange.Kind.INSTALLED: signals.integration_installed,
    InstallationChange.Kind.UNINSTALLED: signals.integration_uninstalled,
    InstallationChange.Kind.STARTED: signals.integration_started,
    InstallationChange.Kind.STOPPED: signals.integration_stopped,
}
# record_install()'s source: a launch's verified install, which install_completed reports instead.
LAUNCH_SOURCE = "install"
# The changes that send a signal: every change but a launch's own install (also what proxy_replay looks for).
SIGNALLED = Q(kind__in=list(SIGNALS)) & ~Q(kind=InstallationChange.Kind.INSTALLED, source=LAUNCH_SOURCE)


def sends_signal(kind, source):
    """True if a change of ``kind`` made by ``source`` sends a lifecycle signal (see ``SIGNALLED``)."""
    return kind in SIGNALS and not (kind == InstallationChange.Kind.INSTALLED and source == LAUNCH_SOURCE)


@dataclass(frozen=True)
class CycleState:
    """One cycle as an event reports it."""

    cycle_id: str
    status: str = ""  # "Active" or "Stopped"
    template_id: str = ""
    template_release_id: str = ""
    name: str = ""
    cyclr_status: str = ""  # Cyclr's own word for it ("Paused" from the API)


@dataclass(frozen=True)
class IntegrationEvent:
    """A normalized lifecycle event: what Cyclr says happened to an account's integration.

    ``status`` is ``installed``, ``uninstalled``, ``started`` or ``stopped``; ``cycles`` are the
    ``CycleState``s it names; ``raw`` keeps what it was made from (the notification body, or
    Cyclr's cycle list for reconciliation). The account is named by its API id (``account_api_id``)
    when the source gives it, and by ``account_id``, which may hold either id (``proxy.accounts``).
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
                                  template_release_id=c.template_release_id, name=c.name, cyclr_status=c.cyclr_status)
                       for c in result.cycles)
        return cls(status=status, account_id=result.account_id, account_api_id=result.account_api_id,
                   package_id=result.marketplace_package_id, cycles=cycles, raw=raw if raw is not None else result.raw)

    def as_json(self):
        return asdict(self)


# --- writing state ----------------------------------------------------------------------------------------


def record_install(launch, result):
    """Record a launch's verified install (call inside the transaction that completes the launch).

    The installation becomes ``installed`` with the result's cycles; no ``integration_installed`` is sent,
    because ``install_completed`` already reports it.
    """
    event = IntegrationEvent.from_result("installed", result, raw={"launch": str(launch.pk)})
    # The launch's account, by the ids the kit holds for it: the API id it was minted for, the GUID once learned.
    event = replace(event, account_id=launch.cyclr_account_id, account_api_id=launch.account_api_id)
    return apply_event(event, source=LAUNCH_SOURCE, launch=launch)


def learn_account_guid(api_id, guid):
    """Give the account's GUID, once learned (Cyclr's notification pairs it with the API id), to its installations
    recorded without it: a notification that comes after the verdict still completes the account's record."""
    if guid:
        Installation.objects.filter(account_api_id=api_id, cyclr_account_id="").update(cyclr_account_id=guid)


def apply_event(event, *, source, launch=None, installation=None):
    """Apply one lifecycle event; return the ``InstallationChange``s it made (empty: nothing changed).

    ``installation``: the one it is about, when the caller knows (reconciliation); else it is found
    from the event (see ``_installation_for``). Signals for the changes are sent after the surrounding
    transaction commits.
    """
    for attempt in (0, 1):
        try:
            with transaction.atomic():
                return _apply(event, source=source, launch=launch, installation=installation)
        except IntegrityError:
            # Two workers created the same installation or cycle at once: the second pass sees the first's row.
            if attempt:
                raise


def _apply(event, *, source, launch, installation=None):
    now = timezone.now()
    # The installation's row is locked as it is read: concurrent events about it apply one after the other.
    locked = Installation.objects.select_for_update()
    installation = locked.get(pk=installation.pk) if installation else _installation_for(event, locked)
    # An account created without an API id gets Cyclr's own id as one (cyclr/docs, Create an account).
    api_id = event.account_api_id or event.account_id
    if installation is None:
        if event.status == "uninstalled":
            return []  # never known as installed here: nothing to take back
        installation = Installation.objects.create(
            account_api_id=api_id, cyclr_account_id=learned_guid(event.account_id, api_id),
            package_id=event.package_id or 0, changed_by=source, launch=launch,
        )
        was_installed, created = False, True
    else:
        was_installed, created = installation.is_installed, False
    was_running = was_installed and _any_running(installation)
    if not installation.cyclr_account_id and event.account_api_id == installation.account_api_id:
        installation.cyclr_account_id = learned_guid(event.account_id, installation.account_api_id)

    if event.status == "uninstalled":
        _remove_cycles(installation, [c.cycle_id for c in event.cycles], now)
        installed = was_installed and _any_installed(installation)
        running = installed and _any_running(installation)
    else:
        installed = True
        # Running if one of the event's cycles now is; else if another of the installation's cycles is (a new
        # installation has no other).
        running = _write_cycles(installation, event, now) or (not created and _any_running(installation))
        if launch is not None:
            installation.launch = launch
    installation.state = Installation.State.INSTALLED if installed else Installation.State.UNINSTALLED

    kinds = state_changes(event.status, was=(was_installed, was_running), now=(installed, running))
    if not kinds:  # the account's GUID or the launch may still have been filled in
        installation.save(update_fields=["cyclr_account_id", "state", "launch"])
        return []
    installation.changed_at, installation.changed_by = now, source
    installation.save(update_fields=["cyclr_account_id", "state", "launch", "changed_at", "changed_by"])
    changes = [InstallationChange.objects.create(installation=installation, kind=kind, source=source,
                                                 event=event.as_json(), created_at=now) for kind in kinds]
    for change in changes:
        if sends_signal(change.kind, change.source):
            transaction.on_commit(lambda change=change: send_change_signal(change.pk))
    logger.info("Installation %s: %s (%s)", installation.pk, ", ".join(kinds), source)
    return changes


def state_changes(event_status, *, was, now):
    """The changes of an installation's state from ``was`` to ``now`` (each ``(installed, running)``).

    Becoming installed is an ``installed`` change (``integration_installed``, unless a launch's result made it:
    ``install_completed`` reports that one); ceasing to be is ``uninstalled``. While it stays installed (or when a ``started`` or
    ``stopped`` event brings it back), starting or ceasing to run is ``started`` or ``stopped``.
    """
    (was_installed, was_running), (installed, running) = was, now
    kinds = []
    if installed != was_installed:
        kinds.append(InstallationChange.Kind.INSTALLED if installed else InstallationChange.Kind.UNINSTALLED)
    an_install = event_status == "installed" and not was_installed
    if installed and running != was_running and not an_install:
        kinds.append(InstallationChange.Kind.STARTED if running else InstallationChange.Kind.STOPPED)
    return kinds


def _live_cycles(installation):
    return InstallationCycle.objects.filter(installation=installation, removed_at__isnull=True)


def _any_installed(installation):
    return _live_cycles(installation).exists()


def _any_running(installation):
    return _live_cycles(installation).filter(status=RUNNING).exists()


def _remove_cycles(installation, cycle_ids, now):
    """Mark the named cycles of ``installation`` removed (Cyclr uninstalled them); the others stay as they are.

    A notification that names no cycle names only the package: all of the installation's cycles go. (If
    the account had installed the package twice, reconciliation puts back what Cyclr still lists.)
    """
    cycles = _live_cycles(installation)
    if cycle_ids:
        cycles = cycles.filter(cycle_id__in=cycle_ids)
    cycles.update(removed_at=now, changed_at=now)


def _installation_for(event, installations):
    """The installation an event is about, read from ``installations`` (a queryset: the caller's locking).

    An install (``installed``) goes to its package's installation, so that cycles reconciliation found
    first (package 0) are attributed once a notification names their package. Any other event is about
    cycles already recorded: it goes to the installation holding them, whatever package it names.
    Otherwise by package; with no package, the account's unattributed cycles (package 0).
    """
    of_account = account_q(account_id=event.account_id, account_api_id=event.account_api_id)
    account = installations.filter(of_account)

    def by_package():
        return account.filter(package_id=event.package_id).first() if event.package_id else None

    def by_cycles():
        cycle_ids = [c.cycle_id for c in event.cycles]
        if not cycle_ids:
            return None
        cycle = InstallationCycle.objects.filter(
            cycle_id__in=cycle_ids, installation__in=Installation.objects.filter(of_account)).first()
        return installations.get(pk=cycle.installation_id) if cycle else None

    # Asked in the order they count in, the second only if the first finds none.
    found = (by_package() or by_cycles()) if event.status == "installed" else (by_cycles() or by_package())
    if found is None and not event.package_id:
        return account.filter(package_id=0).first()
    return found


def _write_cycles(installation, event, now):
    """Store the event's cycles on ``installation``, as the event reports them (a removed one is back); True if one
    of them is now running. One read of their records, one insert of the new ones."""
    default_status = STATUS_OF_EVENT.get(event.status, "")
    records = {r.cycle_id: r for r in InstallationCycle.objects.filter(cycle_id__in=[c.cycle_id for c in event.cycles])}
    new, running = {}, False
    for cycle in event.cycles:
        status = cycle.status or default_status
        word = cycle.cyclr_status if cycle.status else status
        record = records.get(cycle.cycle_id) or new.get(cycle.cycle_id)
        if record is None:
            new[cycle.cycle_id] = record = InstallationCycle(
                installation=installation, cycle_id=cycle.cycle_id, name=cycle.name, status=status, cyclr_status=word,
                template_id=cycle.template_id, template_release_id=cycle.template_release_id, changed_at=now,
            )
        else:
            record.installation = installation
            record.removed_at = None
            record.template_id = cycle.template_id or record.template_id
            record.template_release_id = cycle.template_release_id or record.template_release_id
            record.name = cycle.name or record.name
            if status:
                record.status, record.cyclr_status = status, word
            record.changed_at = now
            if record.pk is not None:
                record.save()
        running = running or record.status == RUNNING
    InstallationCycle.objects.bulk_create(new.values())
    return running


def remove_cycles(installation, cycle_ids, *, source):
    """Mark cycles Cyclr no longer lists as removed; uninstall the installation when none is left.

    Returns the changes made (an ``uninstalled`` change when the last cycle went).
    """
    event = IntegrationEvent(status="uninstalled", account_id=installation.cyclr_account_id,
                             account_api_id=installation.account_api_id, package_id=installation.package_id or None,
                             cycles=tuple(CycleState(cycle_id=c) for c in cycle_ids),
                             raw={"reconcile": "Cyclr no longer lists these cycles", "cycles": list(cycle_ids)})
    return apply_event(event, source=source, installation=installation)


# --- telling the backend -------------------------------------------------------------------------------------


def signal_for_change(change):
    """``(signal, kwargs)`` a change sends, for ``send_change_signal`` and for replays."""
    return SIGNALS[change.kind], {"installation": change.installation, "event": event_of(change), "source": change.source}


def event_of(change):
    data = dict(change.event)
    data["cycles"] = tuple(CycleState(**c) for c in data.get("cycles", ()))
    return IntegrationEvent(**data)


def send_change_signal(change_id):
    """Send a change's signal once (claimed, sent, then marked, as ``proxy.outbox`` says); return the
    ``ReceiverFailure``s recorded for receivers that raised, or None if it was sent or is being sent."""
    change = claim_signal(InstallationChange.objects.select_related("installation"), change_id)
    if change is None:
        return None
    signal, kwargs = signal_for_change(change)
    failures = run_receivers(signal, Installation, kwargs, name=f"integration_{change.kind}",
                             about=f"installation change {change.pk}", change=change)
    mark_signal_sent(change)
    return failures
