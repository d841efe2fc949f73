"""The kit's background task: settle one launch (verify with Cyclr, record, signal), after the ack.

Django's Tasks framework is ``django.tasks`` from Django 6.0 and the ``django-tasks`` backport (the
same API) on 5.2: this module is the one place that knows which. ``proxy.settlement.schedule``
decides where the task runs (``CYCLR_PROXY["TASK_BACKEND"]``) and enqueues it here; the task calls the
settle layer (``proxy.settle``) and re-enqueues itself for a retry, importing no scheduling, no intake.
"""
import logging
from datetime import timedelta

from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.utils import timezone

from .conf import proxy_settings
from .models import Launch
from .settle import settle_launch

logger = logging.getLogger(__name__)

# A settlement that failed on a transient database error (SQLite's "database is locked", a PostgreSQL
# deadlock or serialization failure, a dropped connection) is tried again after each of these delays, in
# seconds (about 8 s in all), by the kit itself; only then is it left to the sweeper (``proxy_replay``).
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
TRANSIENT_RETRY_DELAYS = (0.2, 0.5, 1, 2, 4)

try:  # Django 6.0+
    from django.tasks import task, task_backends
    from django.tasks.signals import task_finished  # noqa: F401 (re-exported for tests and integrators)
except ImportError:  # Django 5.2: the backport
    from django_tasks import task, task_backends  # noqa: F401
    from django_tasks.signals import task_finished  # noqa: F401 (importing it also resets backends on setting_changed)


@task()
def settle_launch_task(launch_id: str, transient_failures: int = 0) -> str:
    """Settle one ``received`` launch; returns its status afterwards (the task's result, for the operator).

    Safe to run twice, and alongside any other settling of the same launch: see ``settle_launch``.
    A launch Cyclr could not be asked about is enqueued again for its next attempt, on a backend that
    can defer (``retry_on_backend``); so is one that failed on a transient database error, within seconds
    (``TRANSIENT_RETRY_DELAYS``; ``transient_failures`` counts them). Elsewhere, or once those retries
    are spent, the task fails and the sweeper (``manage.py proxy_replay``) retries it.
    """
    try:
        launch = settle_launch(launch_id)
    except TRANSIENT_DATABASE_ERRORS as exc:
        if not retry_transient_on_backend(launch_id, proxy_settings.TASK_BACKEND, transient_failures, exc):
            raise
        return Launch.Status.RECEIVED
    if launch.status == Launch.Status.RECEIVED and launch.next_attempt_at is not None:
        retry_on_backend(launch, proxy_settings.TASK_BACKEND)
    return launch.status


def enqueue(launch_id, alias, *, run_after=None):
    """Enqueue ``settle_launch_task`` for ``launch_id`` on the ``TASKS`` backend ``alias``."""
    return settle_launch_task.using(backend=alias, run_after=run_after).enqueue(str(launch_id))


def retry_on_backend(launch, alias):
    """Enqueue the launch's next attempt at its ``next_attempt_at`` on the backend ``alias``; True if it did.

    Only a backend that can defer: an immediate backend cannot wait (nor can ``None``, the in-process
    default, whose retries ``proxy.settlement`` times itself); the sweeper retries those.
    """
    if alias is None or not task_backends[alias].supports_defer:
        return False
    enqueue(launch.pk, alias, run_after=launch.next_attempt_at)
    return True


def retry_transient_on_backend(launch_id, alias, failures, exc):
    """Enqueue the task again after a transient database error, ``TRANSIENT_RETRY_DELAYS[failures]`` from now,
    on a backend that can defer; True if it did (False once the delays are spent, or if the enqueue failed)."""
    if failures >= len(TRANSIENT_RETRY_DELAYS) or alias is None or not task_backends[alias].supports_defer:
        return False
    delay = TRANSIENT_RETRY_DELAYS[failures]
    if not transaction.get_connection().in_atomic_block:
        close_old_connections()  # a dropped connection is replaced, not reused, by the enqueue below
    logger.warning("Settling launch %s failed on a database error (%s); trying again in %s s.", launch_id, exc, delay)
    try:
        settle_launch_task.using(backend=alias, run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
            str(launch_id), transient_failures=failures + 1)
    except Exception:
        logger.exception("Could not enqueue the retry of launch %s; the sweeper (proxy_replay) will retry it.", launch_id)
        return False
    return True
