"""Reconciliation: repair the installation records from what Cyclr's API lists, account by account.

``reconcile()`` is what ``manage.py proxy_reconcile`` (and a cron line) runs. For each account it
lists the cycles with ``GET /v1.0/cycles`` (paged, bounded) and repairs three kinds of drift:
cycles Cyclr has that the records miss, records of cycles Cyclr no longer has (the last one gone
uninstalls the installation), and statuses that differ. Changes go through ``proxy.installations``
with ``source="reconcile"``, so they send the same signals, once. It also closes launches that
expired while pending and retries verification of results left unverified: those the sweeper would
take (``proxy.sweep.launches_due``: past their backoff, or lost in flight), settled as it settles them
(``proxy.sweep.settle_due``), at most ``max_settlements`` a run, so that a long Cyclr outage cannot make
one run ask Cyclr without end.
"""
import logging
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

from .accounts import account_header
from .cyclr import CyclrClient
from .exceptions import CyclrAPIError
from .installations import CycleState, IntegrationEvent, apply_event, remove_cycles
from .models import Installation, InstallationCycle, Launch, RecordedCycle
from .results import STATUSES
from .sweep import launches_due, settle_due

logger = logging.getLogger(__name__)

SOURCE = "reconcile"
# GET /v1.0/cycles page size; at most max_pages pages are read per account.
PAGE_SIZE = 50
MAX_PAGES = 20
# Unverified results settled per run at most (each costs one Cyclr call per cycle); the rest wait for the next run.
MAX_SETTLEMENTS = 50
# The lines for cycles Cyclr has that the records miss (the count decides the plural).
NO_RECORD = ngettext_lazy("%(account)s: %(count)d cycle in Cyclr had no record: %(names)s.",
                          "%(account)s: %(count)d cycles in Cyclr had no record: %(names)s.", "count")
RECORDED_UNINSTALLED = ngettext_lazy("%(account)s: %(count)d cycle in Cyclr is recorded as uninstalled: %(names)s.",
                                     "%(account)s: %(count)d cycles in Cyclr are recorded as uninstalled: %(names)s.",
                                     "count")


@dataclass
class Report:
    """What one reconciliation run found and did (or, in a dry run, would do)."""

    accounts: int = 0
    lines: list = field(default_factory=list)
    changes: int = 0
    errors: list = field(default_factory=list)
    expired_launches: int = 0
    settled_launches: int = 0
    settlements_left: int = 0
    failed_accounts: list = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self):
        return not self.errors

    def summary(self):
        verb = "would make" if self.dry_run else "made"
        text = (f"Reconciled {self.accounts} account(s): {verb} {self.changes} change(s); "
                f"{'would close' if self.dry_run else 'closed'} {self.expired_launches} expired launch(es); "
                f"{'would settle' if self.dry_run else 'settled'} {self.settled_launches} unverified result(s), "
                f"{self.settlements_left} left for the next run; {len(self.errors)} error(s).")
        if self.failed_accounts:
            text += f" Not reconciled: {', '.join(self.failed_accounts)}."
        return text

    def account_failed(self, label, exc):
        self.failed_accounts.append(label)
        self.errors.append(f"{label}: {exc.message}")


def accounts_to_reconcile(account_api_id=None):
    """``(account_api_id, cyclr_account_id)`` for each account the kit knows (the GUID "" until learned), or the
    one asked for. Accounts are identified by their API id (``proxy.accounts``)."""
    installations = Installation.objects.all()
    launches = Launch.objects.filter(status__in=[Launch.Status.RECEIVED, Launch.Status.COMPLETED, Launch.Status.FAILED])
    if account_api_id is not None:
        installations = installations.filter(account_api_id=account_api_id)
        launches = launches.filter(account_api_id=account_api_id)
    pairs = {}
    for api_id, guid in [*installations.values_list("account_api_id", "cyclr_account_id"),
                         *launches.values_list("account_api_id", "cyclr_account_id")]:
        if not pairs.get(api_id):
            pairs[api_id] = guid
    if account_api_id is not None and not pairs:
        return [(account_api_id, "")]  # unknown here: Cyclr still answers by API id
    return sorted(pairs.items())


