"""``accept_result()``: the one service every delivery path calls (the intake); ``settle_launch()``: what runs after it.

``accept_result`` persists the arrival and returns as soon as it is committed (the launch is then
``received``: the server owns the result), having scheduled ``settle_launch`` on commit
(``proxy.settlement``: a background thread, or a task backend). Idempotent per launch: the same
result arriving again, by any path, is recorded as a duplicate arrival; it adds only what it may (its
errors, and a notification's webhook URLs) and sends no second signal. A result whose cycles another
launch already recorded is refused as ``replayed``.

``settle_launch`` verifies with Cyclr, stores what Cyclr vouches for and marks the launch
``completed`` or ``failed``; ``deliver_signal`` then sends its signal and push. They live in
``proxy.settle`` (which imports neither this module nor the scheduling) and are re-exported here, the
documented place: intake → scheduling (``proxy.settlement``) → settle, one way.
"""
import hashlib
import json
import logging
from dataclasses import dataclass, replace

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, F, Q, Value
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from .accounts import learned_guid
from .exceptions import LaunchRejected
from .installations import learn_account_guid as learn_installations_guid
from .models import Arrival, Launch, RecordedCycle
from .results import InstallResult
# Documented here (``proxy.services.settle_launch``); they live in the settle layer, below the scheduling.
from .settle import RETRY_CAP, RETRY_FIRST, deliver_signal, retry_delay, settle_launch  # noqa: F401
from .settle import set_aside
from .settlement import schedule
from .verification import NOTIFICATION_SOURCE as NOTIFIED
from .verification import CHECKED_FIELDS, absorb, provisional_result

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    launch: Launch
    duplicate: bool


def launch_not_found():
    return LaunchRejected("not_found")


def check_owner(launch, user):
    """``LaunchRejected`` unless ``user`` (when given) owns the launch."""
    if user is not None and launch.user_id != user.pk:
        raise LaunchRejected("forbidden")


def check_unexpired(launch):
    if launch.is_expired:
        raise LaunchRejected("expired")


def replayed(cycle_id):
    return LaunchRejected("replayed", _("Cycle %(cycle)s was already recorded for another launch: "
                                        "a result completes one launch only. Connect again to install anew.")
                          % {"cycle": cycle_id})


def content_hash(data) -> str:
    """SHA-256 of the result as received, as canonical JSON: identical repeats hash alike."""
    try:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return ""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class CyclesTaken(Exception):
    """Raised inside the arrival's transaction when another launch holds one of its cycles; see ``record_cycles``."""

    def __init__(self, cycle_ids):
        super().__init__(cycle_ids)
        self.cycle_ids = cycle_ids


def record_cycles(launch, result, *, taken):
    """Record the result's cycles for ``launch``, which holds none of them now (a pending launch, or one whose claim
    was just set aside).

    ``taken``: whether another launch had recorded one of them when the launch was read (``arrival_facts``), so a
    replay writes nothing. Between concurrent deliveries of one install to two launches, the unique ``cycle_id``
    decides: the loser's insert fails and ``CyclesTaken`` is raised, which the caller lets roll back the whole
    arrival before naming the cycle (``taken_cycle``). No savepoint: two fewer round trips to the database per arrival.
    """
    cycle_ids = claimed_cycle_ids(result)
    if taken:
        raise CyclesTaken(cycle_ids)
    try:
        RecordedCycle.objects.bulk_create([RecordedCycle(cycle_id=cycle_id, launch=launch) for cycle_id in cycle_ids])
    except IntegrityError:
        raise CyclesTaken(cycle_ids) from None


def claimed_cycle_ids(result):
    """The ids of the cycles ``result`` claims, each once, in order."""
    return list(dict.fromkeys(c.cycle_id for c in result.cycles))


def taken_cycle(launch_id, cycle_ids):
    """``LaunchRejected("replayed")`` naming a cycle of ``cycle_ids`` another launch recorded (after the rollback)."""
    taken = RecordedCycle.objects.filter(cycle_id__in=cycle_ids).exclude(launch_id=launch_id).first()
    return replayed(taken.cycle_id if taken else cycle_ids[0])


def in_launch_terms(claim, launch):
    """A LAUNCH launch's claim in LAUNCH's terms, whichever door brought it first.

    Cyclr's webhook describes a LAUNCH install in the Marketplace's shape, naming a package; the
    browser's LAUNCH result names none. Either way the launch records ``flow="launch"`` and no
    package (its installation is the account's package 0), so the record does not depend on which
    arrival won the race.
    """
    if launch.preset and claim.flow != "launch":
        return replace(claim, flow="launch", marketplace_package_id=None)
    return claim


def learn_account_guid(launch, claim, *, source):
    """Set ``launch.cyclr_account_id`` from Cyclr's notification, which pairs the account's GUID with its API id
    (never from the browser's claim: Cyclr vouches for its cycles, not for the account id it names). True if it
    learned it now (not saved)."""
    if launch.cyclr_account_id or source != NOTIFIED or claim.account_api_id != launch.account_api_id:
        return False
    launch.cyclr_account_id = learned_guid(claim.account_id, launch.account_api_id)
    return bool(launch.cyclr_account_id)


