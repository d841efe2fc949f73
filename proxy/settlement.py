"""Settling launches after their arrival committed: where the task runs, retries, and what the sweeper takes.

``accept_result`` calls ``schedule(launch_id)`` on commit; where the settling runs depends on
``CYCLR_PROXY["TASK_BACKEND"]``:

- ``None`` (the default): in this process, in a small pool of the kit's own threads, once the door has
  answered (``holding``). Nothing else to run (``make run`` needs no worker), but a process that dies takes
  its in-flight settlements with it: the sweeper (``manage.py proxy_replay``, from cron) finishes them.
- an alias of ``settings.TASKS``: ``settle_launch_task`` (``proxy.tasks``) is enqueued on that backend. With
  ``django_tasks_db.DatabaseBackend`` and its ``manage.py db_worker`` this is the durable production
  path; a launch Cyclr could not be asked about is re-enqueued with ``run_after`` at its next attempt
  (backends that can defer). An ``ImmediateBackend`` alias runs it at once, before the door answers:
  deterministic, for tests.

A settlement that fails on a transient database error (a lock, a deadlock, a dropped connection) is tried
again within seconds (``TRANSIENT_RETRY_DELAYS``): in-process on a timer, on a deferring backend by the task.

Nothing is lost: a launch left ``received`` (the process died, Cyclr was down, the enqueue failed) is
*due* once its backoff has passed (``next_attempt_at``) or, if no attempt failed, once it has been in
flight longer than the grace period; ``proxy.sweep.launches_due`` finds them for the sweeper. Nothing is doubled:
``settle_launch`` writes one verdict under the row lock and ``deliver_signal`` sends one signal.

The scheduling layer (docs/settling.md): the intake (``proxy.services``) calls it, and it calls the settle layer
(``proxy.settle``) and the task (``proxy.tasks``), neither of which imports it.
"""
import logging
import os
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import connections, transaction
from django.utils import timezone

from .conf import proxy_settings
from .models import Launch
from .push import pushing_on, server_loop
from .settle import settle_launch
from .tasks import TRANSIENT_DATABASE_ERRORS, TRANSIENT_RETRY_DELAYS, enqueue, retry_on_backend

logger = logging.getLogger(__name__)

# Threads of the in-process default: each one holds a database connection while it settles.
IN_PROCESS_THREADS = 4

_lock = threading.Lock()
_executor = None
_in_flight = set()
# The in-process default's pending retries: threading.Timer -> the InProcessRun it continues (after a transient
# database error), or None (a retry after Cyclr could not be asked starts a new run). cancel_retries() cancels them.
_retries = {}
_thread = threading.local()  # server_loop: the ASGI server's event loop, in a kit thread settling for it; held


def _forget_parents_threads():
    """In a forked child (a preforking server, a test's live server) the parent's pool has no threads left,
    though it still counts them: start afresh, or nothing submitted in the child would ever run."""
    global _lock, _executor, _in_flight, _retries
    _lock, _executor, _in_flight, _retries = threading.Lock(), None, set(), {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parents_threads)


def schedule(launch_id):
    """Settle ``launch_id`` outside the door that took its arrival: call once the arrival is committed.

    Never raises: the arrival is stored whatever happens here, and the sweeper settles what could
    not be scheduled.
    """
    alias = proxy_settings.TASK_BACKEND
    try:
        if alias is None:
            if transaction.get_connection().in_atomic_block:
                # The arrival is not visible to other connections yet (a test case's transaction, run by
                # captureOnCommitCallbacks): a thread could not find it, so settle it here.
                run_settlement(launch_id)
            elif getattr(_thread, "held", None) is not None:
                _thread.held.add(launch_id)
            else:
                submit_in_process(launch_id)
        else:
            enqueue(launch_id, alias)
    except Exception:
        logger.exception("Could not schedule the settlement of launch %s; the sweeper (proxy_replay) will.", launch_id)