def reconcile(*, account_api_id=None, dry_run=False, max_pages=MAX_PAGES, max_settlements=MAX_SETTLEMENTS):
    """Run one reconciliation; returns a ``Report`` (``report.ok`` is False if any account failed).

    At most ``max_pages`` cycle-list calls per account and ``max_settlements`` unverified results settled.
    """
    client = CyclrClient()
    report = Report(dry_run=dry_run)
    report.expired_launches = close_expired_launches(dry_run=dry_run, account_api_id=account_api_id)
    settle_unverified(account_api_id=account_api_id, report=report, limit=max_settlements, dry_run=dry_run)
    for api_id, guid in accounts_to_reconcile(account_api_id):
        report.accounts += 1
        try:
            # Only a complete listing (to Cyclr's empty page) is compared: an incomplete one raises, and the
            # account is reported and left as it is, never uninstalled from a partial list.
            listed = client.account_cycles(account=account_header(api_id, guid), page_size=PAGE_SIZE,
                                           max_pages=max_pages)
        except CyclrAPIError as exc:
            report.account_failed(api_id, exc)
            continue
        reconcile_account(api_id, listed, report=report, dry_run=dry_run, cyclr_account_id=guid)
    return report


def reconcile_account(account_api_id, listed, *, report, dry_run=False, cyclr_account_id=""):
    """Repair one account's records (by its API id) from ``listed``, Cyclr's complete list of its cycle objects."""
    label = account_api_id
    cyclr = {str(c.get("Id", "")).lower(): c for c in listed if c.get("Id")}
    records = {c.cycle_id: c for c in InstallationCycle.objects.select_related("installation").filter(
        installation__account_api_id=account_api_id, removed_at__isnull=True)}

    # Extra: recorded, but Cyclr no longer has them.
    gone = {}
    for cycle_id, record in records.items():
        if cycle_id not in cyclr:
            gone.setdefault(record.installation, []).append(cycle_id)
    for installation, cycle_ids in gone.items():
        report.lines.append(ngettext("%(account)s: %(count)d cycle of %(installation)s no longer exists in Cyclr.",
                                     "%(account)s: %(count)d cycles of %(installation)s no longer exist in Cyclr.",
                                     len(cycle_ids)) % {"account": label, "count": len(cycle_ids),
                                                        "installation": installation})
        report.changes += 1
        if not dry_run:
            remove_cycles(installation, cycle_ids, source=SOURCE)

    # Status drift, per installation, one event each so that each sends its signals once.
    drifted = {}
    for cycle_id, record in records.items():
        if cycle_id in cyclr:
            status = _status(cyclr[cycle_id])
            if status and status != record.status:
                drifted.setdefault(record.installation, []).append((record, status))
    for installation, pairs in drifted.items():
        for record, status in pairs:
            # The statuses are Cyclr's words (Active, Stopped), as ORBIT shows them.
            report.lines.append(_("%(account)s: cycle %(cycle)s is %(status)s in Cyclr, recorded as %(recorded)s.") % {
                "account": label, "cycle": record.cycle_id, "status": status, "recorded": record.status or _("unknown")})
        event = IntegrationEvent(
            status="started" if any(s == "Active" for _, s in pairs) else "stopped",
            account_id=cyclr_account_id, account_api_id=account_api_id, package_id=installation.package_id or None,
            cycles=tuple(_state(cyclr[r.cycle_id]) for r, _ in pairs),
            raw={"reconcile": "status drift", "cycles": [cyclr[r.cycle_id] for r, _ in pairs]},
        )
        report.changes += 1
        if not dry_run:
            apply_event(event, source=SOURCE)

    # Missing: Cyclr has them, the records do not (installed elsewhere, or a notification was lost), or
    # record them as uninstalled (a notification named more than Cyclr removed).
    recorded = dict(InstallationCycle.objects.filter(cycle_id__in=list(cyclr)).values_list("cycle_id", "removed_at"))
    # Cycles of a result still being verified are its launch's to record, under its package.
    verifying = set(RecordedCycle.objects.filter(cycle_id__in=list(cyclr), launch__status=Launch.Status.RECEIVED)
                    .values_list("cycle_id", flat=True))
    unknown = [cyclr[cycle_id] for cycle_id in cyclr if cycle_id not in recorded and cycle_id not in verifying]
    removed = [cyclr[cycle_id] for cycle_id in cyclr if recorded.get(cycle_id) is not None]
    for cycles, line in ((unknown, NO_RECORD), (removed, RECORDED_UNINSTALLED)):
        if cycles:
            names = ", ".join(str(c.get("Name") or c["Id"]) for c in cycles)
            report.lines.append(line % {"account": label, "count": len(cycles), "names": names})
    missing = unknown + removed
    if missing:
        report.changes += 1
        if not dry_run:
            apply_event(IntegrationEvent(
                status="installed", account_id=cyclr_account_id, account_api_id=account_api_id,
                cycles=tuple(_state(c) for c in missing), raw={"reconcile": "missing", "cycles": missing},
            ), source=SOURCE)


