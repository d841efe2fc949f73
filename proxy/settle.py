"""``settle_launch()``: what runs after an arrival committed; ask Cyclr, record its verdict, signal once.

The settle layer (docs/settling.md): below the doors, the intake (``proxy.services.accept_result``) and the
scheduling (``proxy.settlement``, ``proxy.tasks``, which decide where and when this runs); it imports none of
them. ``settle_launch`` verifies with Cyclr, stores what Cyclr vouches for and marks the launch ``completed``
or ``failed``; a claim Cyclr disputes is refused instead (``refuse_claim``: only Cyclr settles a launch, so a
forged claim can neither fail it nor hold its cycles); ``deliver_signal`` then sends its signal and push,
and marks it sent only after it went out (see its docstring for the guarantee). ``proxy.services``
re-exports these names, where they are documented.
"""
import logging
from dataclasses import replace
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import ahead
from .exceptions import CyclrAPIError, ProxyError
from .installations import record_install
from .models import Arrival, Launch, RecordedCycle
from .outbox import claim_signal, mark_signal_sent, send_signal
from .protocol import launch_group, refusal_event, user_group
from .push import push, push_event
from .verification import NOTIFICATION_SOURCE as NOTIFIED
from .verification import absorb, verify_result

logger = logging.getLogger(__name__)

# Verification attempts that could not reach Cyclr are retried after RETRY_FIRST, doubling up to RETRY_CAP.
RETRY_FIRST = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)


def retry_delay(attempts):
    """How long to wait after the ``attempts``-th attempt failed to reach Cyclr: exponential, capped."""
    return min(RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 16), RETRY_CAP)


def settle_launch(launch_id):
    """Verify a received result, store what Cyclr vouches for, mark it completed or failed; then signal once.

    Safe to run twice, and concurrently: the verdict is written under the row lock, only while the
    launch is still ``received``, and ``deliver_signal`` sends the signal once. Each call counts an
    attempt (``settle_attempts``, ``last_attempt_at``). If Cyclr cannot be asked, the launch stays
    ``received`` (not failed: ``failure_code`` stays empty), keeps Cyclr's error as
    ``last_attempt_error_code`` and ``last_attempt_error_message``, and gets ``next_attempt_at`` from
    ``retry_delay``; the scheduling (``proxy.settlement``, ``proxy.tasks``) tries it again then, and
    ``manage.py proxy_replay`` (the sweeper) retries it once due.
    """
    started = timezone.now()
    if not Launch.objects.filter(pk=launch_id, status=Launch.Status.RECEIVED).update(
            settle_attempts=F("settle_attempts") + 1, last_attempt_at=started, next_attempt_at=None):
        launch = Launch.objects.get(pk=launch_id)
        # Settled by an attempt that died before its signal went out: sent here once the verdict's claim is stale.
        deliver_signal(launch.pk)
        return launch
    launch = Launch.objects.get(pk=launch_id)
    verified_claim = launch.claim
    try:
        # The round the socket door asked ahead for this launch, if it did (proxy.ahead): else asked now.
        verdict = verify_result(launch, launch.claimed_result(), vouched=launch.install_result(),
                                answered=partial(ahead.take, launch.pk))
    except CyclrAPIError as exc:
        retry_at = timezone.now() + retry_delay(launch.settle_attempts)
        logger.warning("Launch %s stays unverified (attempt %s, next at %s): %s", launch.pk, launch.settle_attempts,
                       retry_at.isoformat(), exc.message)
        Launch.objects.filter(pk=launch.pk, status=Launch.Status.RECEIVED).update(
            last_attempt_error_code=exc.code, last_attempt_error_message=exc.message, next_attempt_at=retry_at)
        launch.refresh_from_db()
        return launch
    with transaction.atomic():
        launch = Launch.objects.select_for_update().get(pk=launch_id)
        if launch.status != Launch.Status.RECEIVED or launch.claim != verified_claim:
            return launch  # settled meanwhile by another caller, or its claim was superseded (its own settlement follows)
        reason = verdict.reason
        if reason is not None and reason.code in REFUSALS:
            refuse_claim(launch, verdict)
            transaction.on_commit(lambda: push_refusal(launch, reason))
            return launch
        # Repeats that arrived while Cyclr was being asked keep what they added (errors, notified URLs, the package
        # Cyclr's notification named); what only the browser said stays labelled as the latest arrival left it.
        stored = launch.install_result()
        result = replace(absorb(verdict.result, stored, source=NOTIFIED), claimed=stored.claimed)
        launch.result = result.as_json()
        launch.claim_mismatches = list(verdict.mismatches)
        launch.status = Launch.Status.FAILED if reason else Launch.Status.COMPLETED
        launch.failure_code, launch.failure_message = (reason.code, reason.message) if reason else ("", "")
        launch.next_attempt_at = None
        launch.last_attempt_error_code = launch.last_attempt_error_message = ""
        # The verdict claims its own signal in the same UPDATE, under the same lock (proxy.outbox): no other
        # caller can have claimed a launch that was not settled yet, and the signal needs no UPDATE of its own.
        launch.signal_claimed_at = timezone.now()
        launch.save(update_fields=VERDICT_FIELDS)
        if not reason:
            record_install(launch, result)
        transaction.on_commit(lambda: send_claimed_signal(launch))
    return launch


