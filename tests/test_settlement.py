"""Ack when it is safe, verify after: the doors answer once the arrival is committed; Cyclr is asked later.

The fake Cyclr is a real HTTP server; its ``cycle_gate`` holds the kit's verification call
(``GET /v1.0/cycles/{id}``) for as long as a test keeps it closed, so "the ack did not wait for Cyclr"
is shown by a condition (the ack is here while Cyclr's answer is still held), never by timing. These
tests use the default: settling in the kit's own threads (``CYCLR_PROXY["TASK_BACKEND"] = None``).
"""
import json
import logging
import threading
import time
from types import SimpleNamespace
from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.checks import Error
from django.core.management import call_command
from django.db import connections, transaction
from django.db.backends.signals import connection_created
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.asgi import application
from proxy import errors, services, settle, settlement
from proxy.checks import check_task_backend
from proxy.models import Launch, ReceiverFailure
from proxy.replay import launches_needing_replay
from proxy.services import RETRY_CAP, RETRY_FIRST, accept_result, deliver_signal, retry_delay
from proxy.tasks import settle_launch_task

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost:8000")


@pytest.fixture
def held_cyclr(cyclr):
    """The fake Cyclr with its verification call held until the test opens the gate (always opened at the end)."""
    cyclr.cycle_gate.close()
    yield cyclr
    cyclr.cycle_gate.open()


def signed_in_client(user):
    client = Client()
    client.force_login(user)
    return client


def deliver_over_the_socket(launch, user, data, *, on_open=None):
    """Open the launch's socket signed in as ``user``, send ``data`` as one result and return the answer.

    ``on_open(socket)`` runs once the socket is open, before the result is sent.
    """
    client = signed_in_client(user)
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())

    async def deliver():
        socket = WebsocketCommunicator(application, f"/ws/proxy/launches/{launch.pk}/", headers=[ORIGIN, cookie])
        connected, _ = await socket.connect()
        assert connected
        if on_open is not None:
            on_open(socket)
        await socket.send_to(text_data=json.dumps({"type": "result", "id": "m1", "result": data}))
        ack = await socket.receive_json_from(timeout=20)
        await socket.disconnect()
        return ack

    return async_to_sync(deliver)()