def record_arrival(launch, *, source, message_id, digest, duplicate):
    """One ``Arrival`` row per distinct arrival: a repeat (same source, and same message id or content) counts on its row."""
    now = timezone.now()
    if duplicate:
        same = Q(content_hash=digest) if digest else Q(pk__in=[])
        if message_id:
            same |= Q(message_id=message_id)
        row = Arrival.objects.filter(same, launch=launch, source=source, duplicate=True).order_by("pk").first()
        if row is not None:
            Arrival.objects.filter(pk=row.pk).update(count=F("count") + 1, last_received_at=now)
            return
    Arrival.objects.create(launch=launch, source=source, message_id=message_id, content_hash=digest,
                           duplicate=duplicate, received_at=now, last_received_at=now)


def accept_result(launch_id, data, *, source, user=None, message_id="") -> Outcome:
    """Take a result claimed for ``launch_id`` from ``source``.

    ``user``, when given, must own the launch. Raises ``InvalidResult`` or ``LaunchRejected``
    (both writing nothing); otherwise returns once the arrival is committed, with the launch as it
    stands: ``received`` for a first arrival (verification is scheduled on commit, see
    ``proxy.settlement``), the current status for a duplicate. ``source="webhook"`` is for the
    authenticated Marketplace notification only: its webhook URLs count as vouched for by Cyclr.
    """
    claim = InstallResult.parse(data)
    message_id, digest = message_id[:64], content_hash(data)
    try:
        return _accept(launch_id, data, claim, source=source, user=user, message_id=message_id, digest=digest)
    except CyclesTaken as exc:  # the arrival was rolled back: nothing written
        raise taken_cycle(launch_id, exc.cycle_ids) from None


SETTLED = (Launch.Status.COMPLETED, Launch.Status.FAILED)


def supersedes(launch, claim, *, source) -> bool:
    """True if ``claim``, not a duplicate of the one ``launch`` holds (``disagree``), takes its place (docs/security.md,
    "Only Cyclr settles a launch").

    Two things only the browser said give way: a claim not yet verified gives way to Cyclr's notification, and
    a failure only the browser reported (no cycles, its errors) gives way to an install with cycles, which
    Cyclr then checks (once that failure's signal is out, so the two verdicts' signals cannot cross).
    """
    if launch.source == NOTIFIED:
        return False
    if launch.status == Launch.Status.RECEIVED:
        return source == NOTIFIED
    return claimed_failure_gives_way(launch, claim) and launch.signal_sent_at is not None


def claimed_failure_gives_way(launch, claim) -> bool:
    """True if ``launch`` failed only by the browser's word (no cycles, its errors) and ``claim`` has cycles."""
    return (launch.status == Launch.Status.FAILED and launch.failure_code == "install_errors"
            and launch.source != NOTIFIED and bool(claim.cycles))


def wait_for_it(launch, claim) -> bool:
    """True if ``claim`` may yet be taken, so its page should send it again shortly (``claim_pending``) rather than
    stop (``conflict``): the claim ``launch`` holds is being checked, or a browser-reported failure's signal is
    still going out before it gives way (``supersedes``)."""
    return launch.status == Launch.Status.RECEIVED or claimed_failure_gives_way(launch, claim)


def disagree(claim, held) -> bool:
    """True if ``claim`` and ``held``, claims of the same cycles, say different things Cyclr checks of one of them
    (verification's ``CHECKED_FIELDS``, or the webhook URLs, where both say something): they cannot both stand, so
    the later one is not a duplicate of the one being checked."""
    theirs = {c.cycle_id: c for c in held.cycles}
    for cycle in claim.cycles:
        other = theirs.get(cycle.cycle_id)
        if other is None:
            return True
        if any(getattr(cycle, f) and getattr(other, f) and getattr(cycle, f) != getattr(other, f) for f in CHECKED_FIELDS):
            return True
        urls, other_urls = {h.url for h in cycle.webhooks}, {h.url for h in other.webhooks}
        if urls and other_urls and urls != other_urls:
            return True
    return False


def arrival_facts(launch_id, claim, digest):
    """``launch_id``'s launch, locked for the arrival's transaction, read with two facts about ``claim`` in the same
    statement: ``refused_before`` (this very claim, by its ``digest``, was refused for it already) and
    ``cycles_taken`` (another launch recorded one of its cycles). One round trip to the database, not three.

    The two facts are ``EXISTS`` subqueries written out (``_exists``): built through ``Exists(OuterRef(...))``, the
    ORM took about 0.6 ms more to compile them than the database took to answer, on every arrival of every door.
    """
    cycle_ids = claimed_cycle_ids(claim)
    return (Launch.objects.select_for_update()
            .annotate(refused_before=_exists(REFUSED_BEFORE, [digest]) if digest else Value(False),
                      cycles_taken=_exists(CYCLES_TAKEN % ", ".join(["%s"] * len(cycle_ids)), cycle_ids)
                      if cycle_ids else Value(False))
            .get(pk=launch_id))


def _exists(sql, params):
    return RawSQL(sql, params, output_field=BooleanField())