# What the verdict writes of the launch (the rest of the row is as the lock read it).
VERDICT_FIELDS = ("result", "claim_mismatches", "status", "failure_code", "failure_message", "next_attempt_at",
                  "last_attempt_error_code", "last_attempt_error_message", "signal_claimed_at")


# Verdicts by which Cyclr disputes the claim itself (another account, cycles it does not list under this launch's
# account, or lists as made before it, or describes otherwise): whoever controls the browser can post such a
# claim, so it is refused and the launch stays open for the genuine result and for Cyclr's notification.
REFUSALS = ("account_mismatch", "unknown_cycle", "replayed", "claim_mismatch")


def refuse_claim(launch, verdict):
    """Refuse the claim ``launch`` holds, for ``verdict``'s reason, and open the launch again (inside the verdict's
    transaction, the row locked).

    Its arrivals keep why (``Arrival.refused_code``, ``refused_message``, ``mismatches``), so the same claim sent
    again is refused at once (``proxy.services.check_not_refused``); its cycles are let go of; the launch is
    ``pending`` as before the claim came, until its genuine result, Cyclr's notification or its expiry.
    """
    reason = verdict.reason
    set_aside(launch, reason.code, reason.message, verdict.mismatches)
    launch.status = Launch.Status.PENDING
    launch.result = launch.claim = launch.result_raw = None
    launch.source, launch.completed_at, launch.next_attempt_at = "", None, None
    launch.failure_code = launch.failure_message = ""
    launch.last_attempt_error_code = launch.last_attempt_error_message = ""
    launch.claim_mismatches = []
    launch.save()
    logger.warning("Launch %s: Cyclr did not confirm the result claimed for it (%s); refused, the launch is open again.",
                   launch.pk, reason.code)


def push_refusal(launch, reason):
    """Tell the pages waiting on ``launch`` (its proxy page, the host page) that its claim was refused: they go
    back to waiting for the genuine result."""
    push(refusal_event(launch, reason), user_group(launch.user_id), launch_group(launch.pk))


def set_aside(launch, code, message, mismatches=()):
    """Mark the arrivals of the claim ``launch`` holds as refused (``code``, ``message``), and let go of its
    cycles: the launch is about to take another claim, or to wait for one (``proxy.settle.refuse_claim``)."""
    Arrival.objects.filter(launch=launch, refused_code="").update(
        refused_code=code, refused_message=message, mismatches=list(mismatches))
    RecordedCycle.objects.filter(launch=launch).delete()


def deliver_signal(launch_id) -> bool:
    """Send a settled launch's signal and push, if not sent yet; True if this call sent them.

    Claimed, sent and marked as ``proxy.outbox`` says (where the guarantee receivers get is spelled out):
    two callers never send it at once, and it is marked sent only after every receiver ran. A signal claimed
    by its verdict (``settle_launch``) is another caller's until its claim is stale.
    """
    launches = Launch.objects.filter(status__in=[Launch.Status.COMPLETED, Launch.Status.FAILED])
    launch = claim_signal(launches, launch_id)
    if launch is None:
        return False
    send_claimed_signal(launch)
    return True


def send_claimed_signal(launch):
    """Send the signal and push of a settled ``launch`` whose signal this process claimed (``deliver_signal``, or
    the verdict that settled it, with ``launch`` as that transaction committed it), then mark it sent."""
    reason = ProxyError(launch.failure_code, launch.failure_message) if launch.status == Launch.Status.FAILED else None
    send_signal(launch, launch.install_result(), reason)
    push_event(launch)
    mark_signal_sent(launch)
