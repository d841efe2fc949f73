"""The kit's background task: settle one launch (verify with Cyclr, record, signal), after the ack.

Django's Tasks framework is ``django.tasks`` from Django 6.0 and the ``django-tasks`` backport (the
same API) on 5.2: this module is the one place that knows which. ``proxy.settlement.schedule``
decides where the task runs (``CYCLR_PROXY["TASK_BACKEND"]``) and enqueues it here; the task calls the
settle layer (``proxy.settle``) and re-enqueues itself for a retry, importing no scheduling, no intake.
"""
from .conf import proxy_settings
from .models import Launch
from .settle import settle_launch

try:  # Django 6.0+
    from django.tasks import task, task_backends
    from django.tasks.signals import task_finished  # noqa: F401 (re-exported for tests and integrators)

    IMMEDIATE_BACKEND = "django.tasks.backends.immediate.ImmediateBackend"
except ImportError:  # Django 5.2: the backport
    from django_tasks import task, task_backends  # noqa: F401
    from django_tasks.signals import task_finished  # noqa: F401 (importing it also resets backends on setting_changed)

    IMMEDIATE_BACKEND = "django_tasks.backends.immediate.ImmediateBackend"


@task()
def settle_launch_task(launch_id: str) -> str:
    """Settle one ``received`` launch; returns its status afterwards (the task's result, for the operator).

    Safe to run twice, and alongside any other settling of the same launch: see ``settle_launch``.
    A launch Cyclr could not be asked about is enqueued again for its next attempt, on a backend that
    can defer (``retry_on_backend``); elsewhere the sweeper (``manage.py proxy_replay``) retries it.
    """
    launch = settle_launch(launch_id)
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
