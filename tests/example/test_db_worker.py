"""The durable production path: CYCLR_PROXY["TASK_BACKEND"] naming a django-tasks-db DatabaseBackend,
run by a real ``manage.py db_worker`` process on PostgreSQL (docs/production.md).

The test process takes the arrival (``accept_result``, which enqueues a task row on commit); the worker,
another process on the same database, settles it. Assertions are on rows and on the signal log the
worker's receivers append to (``tests.example.scaleout_worker``). These run in `make test`'s second pass.
"""
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from proxy.models import Launch
from proxy.services import accept_result

from ..test_scaleout import require_scaleout  # noqa: F401 (autouse: skip, or fail in CI, without PostgreSQL and Redis)
from .workers import ROOT, scaleout_env, signals_sent, wait_until

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]




@pytest.fixture
def database_tasks(settings, cyclr):
    """This process enqueues on hostkit's "database" alias (django_tasks_db.DatabaseBackend)."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "TASK_BACKEND": "database"}


@pytest.fixture
def db_worker(cyclr, signal_log, tmp_path, database_tasks):
    """``db_worker()`` starts ``manage.py db_worker`` for the "database" alias; every one started is stopped."""
    started = []

    def start():
        env = scaleout_env(cyclr, signal_log, TASK_BACKEND="database")
        log = open(tmp_path / f"db-worker-{len(started)}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--backend", "database", "--interval", "0.1",
             "--no-startup-delay", "--no-reload", "--verbosity", "2"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()
        print(open(log.name).read()[-4000:])  # shown by pytest only when the test failed



def status_of(launch):
    return Launch.objects.get(pk=launch.pk).status


def test_the_db_worker_settles_what_the_door_enqueued(db_worker, installed, user, signal_log):
    launch, data = installed()
    outcome = accept_result(launch.pk, data, source="socket", user=user)
    assert outcome.launch.status == Launch.Status.RECEIVED
    (task,) = DBTaskResult.objects.all()  # enqueued on commit, as a row in the same database
    assert task.task_path == "proxy.tasks.settle_launch_task" and task.args_kwargs["args"] == [str(launch.pk)]

    worker = db_worker()
    wait_until(lambda: status_of(launch) == Launch.Status.COMPLETED, "the worker to settle the launch")
    wait_until(lambda: Launch.objects.get(pk=launch.pk).signal_sent_at is not None, "the signal to be marked sent")
    assert signals_sent(signal_log, launch) == [("install_completed", worker.pid)]
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL" and task.return_value == "completed"


def test_cyclr_down_the_worker_defers_the_retry_and_settles_once_cyclr_is_back(db_worker, cyclr, installed, user,
                                                                               signal_log):
    launch, data = installed()
    cyclr.api_down = True
    db_worker()
    accept_result(launch.pk, data, source="socket", user=user)

    # The first attempt fails; the worker enqueues the next one for when the backoff has passed.
    wait_until(lambda: DBTaskResult.objects.count() == 2, "the retry to be enqueued")
    stored = Launch.objects.get(pk=launch.pk)
    assert stored.status == Launch.Status.RECEIVED and stored.settle_attempts == 1
    assert stored.failure_code == "" and stored.last_attempt_error_code == "cyclr_api_error"
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.run_after == stored.next_attempt_at > timezone.now()

    cyclr.api_down = False
    # Time passes (moved, not waited for): the deferred task becomes ready and the worker takes it.
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now() - timedelta(seconds=1))
    wait_until(lambda: status_of(launch) == Launch.Status.COMPLETED, "the retry to settle the launch")
    wait_until(lambda: Launch.objects.get(pk=launch.pk).signal_sent_at is not None, "the signal to be marked sent")
    assert Launch.objects.get(pk=launch.pk).settle_attempts == 2
    assert [name for name, _ in signals_sent(signal_log, launch)] == ["install_completed"]


def test_a_db_worker_killed_mid_verification_is_finished_by_the_sweeper_exactly_once(db_worker, cyclr, installed, user,
                                                                                     signal_log):
    launch, data = installed()
    cyclr.cycle_gate.close()
    try:
        worker = db_worker()
        accept_result(launch.pk, data, source="socket", user=user)
        assert cyclr.cycle_gate.wait_for_held(1, timeout=60), "the worker never asked Cyclr"
        worker.kill()  # SIGKILL while its verification call is held: no clean shut-down
        worker.wait(timeout=10)
    finally:
        cyclr.cycle_gate.open()
    stored = Launch.objects.get(pk=launch.pk)
    assert stored.status == Launch.Status.RECEIVED and stored.settle_attempts == 1
    assert DBTaskResult.objects.get().status == "RUNNING"  # the dead worker's claim, never finished

    # The cron's sweeper (past the grace period; --grace 0 stands for "later") settles it.
    env = scaleout_env(cyclr, signal_log, TASK_BACKEND="database")
    swept = subprocess.run([sys.executable, "manage.py", "proxy_replay", "--grace", "0"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert swept.returncode == 0, swept.stderr
    assert f"{launch.pk}: settled as completed" in swept.stdout, swept.stdout
    assert status_of(launch) == Launch.Status.COMPLETED
    (sent,) = signals_sent(signal_log, launch)
    assert sent[0] == "install_completed" and sent[1] != worker.pid

    # And a restarted worker, or the next sweep, does nothing more.
    again = subprocess.run([sys.executable, "manage.py", "proxy_replay", "--grace", "0"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert "0 launch(es) replayed" in again.stdout, again.stdout
    assert len(signals_sent(signal_log, launch)) == 1