def run_settlement(launch_id):
    """Settle one launch (in this thread: the in-process runs, the sweeper); if Cyclr could not be asked,
    schedule the retry. Returns the status. (The task, ``proxy.tasks.settle_launch_task``, does the same.)"""
    launch = settle_launch(launch_id)
    if launch.status == Launch.Status.RECEIVED and launch.next_attempt_at is not None:
        retry_later(launch)
    return launch.status


def retry_later(launch):
    """Schedule the launch's next attempt at ``next_attempt_at``; True if it did.

    On a backend that can defer, enqueued with ``run_after``. In the in-process default, a timer in this
    process submits it then (so ``make run`` recovers from a Cyclr outage on its own; a process that
    exits first leaves it to the sweeper). An immediate backend cannot wait: the sweeper retries it.
    """
    alias = proxy_settings.TASK_BACKEND
    if alias is None:
        delay = max((launch.next_attempt_at - timezone.now()).total_seconds(), 0)
        timer = threading.Timer(delay, _retry_in_process, args=(launch.pk, getattr(_thread, "server_loop", None)))
        timer.daemon = True
        with _lock:
            _retries[timer] = None
        timer.start()
        return True
    return retry_on_backend(launch, alias)


def _retry_in_process(launch_id, loop):
    if _fired():
        submit_in_process(launch_id, loop=loop)


def _fired():
    """Called by a retry's timer as it fires: False if ``cancel_retries`` took it meanwhile."""
    with _lock:
        return _retries.pop(threading.current_thread(), False) is not False


def cancel_retries():
    """Cancel the in-process default's pending retries; return how many (tests; a graceful shutdown).

    A launch whose retry is cancelled stays ``received``: the sweeper settles it."""
    with _lock:
        pending = list(_retries.items())
        _retries.clear()
    for timer, run in pending:
        timer.cancel()
        if run is not None:  # no longer in flight: drain() stops waiting for it
            run.finish()
    return len(pending)


# --- the in-process default ----------------------------------------------------------------------------


class InProcessRun:
    """One settlement handed to the kit's threads: ``done`` is set once it has finished."""

    def __init__(self, launch_id):
        self.launch_id = launch_id
        self.done = threading.Event()
        self.transient_failures = 0  # attempts that failed on a transient database error

    def finish(self):
        with _lock:
            _in_flight.discard(self)
        self.done.set()


def submit_in_process(launch_id, *, loop=None):
    """Run the settlement in one of the kit's threads of this process; returns its ``InProcessRun``.

    ``loop``: the ASGI server's event loop to push on (a retry passes the first attempt's); else this
    thread's, if it serves one."""
    run = _in_flight_run(launch_id)
    _start(run, loop or server_loop())
    return run


def _in_flight_run(launch_id):
    """A new ``InProcessRun``, counted in flight (``drain`` waits for it) before it starts."""
    run = InProcessRun(launch_id)
    with _lock:
        _in_flight.add(run)
    return run


def _start(run, loop):
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=IN_PROCESS_THREADS, thread_name_prefix="proxy-settle")
        executor = _executor
    executor.submit(_settle_in_thread, run, loop)


class Held:
    """In-process settlements scheduled inside ``holding()``, started by ``release()`` once the door has answered.

    Counted in flight from the start (``drain`` waits for them). Released at most once each; one that is
    never released (a door that forgot, a response a middleware replaced) starts when this object is
    garbage-collected, so that nothing waits for the sweeper.

    The server's event loop their pushes go to (``proxy.push.server_loop``) is found as they start, not as they
    are held: from a sync view's thread that takes a trip to the loop, which the door's answer would wait for.
    A sync view's answer is released from the same thread (Django's ASGI handler closes the response there,
    after sending it), a socket's from the loop itself. Released by the garbage collector, they may find none:
    their pushes then go through the kit's own loop (``proxy.push.push_loop``), and ``proxy:status`` answers.
    """

    def __init__(self):
        self._runs = []
        self._finalizer = weakref.finalize(self, _start_all, self._runs)
        self._finalizer.atexit = False  # an exiting interpreter starts nothing: the sweeper settles it

    def add(self, launch_id):
        self._runs.append(_in_flight_run(launch_id))
        if not self._finalizer.alive:  # added after the release: nothing will start it later
            _start_all(self._runs)

    def release(self):
        """Start what is held (in the kit's threads); safe to call more than once, from any thread; never raises."""
        self._finalizer()