def close_expired_launches(*, dry_run=False, account_api_id=None):
    """Mark launches still pending past their expiry ``expired``; return how many."""
    launches = Launch.objects.filter(status=Launch.Status.PENDING, expires_at__lte=timezone.now())
    if account_api_id is not None:
        launches = launches.filter(account_api_id=account_api_id)
    if dry_run:
        return launches.count()
    return launches.update(status=Launch.Status.EXPIRED, failure_code="expired",
                           failure_message=_("No result arrived before the launch expired."))


def settle_unverified(*, account_api_id=None, report=None, limit=MAX_SETTLEMENTS, dry_run=False):
    """Retry verification of results Cyclr's API could not confirm earlier, oldest first; return how many settled.

    Only the launches the sweeper would take (``launches_due``: past their backoff, or in flight for
    longer than the grace period), and at most ``limit`` of them; ``report.settlements_left`` counts
    the due ones left for the next run. A dry run counts what it would try.
    """
    due = launches_due(account_api_id=account_api_id)
    total = due.count()
    chosen = list(due.order_by("created_at").values_list("pk", flat=True)[:max(limit, 0)])
    left = total - len(chosen)
    settled = 0
    for launch_id in chosen:
        if dry_run:
            settled += 1
            continue
        launch = settle_due(launch_id)
        if launch.status != Launch.Status.RECEIVED:
            settled += 1
        elif report is not None:
            report.errors.append(_("Launch %(launch)s: its result is still unverified (%(reason)s).") % {
                "launch": launch.pk, "reason": launch.last_attempt_error_message})
    if report is not None:
        report.settled_launches, report.settlements_left = settled, left
    return settled


def _status(cycle):
    """The state Cyclr lists a cycle in (its ``Paused`` is ``Stopped``), "" if it says none."""
    value = cycle.get("Status")
    return STATUSES.get(value.lower(), value[:16]) if isinstance(value, str) else ""


def _state(cycle):
    word = cycle.get("Status")
    return CycleState(cycle_id=str(cycle["Id"]).lower(), status=_status(cycle),
                      cyclr_status=word[:16] if isinstance(word, str) else "",
                      template_id=str(cycle.get("TemplateId") or "").lower(),
                      template_release_id=str(cycle.get("TemplateReleaseId") or "").lower(),
                      name=str(cycle.get("Name") or "")[:255])


__all__ = ["Report", "reconcile", "reconcile_account", "close_expired_launches", "settle_unverified"]