def sweep(*args, exit_status=0):
    """Run the sweeper as cron does; check its exit status (1: something is left failing); return what it printed."""
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("proxy_replay", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        assert (exc.code, exit_status) == (1, 1), err.getvalue()
    else:
        assert exit_status == 0, "proxy_replay exited 0 with something left failing"
    return out.getvalue()


# --- (a) a slow Cyclr does not delay the ack ------------------------------------------------------------


@pytest.mark.usefixtures("in_memory_layer")
def test_the_socket_acks_received_while_cyclr_is_still_being_asked(held_cyclr, installed, user, completed_receiver, settled):
    launch, data = installed()
    ack = deliver_over_the_socket(launch, user, data)
    # The ack is here, and Cyclr's answer to the verification call is still held at the gate.
    assert (ack["type"], ack["status"], ack["launch"]) == ("ack", "received", str(launch.pk)), ack
    assert held_cyclr.cycle_gate.wait_for_held(1, timeout=20)
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.RECEIVED
    completed_receiver.assert_not_called()

    held_cyclr.cycle_gate.open()
    settled(launch)
    assert launch.status == Launch.Status.COMPLETED and launch.signal_sent_at is not None
    completed_receiver.assert_called_once()


def test_the_http_fallback_acks_received_while_cyclr_is_still_being_asked(held_cyclr, installed, user, completed_receiver,
                                                                          settled):
    launch, data = installed()
    answer = signed_in_client(user).post(reverse("proxy:result", args=[launch.pk]),
                                         {"type": "result", "id": "h1", "result": data}, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["status"] == "received", answer.content
    assert held_cyclr.cycle_gate.wait_for_held(1, timeout=20)
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.RECEIVED

    # A repeat meanwhile answers with the launch's current status, and waits for nothing either.
    again = signed_in_client(user).post(reverse("proxy:result", args=[launch.pk]),
                                        {"type": "result", "id": "h2", "result": data}, content_type="application/json")
    assert again.status_code == 200 and again.json()["status"] == "received"

    held_cyclr.cycle_gate.open()
    settled(launch)
    assert launch.status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()
    status = signed_in_client(user).get(reverse("proxy:status", args=[launch.pk])).json()
    assert status["status"] == "completed"


def test_the_webhook_answers_while_cyclr_is_still_being_asked(held_cyclr, launch_for, user, settings, completed_receiver,
                                                              settled):
    from proxy.testing.marketplace import install_over_http

    secret = "settlement-webhook-secret-0123456789"
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": secret}
    launch, url = launch_for(user)
    install_over_http(url)
    (install,) = held_cyclr.installs
    from proxy.testing.fake_cyclr.state import marketplace_notification

    body = marketplace_notification(install, "installed")
    answer = Client().post(reverse("proxy:webhook", args=[secret]), body, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["status"] == "accepted", answer.content
    assert held_cyclr.cycle_gate.wait_for_held(1, timeout=20)
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.RECEIVED

    held_cyclr.cycle_gate.open()
    settled(launch)
    assert launch.status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()


# --- (a2) verification starts once the door has answered, not against its answer -----------------------


@pytest.fixture
def handovers():
    """The in-process settlements handed to the kit's threads (``settlement._start``), recorded as they are
    handed over, then run: ``calls`` holds what ``probe()`` returned at each handover."""
    real = settlement._start
    record = SimpleNamespace(calls=[], probe=lambda: None)

    def start(*args):
        record.calls.append(record.probe())
        return real(*args)

    with mock.patch.object(settlement, "_start", start):
        yield record


@pytest.mark.usefixtures("in_memory_layer")
def test_the_socket_hands_verification_over_only_once_its_ack_is_sent(cyclr, installed, user, handovers, settled):
    launch, data = installed()

    def probe_the_sent_frames(socket):
        # The consumer runs on this loop: at the handover, how many of its frames are already sent to us?
        handovers.probe = socket.output_queue.qsize

    ack = deliver_over_the_socket(launch, user, data, on_open=probe_the_sent_frames)
    assert ack["status"] == "received", ack
    assert handovers.calls == [1]  # handed over once, its ack already sent
    assert settled(launch).status == Launch.Status.COMPLETED


def test_the_http_door_hands_verification_over_only_once_its_answer_is_sent(cyclr, installed, user, handovers, settled):
    from django.test import RequestFactory

    from proxy import views

    launch, data = installed()
    request = RequestFactory().post(reverse("proxy:result", args=[launch.pk]),
                                    {"type": "result", "id": "h1", "result": data}, content_type="application/json")
    request.user, request._dont_enforce_csrf_checks = user, True
    response = views.result(request, launch.pk)  # the view's answer, not yet sent: no server has closed it
    assert response.status_code == 200 and json.loads(response.content)["status"] == "received", response.content
    assert handovers.calls == []
    assert not settlement.drain(timeout=0)  # counted in flight, so that tests and shutdowns wait for it

    response.close()  # what a server does once the last byte is out (WSGI and ASGI alike)
    assert len(handovers.calls) == 1
    assert settled(launch).status == Launch.Status.COMPLETED
    response.close()
    assert len(handovers.calls) == 1


def test_held_settlements_start_once_on_release_at_once_if_the_block_raises_and_when_forgotten(
        cyclr, installed, user, handovers, settled):
    import gc

    first, second, third = (installed() for _ in range(3))
    with settlement.holding() as held:
        accept_result(first[0].pk, first[1], source="http", user=user)
    assert len(handovers.calls) == 0
    held.release()
    held.release()
    assert len(handovers.calls) == 1
    held.add(first[0].pk)  # a Held already released starts what it still gets at once
    assert len(handovers.calls) == 2

    with pytest.raises(RuntimeError), settlement.holding():
        accept_result(second[0].pk, second[1], source="http", user=user)
        raise RuntimeError("the door failed after the commit")
    assert len(handovers.calls) == 3  # not left waiting for an answer that will not come

    with settlement.holding() as held:
        accept_result(third[0].pk, third[1], source="http", user=user)
    assert len(handovers.calls) == 3
    del held  # a door that never released it (a response a middleware swapped for another)
    gc.collect()
    assert len(handovers.calls) == 4
    for launch, _ in (first, second, third):
        assert settled(launch).status == Launch.Status.COMPLETED


def test_a_held_settlement_that_cannot_start_is_logged_for_the_sweeper_and_never_raises_into_the_door(
        cyclr, installed, user, caplog):
    launch, data = installed()
    with settlement.holding() as held:
        accept_result(launch.pk, data, source="http", user=user)
    with mock.patch.object(settlement, "_start", side_effect=RuntimeError("cannot schedule new futures")):
        held.release()  # the door has answered: nothing may reach it now
    assert settlement.drain(timeout=0)  # not left counted in flight
    assert "the sweeper (proxy_replay) will" in caplog.text
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.RECEIVED
    assert sweep("--grace", "0") and Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED


def test_a_five_second_cyclr_leaves_the_ack_alone(cyclr, installed, user, settled):
    """The issue's figure: every Partner API call takes 5 s. The ack comes back while the verification call
    is still in Cyclr's hands (the gate counts it as held only once the 5 s have passed, so it is held first,
    then the test looks)."""
    launch, data = installed()
    cyclr.api_delay = 5
    cyclr.cycle_gate.close()
    try:
        answer = signed_in_client(user).post(reverse("proxy:result", args=[launch.pk]),
                                             {"type": "result", "id": "h1", "result": data}, content_type="application/json")
        assert answer.json()["status"] == "received"
        assert cyclr.cycle_gate.wait_for_held(1, timeout=30)  # the verification call reached Cyclr after the ack
    finally:
        cyclr.api_delay = 0
        cyclr.cycle_gate.open()
    assert settled(launch).status == Launch.Status.COMPLETED


# --- (d) Cyclr down: retried with backoff, nothing lost ---------------------------------------------------


def test_cyclr_down_keeps_the_launch_received_counts_attempts_backs_off_and_settles_once_back(
        cyclr, installed, user, completed_receiver, settled):
    launch, data = installed()
    cyclr.api_down = True
    accept_result(launch.pk, data, source="socket", user=user)
    settled(launch)
    assert launch.status == Launch.Status.RECEIVED and launch.failure_code == ""  # waiting for Cyclr, not failed
    assert launch.last_attempt_error_code == "cyclr_api_error" and "503" in launch.last_attempt_error_message
    assert launch.settle_attempts == 1
    # proxy:status says it waits, in the registry's words (Cyclr's own error is for the admin).
    status = signed_in_client(user).get(reverse("proxy:status", args=[launch.pk])).json()
    assert status["status"] == "received" and status["reason"] == {
        "code": "verification_pending", "message": str(errors.REGISTRY["verification_pending"].message)}
    first_wait = launch.next_attempt_at - launch.last_attempt_at
    assert RETRY_FIRST <= first_wait < RETRY_FIRST + timedelta(seconds=10)
    completed_receiver.assert_not_called()

    # Within its backoff the sweeper leaves it alone.
    assert launch not in launches_needing_replay()
    assert "0 launch(es) replayed" in sweep()

    # Once the backoff has passed (moved, not waited for), the sweeper retries; Cyclr still down: twice as long.
    Launch.objects.filter(pk=launch.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert "still unverified after 2 attempt(s)" in sweep(exit_status=1)  # cron alerts: Cyclr is still down
    launch.refresh_from_db()
    assert launch.status == Launch.Status.RECEIVED and launch.settle_attempts == 2
    assert 2 * RETRY_FIRST <= launch.next_attempt_at - launch.last_attempt_at < 2 * RETRY_FIRST + timedelta(seconds=10)

    # Cyclr is back: the next due sweep settles it, once.
    cyclr.api_down = False
    Launch.objects.filter(pk=launch.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert "settled as completed" in sweep()
    launch.refresh_from_db()
    assert launch.status == Launch.Status.COMPLETED and launch.failure_code == "" and launch.next_attempt_at is None
    assert launch.last_attempt_error_code == launch.last_attempt_error_message == ""  # the last attempt got an answer
    assert launch.settle_attempts == 3 and launch.signal_sent_at is not None
    completed_receiver.assert_called_once()
    assert "0 launch(es) replayed" in sweep()
    completed_receiver.assert_called_once()


def test_the_in_process_default_retries_on_its_own_once_the_backoff_has_passed(
        cyclr, installed, user, completed_receiver, settled, monkeypatch):
    """make run has no sweeper cron: its own process retries a launch a Cyclr outage left received."""
    monkeypatch.setattr(settle, "RETRY_FIRST", timedelta(milliseconds=200))  # the backoff, shortened
    launch, data = installed()
    cyclr.api_down = True
    accept_result(launch.pk, data, source="socket", user=user)
    assert settled(launch).status == Launch.Status.RECEIVED and launch.next_attempt_at is not None
    cyclr.api_down = False  # back: the next timed attempt settles it, with nobody calling anything

    deadline = time.monotonic() + 30
    while Launch.objects.get(pk=launch.pk).status == Launch.Status.RECEIVED and time.monotonic() < deadline:
        threading.Event().wait(0.05)  # polling the condition the retry sets, with a deadline
    settled(launch)
    assert launch.status == Launch.Status.COMPLETED and launch.settle_attempts >= 2
    assert launch.signal_sent_at is not None
    completed_receiver.assert_called_once()


# --- (e) a transient database error: retried within seconds by the kit, not left to the sweeper ----------------


class LoggedOnce(logging.Handler):
    """A logging handler whose ``seen`` is set once a record starting with ``prefix`` was logged."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix, self.seen = prefix, threading.Event()

    def emit(self, record):
        if record.getMessage().startswith(self.prefix):
            self.seen.set()


@pytest.fixture
def logged():
    """``logged(logger_name, prefix)``: a ``LoggedOnce`` on that logger, removed at the end."""
    attached = []

    def attach(name, prefix):
        handler = LoggedOnce(prefix)
        logging.getLogger(name).addHandler(handler)
        attached.append((name, handler))
        return handler

    yield attach
    for name, handler in attached:
        logging.getLogger(name).removeHandler(handler)


@pytest.fixture
def impatient_thread():
    """The connections the kit's settling threads open, and the first one a thread named ``impatient-…`` opens,
    wait 100 ms, not 20 s, for a lock another connection holds (SQLite's busy timeout, PostgreSQL's
    lock_timeout): a real lock fails them at once."""
    impatient = set()

    def shorten(sender, connection, **kwargs):
        thread = threading.current_thread()
        first = thread.name.startswith("impatient-") and thread not in impatient
        if first or thread.name.startswith("proxy-settle"):
            impatient.add(thread)
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA busy_timeout = 100" if connection.vendor == "sqlite" else "SET lock_timeout = '100ms'")

    connection_created.connect(shorten, dispatch_uid="test-impatient-thread")
    yield
    connection_created.disconnect(dispatch_uid="test-impatient-thread")


@pytest.fixture
def row_lock():
    """``row_lock(launch)``: another connection (its own thread) holds a write transaction on the launch's row
    (on SQLite, the database's write lock) until ``release()``; it commits then, and the thread ends."""
    holders = []

    class Holder:
        def __init__(self, launch):
            self.locked, self.released = threading.Event(), threading.Event()
            self.thread = threading.Thread(target=self.hold, args=(launch,), name="row-lock")
            self.thread.start()
            assert self.locked.wait(20), "the other connection could not take the lock"

        def hold(self, launch):
            try:
                with transaction.atomic():
                    Launch.objects.filter(pk=launch.pk).update(failure_message=F("failure_message"))
                    self.locked.set()
                    self.released.wait(60)
            finally:
                connections.close_all()

        def release(self):
            self.released.set()
            self.thread.join(30)

    def hold(launch):
        holder = Holder(launch)
        holders.append(holder)
        return holder

    yield hold
    for holder in holders:
        holder.release()


def test_a_settlement_failing_on_a_database_lock_is_retried_by_the_kit_within_seconds(
        cyclr, installed, user, completed_receiver, settled, logged, impatient_thread, row_lock):
    """No sweeper runs in development: a lock held for a moment must not leave the window "verifying"."""
    launch, data = installed()
    failed = logged("proxy.settlement", f"Settling launch {launch.pk} failed")
    with settlement.holding() as held:
        accept_result(launch.pk, data, source="socket", user=user)
    lock = row_lock(launch)
    held.release()  # the settlement starts while another connection holds the lock: its first write fails

    assert failed.seen.wait(30), "the settlement never ran into the lock"
    lock.release()
    assert settled(launch).status == Launch.Status.COMPLETED  # with no sweeper, nobody else calling anything
    assert launch.signal_sent_at is not None
    completed_receiver.assert_called_once()


def test_the_task_enqueues_a_settlement_failing_on_a_database_lock_again_within_seconds(
        cyclr, installed, user, settings, completed_receiver, logged, impatient_thread, row_lock):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "TASK_BACKEND": "database"}  # django_tasks_db: can defer
    from django_tasks_db.models import DBTaskResult

    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user)
    (first,) = DBTaskResult.objects.all()
    failed = logged("proxy.tasks", f"Settling launch {launch.pk} failed")
    lock = row_lock(launch)
    outcome = []
    task = threading.Thread(target=lambda: outcome.append(settle_launch_task.call(str(launch.pk))), name="impatient-task")
    task.start()
    assert failed.seen.wait(30), "the task never ran into the lock"
    lock.release()
    task.join(30)
    assert outcome == [Launch.Status.RECEIVED]  # the task did not fail: its retry is enqueued

    retry = DBTaskResult.objects.exclude(pk=first.pk).get()
    assert retry.args_kwargs == {"args": [str(launch.pk)], "kwargs": {"transient_failures": 1}}
    assert timezone.now() - timedelta(seconds=5) < retry.run_after <= timezone.now() + timedelta(seconds=1)
    first.delete()  # the door's own task, not what this test runs
    deadline = time.monotonic() + 30
    while Launch.objects.get(pk=launch.pk).status == Launch.Status.RECEIVED and time.monotonic() < deadline:
        call_command("db_worker", "--backend", "database", "--batch", "--interval", "0.05")  # as the worker would
        threading.Event().wait(0.05)  # the retry's run_after, a fraction of a second away
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()


def test_the_backoff_doubles_up_to_its_cap():
    assert [retry_delay(n) for n in (1, 2, 3)] == [RETRY_FIRST, 2 * RETRY_FIRST, 4 * RETRY_FIRST]
    assert retry_delay(30) == retry_delay(1000) == RETRY_CAP


def test_the_sweeper_leaves_a_settlement_in_flight_alone_until_the_grace_period_passed(cyclr, installed, user):
    launch, data = installed()
    with mock.patch.object(services, "schedule"):  # the arrival's process dies before settling: nothing runs
        accept_result(launch.pk, data, source="socket", user=user)
    launch.refresh_from_db()
    assert launch.status == Launch.Status.RECEIVED and launch.settle_attempts == 0
    assert "0 launch(es) replayed" in sweep()  # still within the grace period: perhaps only slow

    assert "settled as completed" in sweep("--grace", "0")  # taken for lost
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED


# --- the lost-signal window: marked sent only after it went out ---------------------------------------------


def test_a_process_dying_between_the_verdict_and_the_signal_loses_no_signal(cyclr, installed, user, completed_receiver,
                                                                            settled):
    launch, data = installed()
    with mock.patch.object(settle, "send_claimed_signal"):  # dies right after the verdict committed
        accept_result(launch.pk, data, source="socket", user=user)
        settled(launch)
    assert launch.status == Launch.Status.COMPLETED and launch.signal_sent_at is None
    assert launch.signal_claimed_at is not None  # the verdict claimed it, in the UPDATE that settled the launch
    completed_receiver.assert_not_called()

    # The claim is the dead process's until it is stale: then the sweeper sends it.
    assert "0 launch(es) replayed" in sweep()
    completed_receiver.assert_not_called()
    Launch.objects.filter(pk=launch.pk).update(signal_claimed_at=timezone.now() - timedelta(minutes=10))
    assert "completed signal sent" in sweep()
    completed_receiver.assert_called_once()
    launch.refresh_from_db()
    assert launch.signal_sent_at is not None
    assert "0 launch(es) replayed" in sweep()
    completed_receiver.assert_called_once()


def test_a_signal_claimed_elsewhere_is_left_alone_until_its_claim_is_stale(cyclr, installed, user, completed_receiver,
                                                                          settled):
    launch, data = installed()
    with mock.patch.object(settle, "send_claimed_signal"):
        accept_result(launch.pk, data, source="socket", user=user)
        settled()
    # Another process claimed it a moment ago and is running the receivers.
    Launch.objects.filter(pk=launch.pk).update(signal_claimed_at=timezone.now())
    assert "0 launch(es) replayed" in sweep()
    completed_receiver.assert_not_called()
    # It died before marking it sent: past the grace period the sweeper sends it (again, if it had gone out:
    # at least once across such a crash).
    Launch.objects.filter(pk=launch.pk).update(signal_claimed_at=timezone.now() - timedelta(minutes=10))
    assert "completed signal sent" in sweep()
    completed_receiver.assert_called_once()


def test_racing_signal_deliveries_send_one_signal(cyclr, installed, user, completed_receiver, settled):
    launch, data = installed()
    with mock.patch.object(settle, "send_claimed_signal"):  # its process died after the verdict
        accept_result(launch.pk, data, source="socket", user=user)
        settled()
    Launch.objects.filter(pk=launch.pk).update(signal_claimed_at=timezone.now() - timedelta(minutes=10))  # stale
    barrier = threading.Barrier(4)
    sent = []

    def race():
        from django.db import connections

        try:
            barrier.wait(timeout=20)
            sent.append(deliver_signal(launch.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == [False, False, False, True]
    completed_receiver.assert_called_once()


def test_a_failing_receiver_still_marks_the_signal_sent(cyclr, installed, user, settled):
    from proxy import signals

    def explode(sender, **kwargs):
        raise RuntimeError("down")

    signals.install_completed.connect(explode, dispatch_uid="settlement-explode")
    try:
        launch, data = installed()
        accept_result(launch.pk, data, source="socket", user=user)
        settled(launch)
    finally:
        signals.install_completed.disconnect(dispatch_uid="settlement-explode")
    assert launch.signal_sent_at is not None  # it went out; the failure is the replay's business
    assert ReceiverFailure.objects.filter(launch=launch).count() == 1


# --- the setting ----------------------------------------------------------------------------------------


def test_an_immediate_task_backend_settles_before_the_door_answers(cyclr, installed, user, settings, completed_receiver):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "TASK_BACKEND": "default"}  # the ImmediateBackend alias of tests/settings.py
    launch, data = installed()
    outcome = accept_result(launch.pk, data, source="socket", user=user)
    assert outcome.launch.status == Launch.Status.RECEIVED  # the ack says what the arrival made...
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED  # ...and it is settled already
    completed_receiver.assert_called_once()


def test_a_failing_enqueue_loses_nothing(cyclr, installed, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "TASK_BACKEND": "default"}
    launch, data = installed()
    with mock.patch.object(settlement, "enqueue", side_effect=RuntimeError("the queue is down")):
        outcome = accept_result(launch.pk, data, source="socket", user=user)
    assert outcome.launch.status == Launch.Status.RECEIVED
    assert "settled as completed" in sweep("--grace", "0")


@pytest.mark.parametrize("alias, ok", [(None, True), ("default", True), ("database", True), ("nope", False), (3, False)])
def test_task_backend_must_be_an_alias_of_tasks(settings, alias, ok):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "TASK_BACKEND": alias}
    messages = check_task_backend()
    assert (messages == []) is ok
    if not ok:
        (message,) = messages
        assert isinstance(message, Error) and message.id == "proxy.E014" and "'default'" in message.hint
