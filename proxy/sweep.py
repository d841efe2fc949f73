"""The sweep: which launches are left to settle or to signal, and settling one, for both commands that sweep.

``manage.py proxy_replay`` (the sweeper, ``proxy.replay``) and ``manage.py proxy_reconcile``
(``proxy.reconcile``) both retry the verification of results left ``received``. They take the same launches
(``launches_due``) and settle each with the same function (``settle_due``), so a launch due is swept the same
way whichever command runs, and never one still in flight elsewhere: within its backoff, or in flight for less
than the grace period. ``signals_due`` finds the settled launches whose signal never went out (the sweeper's
alone: reconcile sends no launch's signal).

It imports the scheduling layer (``proxy.settlement``), which does not import it.
"""
from datetime import timedelta

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Launch
from .outbox import signal_unsent
from .settlement import run_settlement

# How long a settlement may be in flight (queued or running) before the sweeper counts it as lost.
# Verification is one Cyclr call per cycle, each bounded by API_TIMEOUT; queues may lag behind.
GRACE = timedelta(minutes=5)


def launches_due(grace=GRACE, *, account_api_id=None):
    """``received`` launches to settle now: their backoff has passed, or (no attempt failed) they have been
    in flight (queued or running) for longer than ``grace``, so their process or worker is taken for dead.
    Only the account ``account_api_id``'s, if given."""
    now = timezone.now()
    backoff_over = Q(next_attempt_at__isnull=False, next_attempt_at__lte=now)
    lost = Q(next_attempt_at__isnull=True, in_flight_since__lte=now - grace)
    due = (Launch.objects.filter(status=Launch.Status.RECEIVED)
           .annotate(in_flight_since=Coalesce("last_attempt_at", "completed_at", "created_at"))
           .filter(backoff_over | lost))
    if account_api_id is not None:
        due = due.filter(account_api_id=account_api_id)
    return due


def signals_due():
    """Settled launches whose signal never went out (``proxy.outbox.signal_unsent``)."""
    return Launch.objects.filter(signal_unsent(), status__in=[Launch.Status.COMPLETED, Launch.Status.FAILED])


def settle_due(launch_id):
    """Settle one launch in this thread, as the kit's own threads do (``run_settlement``: if Cyclr could not be
    asked, its next attempt is scheduled); return it as it now stands (still ``received`` if not verified)."""
    run_settlement(launch_id)
    return Launch.objects.get(pk=launch_id)
