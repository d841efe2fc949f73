"""``settle_launch()``: what runs after an arrival committed; ask Cyclr, record its verdict, signal once.

The settle layer of DESIGN.md: below the doors, the intake (``proxy.services.accept_result``) and the
scheduling (``proxy.settlement``, ``proxy.tasks``, which decide where and when this runs); it imports none of
them. ``settle_launch`` verifies with Cyclr, stores what Cyclr vouches for and marks the launch ``completed``
or ``failed`` (a failed launch releases the cycles Cyclr did not vouch for as its own, ``release_cycles``, so
that a forged claim cannot lock their real launch out); ``deliver_signal`` then sends its signal and push,
and marks it sent only after it went out (see its docstring for the guarantee). ``proxy.services``
re-exports these names, where they are documented.
"""
import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .cyclr import CyclrClient
from .exceptions import CyclrAPIError, ProxyError
from .installations import record_install
from .models import Launch, RecordedCycle
from .notify import SIGNAL_CLAIM_TIMEOUT, claim_signal, mark_signal_sent, notify
from .verification import NOTIFICATION_SOURCE as NOTIFIED
from .verification import absorb, verify_result

logger = logging.getLogger(__name__)

# Verification attempts that could not reach Cyclr are retried after RETRY_FIRST, doubling up to RETRY_CAP.
RETRY_FIRST = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)


def retry_delay(attempts):
    """How long to wait after the ``attempts``-th attempt failed to reach Cyclr: exponential, capped."""
    return min(RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 16), RETRY_CAP)


def settle_launch(launch_id, *, client=None):
    """Verify a received result, store what Cyclr vouches for, mark it completed or failed; then signal once.

    Safe to run twice, and concurrently: the verdict is written under the row lock, only while the
    launch is still ``received``, and ``deliver_signal`` sends the signal once. Each call counts an
    attempt (``settle_attempts``, ``last_attempt_at``). If Cyclr cannot be asked, the launch stays
    ``received`` with code ``verification_pending`` and ``next_attempt_at`` set by ``retry_delay``;
    the scheduling (``proxy.settlement``, ``proxy.tasks``) tries it again then, and ``manage.py proxy_replay``
    (the sweeper) retries it once due.
    """
    started = timezone.now()
    if not Launch.objects.filter(pk=launch_id, status=Launch.Status.RECEIVED).update(
            settle_attempts=F("settle_attempts") + 1, last_attempt_at=started, next_attempt_at=None):
        launch = Launch.objects.get(pk=launch_id)
        deliver_signal(launch.pk)  # settled by an attempt that died before its signal went out
        return launch
    launch = Launch.objects.get(pk=launch_id)
    try:
        verdict = verify_result(launch, launch.claimed_result(), vouched=launch.install_result(),
                                client=client or CyclrClient())
    except CyclrAPIError as exc:
        retry_at = timezone.now() + retry_delay(launch.settle_attempts)
        logger.warning("Launch %s stays unverified (attempt %s, next at %s): %s", launch.pk, launch.settle_attempts,
                       retry_at.isoformat(), exc.message)
        Launch.objects.filter(pk=launch.pk, status=Launch.Status.RECEIVED).update(
            failure_code="verification_pending", failure_message=exc.message, next_attempt_at=retry_at)
        launch.refresh_from_db()
        return launch
    with transaction.atomic():
        launch = Launch.objects.select_for_update().get(pk=launch_id)
        if launch.status != Launch.Status.RECEIVED:  # settled meanwhile by another caller
            return launch
        # Repeats that arrived while Cyclr was being asked keep what they added (errors, notified URLs).
        result = absorb(verdict.result, launch.install_result(), source=NOTIFIED)
        reason = verdict.reason
        launch.result = result.as_json()
        launch.claim_mismatches = list(verdict.mismatches)
        launch.status = Launch.Status.FAILED if reason else Launch.Status.COMPLETED
        launch.failure_code, launch.failure_message = (reason.code, reason.message) if reason else ("", "")
        launch.next_attempt_at = None
        launch.save()
        if reason:
            release_cycles(launch, verdict.unvouched_cycles)
        else:
            record_install(launch, result)
        transaction.on_commit(lambda: deliver_signal(launch.pk))
    return launch


def release_cycles(launch, cycle_ids):
    """Let go of a failed launch's records of ``cycle_ids``, the cycles Cyclr did not vouch for as its own.

    The cycles were recorded when the claim arrived, before anyone asked Cyclr (``record_cycles``). Kept,
    a forged claim naming another account's cycles, or a real install's cycles ahead of its own result,
    would get that install refused as ``replayed`` on its own launch for good. Cycles Cyclr did vouch for
    are really installed under this launch's account and stay recorded. Called inside the verdict's
    transaction, so the release and the ``failed`` status commit together.
    """
    if cycle_ids:
        released, _ = RecordedCycle.objects.filter(launch=launch, cycle_id__in=cycle_ids).delete()
        if released:
            logger.info("Launch %s failed verification: released %s cycle(s) Cyclr did not vouch for.", launch.pk, released)


def deliver_signal(launch_id, *, claim_timeout=SIGNAL_CLAIM_TIMEOUT) -> bool:
    """Send a settled launch's signal and push, if not sent yet; True if this call sent them.

    Claimed, sent and marked as ``proxy.notify`` says (where the guarantee receivers get is spelled out):
    two callers never send it at once, and it is marked sent only after every receiver ran.
    """
    settled = Launch.objects.filter(status__in=[Launch.Status.COMPLETED, Launch.Status.FAILED])
    launch = claim_signal(settled, launch_id, claim_timeout=claim_timeout)
    if launch is None:
        return False
    reason = ProxyError(launch.failure_code, launch.failure_message) if launch.status == Launch.Status.FAILED else None
    notify(launch, launch.install_result(), reason)
    mark_signal_sent(launch)
    return True
