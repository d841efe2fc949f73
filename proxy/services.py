"""``accept_result()``: the one service every delivery path calls.

Persist, then (after commit) verify and notify. Idempotent per launch: the same result
arriving again, by any path, is recorded as a duplicate arrival and changes nothing else.
"""
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .cyclr import CyclrClient
from .exceptions import CyclrAPIError, LaunchRejected
from .models import Arrival, Launch
from .notify import notify
from .results import InstallResult
from .verification import verify_result

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    launch: Launch
    duplicate: bool


def launch_not_found():
    return LaunchRejected("not_found", "There is no such launch. Start again from the Connect button.")


def check_owner(launch, user):
    """``LaunchRejected`` unless ``user`` (when given) owns the launch."""
    if user is not None and launch.user_id != user.pk:
        raise LaunchRejected("forbidden", "This launch belongs to another user.")


def check_unexpired(launch):
    if launch.is_expired:
        raise LaunchRejected("expired", "This launch has expired. Close the window and connect again.")


def accept_result(launch_id, data, *, source, user=None, message_id="", client=None) -> Outcome:
    """Take a result claimed for ``launch_id`` from ``source``.

    ``user``, when given, must own the launch. Raises ``InvalidResult`` or ``LaunchRejected``
    (both writing nothing); otherwise returns the launch as it stands after verification.
    """
    result = InstallResult.parse(data)
    with transaction.atomic():
        try:
            launch = Launch.objects.select_for_update().get(pk=launch_id)
        except (Launch.DoesNotExist, ValueError):
            raise launch_not_found() from None
        check_owner(launch, user)
        if launch.status != Launch.Status.PENDING:
            # The same install again (by any path, in any shape): a duplicate, not a conflict.
            if not result.same_install(launch.install_result()):
                raise LaunchRejected("conflict", "This launch already has a different result.")
            Arrival.objects.create(launch=launch, source=source, message_id=message_id[:64], duplicate=True)
            return Outcome(launch=launch, duplicate=True)
        check_unexpired(launch)
        launch.result_raw = data
        launch.result = result.as_json()
        launch.status = Launch.Status.RECEIVED
        launch.source = source
        launch.completed_at = timezone.now()
        launch.save()
        Arrival.objects.create(launch=launch, source=source, message_id=message_id[:64])
        transaction.on_commit(lambda: settle_launch(launch.pk, client=client))
    launch.refresh_from_db()
    return Outcome(launch=launch, duplicate=False)


def settle_launch(launch_id, *, client=None):
    """Verify a received result, mark it completed or failed, then send its signal once.

    If Cyclr cannot be asked, the launch stays ``received`` with code ``verification_pending``
    and ``manage.py proxy_replay`` settles it later.
    """
    launch = Launch.objects.get(pk=launch_id)
    if launch.status != Launch.Status.RECEIVED:
        return launch
    result = launch.install_result()
    try:
        reason = verify_result(launch, result, client=client or CyclrClient())
    except CyclrAPIError as exc:
        logger.warning("Launch %s stays unverified: %s", launch.pk, exc.message)
        Launch.objects.filter(pk=launch.pk).update(failure_code="verification_pending", failure_message=exc.message)
        return launch
    with transaction.atomic():
        launch = Launch.objects.select_for_update().get(pk=launch_id)
        if launch.status != Launch.Status.RECEIVED:  # settled meanwhile by another caller
            return launch
        launch.status = Launch.Status.FAILED if reason else Launch.Status.COMPLETED
        launch.failure_code, launch.failure_message = (reason.code, reason.message) if reason else ("", "")
        launch.signal_sent_at = timezone.now()
        launch.save()
        transaction.on_commit(lambda: notify(launch, result, reason))
    return launch