def _start_all(runs):
    """Start held runs on this thread's server loop; never raises (a door calls it after answering): what cannot
    start is the sweeper's."""
    loop = server_loop() if runs else None
    while runs:
        run = runs.pop(0)
        try:
            _start(run, loop)
        except Exception:  # no thread to start (an interpreter shutting down)
            logger.exception("Could not start the settlement of launch %s; the sweeper (proxy_replay) will.", run.launch_id)
            run.finish()


@contextmanager
def holding():
    """Hold the in-process settlements that ``schedule`` gets inside the block, in this thread; yields a ``Held``.

    A door wraps ``accept_result`` in it and calls ``release()`` once its answer is sent: the settlement
    then starts right after the answer instead of competing with it for the interpreter (Python runs one
    thread at a time, and a thread that must wait for another may wait up to 5 ms). If the block raises,
    what it held starts at once. Other backends are not held: an enqueue happens on commit, as before.
    """
    held, outer = Held(), getattr(_thread, "held", None)
    _thread.held = held
    try:
        yield held
    except BaseException:
        held.release()
        raise
    finally:
        _thread.held = outer


def _settle_in_thread(run, loop):
    _thread.server_loop = loop
    transient = None
    try:
        with pushing_on(loop):  # the push (proxy.push) goes to the loop of the server that took the arrival
            return run_settlement(run.launch_id)
    except TRANSIENT_DATABASE_ERRORS as exc:  # a lock, a deadlock, a dropped connection: retried below
        transient = exc
        if run.transient_failures >= len(TRANSIENT_RETRY_DELAYS):
            logger.exception("Settling launch %s failed; the sweeper (proxy_replay) will retry it.", run.launch_id)
        return None
    except Exception:  # the launch stays received: the sweeper retries it
        logger.exception("Settling launch %s failed; the sweeper (proxy_replay) will retry it.", run.launch_id)
        return None
    finally:
        _thread.server_loop = None
        connections.close_all()  # this thread's connections only: an idle pool thread holds none; a retry opens new ones
        if transient is None or not _retry_transient(run, loop, transient):
            run.finish()


def _retry_transient(run, loop, exc):
    """Start ``run`` again after its transient database error, in ``TRANSIENT_RETRY_DELAYS[n]`` seconds, on a
    timer (no pool thread waits meanwhile); True if it will. The run stays in flight: ``drain`` waits for it."""
    if run.transient_failures >= len(TRANSIENT_RETRY_DELAYS):
        return False
    delay = TRANSIENT_RETRY_DELAYS[run.transient_failures]
    run.transient_failures += 1
    logger.warning("Settling launch %s failed on a database error (%s); trying again in %s s.", run.launch_id, exc, delay)
    timer = threading.Timer(delay, _retry_run, args=(run, loop))
    timer.daemon = True
    with _lock:
        _retries[timer] = run
    timer.start()
    return True


def _retry_run(run, loop):
    if not _fired():
        return
    try:
        _start(run, loop)
    except Exception:  # no thread to start (an interpreter shutting down)
        logger.exception("Could not start the settlement of launch %s; the sweeper (proxy_replay) will.", run.launch_id)
        run.finish()


def drain(timeout=30):
    """Wait until the in-process settlements handed to the kit's threads so far have finished; False on time-out.

    For tests (and a graceful shutdown): the condition to wait on after a door answered.
    """
    with _lock:
        pending = list(_in_flight)
    deadline = time.monotonic() + timeout
    return all(run.done.wait(max(deadline - time.monotonic(), 0)) for run in pending)
