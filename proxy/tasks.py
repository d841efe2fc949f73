"""The kit's background task: settle one launch (verify with Cyclr, record, signal), after the ack.

Django's Tasks framework is ``django.tasks`` from Django 6.0 and the ``django-tasks`` backport (the
same API) on 5.2: this module is the one place that knows which. ``proxy.settlement.schedule``
decides where the task runs (``CYCLR_PROXY["TASK_BACKEND"]``).
"""
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
    A launch Cyclr could not be asked about is given its next attempt (``proxy.settlement``).
    """
    from .settlement import run_settlement

    return run_settlement(launch_id)