def _column(model, field):
    return model._meta.get_field(field).column


# arrival_facts's subqueries, in the tables' and columns' own names (plain lowercase identifiers, the same unquoted
# on every database Django supports); the launch is the outer query's row. Whether this very claim (its digest: %s)
# was refused for the launch already; whether another launch holds one of the claim's cycles (IN: their ids).
LAUNCH_ID_COLUMN = f"{Launch._meta.db_table}.{Launch._meta.pk.column}"
REFUSED_BEFORE = (f"EXISTS (SELECT 1 FROM {Arrival._meta.db_table} a WHERE a.{_column(Arrival, 'launch')} = "
                  f"{LAUNCH_ID_COLUMN} AND a.{_column(Arrival, 'content_hash')} = %s "
                  f"AND a.{_column(Arrival, 'refused_code')} <> '')")
CYCLES_TAKEN = (f"EXISTS (SELECT 1 FROM {RecordedCycle._meta.db_table} r WHERE r.{_column(RecordedCycle, 'cycle_id')} "
                f"IN (%s) AND r.{_column(RecordedCycle, 'launch')} <> {LAUNCH_ID_COLUMN})")


def check_not_refused(launch):
    """``LaunchRejected("claim_refused")`` if this very claim was refused for ``launch`` already (``arrival_facts``):
    a page (or whoever drives it) re-sending it costs no second round of Cyclr calls."""
    if launch.refused_before:
        raise LaunchRejected("claim_refused")


def _accept(launch_id, data, claim, *, source, user, message_id, digest):
    with transaction.atomic():
        try:
            launch = arrival_facts(launch_id, claim, digest)
        except (Launch.DoesNotExist, ValueError):
            raise launch_not_found() from None
        check_owner(launch, user)
        if launch.status == Launch.Status.EXPIRED:
            check_unexpired(launch)
        if launch.status != Launch.Status.PENDING:
            if launch.status in SETTLED and timezone.now() >= launch.expires_at:
                # Repeats are taken while a page may still be re-sending (its outbox), not for ever.
                raise LaunchRejected("expired", _("This launch was settled and its time is up: its result is no longer "
                                                  "taken again. Check your integrations in the app."))
            held = launch.claimed_result()
            if claim.same_install(held) and not (launch.status == Launch.Status.RECEIVED and disagree(claim, held)):
                # The same install again (by any path, in any shape): a duplicate, not a conflict.
                return _duplicate(launch, claim, source=source, message_id=message_id, digest=digest)
            if not supersedes(launch, claim, source=source):
                # While the claim it holds is being checked, another may still be the genuine one: try again.
                raise LaunchRejected("claim_pending" if wait_for_it(launch, claim) else "conflict")
            set_aside(launch, "claim_refused", _("Replaced, before Cyclr confirmed it, by a result Cyclr "
                                                 "vouches for or can check."))
        check_unexpired(launch)
        check_not_refused(launch)
        claim = in_launch_terms(claim, launch)
        record_cycles(launch, claim, taken=launch.cycles_taken)
        launch.result_raw = data
        launch.claim = claim.as_json()
        launch.result = provisional_result(claim, source=source).as_json()
        launch.status = Launch.Status.RECEIVED
        launch.source = source
        launch.completed_at = timezone.now()
        # A verdict, failure or signal of a claim set aside (supersedes) is not this claim's.
        launch.failure_code = launch.failure_message = ""
        launch.last_attempt_error_code = launch.last_attempt_error_message = ""
        launch.claim_mismatches = []
        launch.signal_sent_at = launch.signal_claimed_at = launch.next_attempt_at = None
        learn_account_guid(launch, claim, source=source)
        launch.save(update_fields=["result_raw", "claim", "result", "status", "source", "completed_at", "cyclr_account_id",
                                   "failure_code", "failure_message", "last_attempt_error_code",
                                   "last_attempt_error_message", "claim_mismatches", "signal_sent_at",
                                   "signal_claimed_at", "next_attempt_at"])
        record_arrival(launch, source=source, message_id=message_id, digest=digest, duplicate=False)
        # Verification runs after the commit, outside the door: the ack need not wait for Cyclr.
        transaction.on_commit(lambda: schedule(launch.pk))
    # The launch as committed (received), whatever the task has done since: the ack says what the
    # arrival made, and the verdict follows by push and proxy:status.
    return Outcome(launch=launch, duplicate=False)


def _duplicate(launch, claim, *, source, message_id, digest):
    """The install ``launch`` already holds, again: it adds what it may (errors, URLs and the GUID the notification
    vouches for) and counts as a duplicate arrival."""
    stored = launch.install_result()
    merged = absorb(stored, claim, source=source)
    learned = learn_account_guid(launch, claim, source=source)
    if merged != stored or learned:  # errors it alone reported, URLs or the GUID the notification vouches for
        launch.result = merged.as_json()
        launch.save(update_fields=["result", "cyclr_account_id"])
    if learned:
        learn_installations_guid(launch.account_api_id, launch.cyclr_account_id)
    record_arrival(launch, source=source, message_id=message_id, digest=digest, duplicate=True)
    return Outcome(launch=launch, duplicate=True)
