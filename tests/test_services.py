"""accept_result(): persist once, verify with Cyclr, signal once, never lose a result."""
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from proxy import signals
from proxy.exceptions import InvalidResult, LaunchRejected
from proxy.models import Arrival, Launch, ReceiverFailure, RecordedCycle
from proxy.replay import replay_launch
from proxy.services import accept_result

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def failed_receiver():
    handler = mock.Mock()
    signals.install_failed.connect(handler, dispatch_uid="test-failed")
    yield handler
    signals.install_failed.disconnect(dispatch_uid="test-failed")


def explode(sender, **kwargs):
    raise RuntimeError("the receiver's database is down")


def test_a_result_is_persisted_verified_and_signalled(installed, user, completed_receiver, failed_receiver, settled):
    launch, data = installed()
    outcome = accept_result(launch.pk, data, source="socket", user=user, message_id="m1")
    # Answered as soon as the arrival is committed: the server owns the result; Cyclr is asked after.
    assert outcome.launch.status == Launch.Status.RECEIVED and not outcome.duplicate

    settled(launch)
    assert launch.status == Launch.Status.COMPLETED
    assert launch.result_raw == data
    assert launch.result["account_id"] == data["accountId"]
    assert [c["cycle_id"] for c in launch.result["cycles"]] == [c["cycleId"] for c in data["cycles"]]
    assert launch.source == "socket" and launch.completed_at and launch.signal_sent_at
    assert launch.settle_attempts == 1 and launch.next_attempt_at is None
    completed_receiver.assert_called_once()
    kwargs = completed_receiver.call_args.kwargs
    assert kwargs["launch"].pk == launch.pk and kwargs["source"] == "socket"
    assert kwargs["result"].cycles[0].cycle_id == data["cycles"][0]["cycleId"]
    failed_receiver.assert_not_called()


def test_a_first_arrival_reads_its_launch_and_both_refusal_facts_in_one_statement(installed, user):
    """The launch is locked and read together with whether this claim was refused already and whether another launch
    holds one of its cycles (``arrival_facts``): no read of its own for either, so the door waits on fewer round trips."""
    launch, data = installed()
    with CaptureQueriesContext(connection) as queries:
        accept_result(launch.pk, data, source="socket", user=user, message_id="m1")
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1, reads
    assert "proxy_arrival" in reads[0] and "proxy_recordedcycle" in reads[0] and 'FROM "proxy_launch"' in reads[0]
    writes = [q["sql"].split()[0].upper() for q in queries.captured_queries if q["sql"].split()[0].upper() in (
        "INSERT", "UPDATE", "DELETE")]
    assert writes == ["INSERT", "UPDATE", "INSERT"]  # its cycles, the launch, the arrival


def test_the_same_result_three_times_makes_one_record_and_one_signal(installed, user, completed_receiver, settled):
    launch, data = installed()
    first = accept_result(launch.pk, data, source="socket", user=user)
    again = accept_result(launch.pk, data, source="http", user=user)
    settled()
    third = accept_result(launch.pk, data, source="socket", user=user)

    assert not first.duplicate and again.duplicate and third.duplicate
    assert third.launch.status == Launch.Status.COMPLETED  # a duplicate answers with the launch's current status
    assert completed_receiver.call_count == 1
    assert list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")) == [
        ("socket", False), ("http", True), ("socket", True)]
    assert Launch.objects.get(pk=launch.pk).source == "socket"


def test_a_different_result_for_a_settled_launch_is_a_conflict(installed, user, settled):
    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user)
    settled()
    forged = {**data, "cycles": [{**data["cycles"][0], "cycleId": "00000000-0000-4000-8000-000000000000"}]}
    with pytest.raises(LaunchRejected) as caught:
        accept_result(launch.pk, forged, source="socket", user=user)
    assert caught.value.code == "conflict"
    assert Arrival.objects.filter(launch=launch).count() == 1
    assert Launch.objects.get(pk=launch.pk).result_raw == data


def test_the_same_install_in_another_shape_is_a_duplicate_not_a_conflict(installed, user, completed_receiver, settled):
    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user)
    settled()
    # Cyclr's LAUNCH-style page (one cycle, URL-string webhooks, fewer fields) describing the same install.
    cycle = data["cycles"][0]
    other_shape = {"accountId": data["accountId"].upper(), "cycleId": cycle["cycleId"], "status": "active",
                   "webhooks": [w["url"] for w in cycle["webhooks"]], "errors": []}
    outcome = accept_result(launch.pk, other_shape, source="http", user=user)
    assert outcome.duplicate
    assert Launch.objects.get(pk=launch.pk).result_raw == data  # the first arrival's result stays
    completed_receiver.assert_called_once()


def test_someone_elses_launch_is_refused_and_nothing_written(installed, other_user, completed_receiver):
    launch, data = installed()
    with pytest.raises(LaunchRejected) as caught:
        accept_result(launch.pk, data, source="socket", user=other_user)
    assert caught.value.code == "forbidden"
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING and launch.result_raw is None
    assert not Arrival.objects.exists()
    completed_receiver.assert_not_called()


def test_an_expired_launch_is_refused_and_nothing_written(installed, user):
    launch, data = installed()
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LaunchRejected) as caught:
        accept_result(launch.pk, data, source="socket", user=user)
    assert caught.value.code == "expired"
    assert Launch.objects.get(pk=launch.pk).result_raw is None
    assert not Arrival.objects.exists()


def test_a_settled_launch_takes_repeats_only_until_its_expiry(installed, user, completed_receiver, settled):
    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user)
    settled()
    assert accept_result(launch.pk, data, source="http", user=user).duplicate  # before its expiry: a duplicate
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = list(Arrival.objects.filter(launch=launch).values_list("pk", "count"))

    with pytest.raises(LaunchRejected) as caught:
        accept_result(launch.pk, data, source="http", user=user)

    assert caught.value.code == "expired" and "settled" in caught.value.message
    assert list(Arrival.objects.filter(launch=launch).values_list("pk", "count")) == before  # nothing written
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED and completed_receiver.call_count == 1


def test_repeats_with_new_errors_add_a_bounded_amount(installed, user, settled):
    # Each repeat of the same install may add errors it alone reported; their union is capped at one result's limit.
    from proxy.results import MAX_ERRORS

    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user)
    settled()
    for repeat in range(12):
        errors = [f"error {repeat}-{i}: " + "x" * 1900 for i in range(MAX_ERRORS)]
        accept_result(launch.pk, {**data, "errors": errors}, source="http", user=user, message_id=f"m{repeat}")
    stored = Launch.objects.get(pk=launch.pk).result["errors"]
    assert len(stored) == MAX_ERRORS and stored[0].startswith("error 0-0")  # the first reported are kept


def test_an_unknown_launch_is_refused(user):
    with pytest.raises(LaunchRejected) as caught:
        accept_result("7c9e6679-7425-40de-944b-e07fc1f90ae7", {"accountId": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "cycles": []},
                      source="socket", user=user)
    assert caught.value.code == "not_found"


def test_a_malformed_result_writes_nothing(launch_for, user):
    launch, _ = launch_for(user)
    with pytest.raises(InvalidResult):
        accept_result(launch.pk, {"accountId": "no\npe", "cycles": []}, source="socket", user=user)
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.PENDING
    assert not Arrival.objects.exists()


@pytest.mark.parametrize("where", ["installCompleteMessage", "errors", "stepName", "extra key", "extra value"])
@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_a_result_holding_a_nul_or_a_lone_surrogate_from_python_writes_nothing(installed, user, where, bad):
    # PostgreSQL's jsonb cannot store either: the parser refuses them, not the database, whoever calls accept_result.
    launch, data = installed()
    if where == "errors":
        data["errors"] = ["failed" + bad]
    elif where == "stepName":
        data["cycles"][0]["webhooks"][0]["stepName"] = "step" + bad
    elif where == "extra key":
        data["extra" + bad] = 1
    elif where == "extra value":
        data["extra"] = [{"deep": ["x" + bad]}]
    else:
        data[where] = "done" + bad

    with pytest.raises(InvalidResult) as caught:
        accept_result(launch.pk, data, source="socket", user=user)

    assert caught.value.code == "invalid_value" and "NUL" in caught.value.message
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.PENDING
    assert not Arrival.objects.exists()


def assert_refused(launch, code):
    """``launch`` refused its claim for ``code`` and waits again: no verdict, no signal, no cycle held."""
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING and launch.failure_code == "" and launch.result is None
    assert not RecordedCycle.objects.filter(launch=launch).exists()
    assert list(Arrival.objects.filter(launch=launch).values_list("refused_code", flat=True)) == [code]
    assert launch.signal_sent_at is None


def test_a_forged_cycle_is_refused_and_the_genuine_result_then_completes(installed, user, completed_receiver,
                                                                         failed_receiver, settled):
    launch, data = installed()
    forged = {**data, "cycles": [{**data["cycles"][0], "cycleId": "00000000-0000-4000-8000-000000000000"}]}
    accept_result(launch.pk, forged, source="socket", user=user)
    settled(launch)
    assert_refused(launch, "unknown_cycle")
    failed_receiver.assert_not_called()

    accept_result(launch.pk, data, source="socket", user=user)
    settled(launch)
    assert launch.status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()
    failed_receiver.assert_not_called()


def test_another_accounts_result_is_refused(installed, user, other_user, failed_receiver, settled):
    _, others_result = installed(owner=other_user)  # a real install, in mallory's account
    launch, _ = installed()
    accept_result(launch.pk, others_result, source="socket", user=user)
    settled(launch)
    assert_refused(launch, "account_mismatch")
    failed_receiver.assert_not_called()


def test_another_accounts_cycles_are_refused_even_under_this_accounts_id(installed, user, other_user, failed_receiver,
                                                                         settled):
    _, others_result = installed(owner=other_user)
    launch, mine = installed()
    # Claim mallory's cycles with alice's account id: Cyclr is asked under alice's account and says no.
    forged = {**mine, "cycles": others_result["cycles"]}
    accept_result(launch.pk, forged, source="socket", user=user)
    settled(launch)
    assert_refused(launch, "unknown_cycle")


def test_an_install_with_errors_and_stopped_cycles_completes_with_its_errors(installed, user, completed_receiver, settled):
    launch, data = installed(start_cycles=False)
    assert data["errors"] and {c["status"] for c in data["cycles"]} == {"Stopped"}
    accept_result(launch.pk, data, source="socket", user=user)
    settled()
    result = completed_receiver.call_args.kwargs["result"]
    assert result.errors == tuple(data["errors"]) and not result.ok
    assert {c.status for c in result.cycles} == {"Stopped"}


def test_a_receiver_that_raises_is_recorded_and_the_result_kept(installed, user, completed_receiver, settled):
    signals.install_completed.connect(explode, dispatch_uid="explode")
    try:
        launch, data = installed()
        accept_result(launch.pk, data, source="socket", user=user)
        settled()
    finally:
        signals.install_completed.disconnect(dispatch_uid="explode")
    launch.refresh_from_db()
    assert launch.status == Launch.Status.COMPLETED and launch.result_raw == data
    completed_receiver.assert_called_once()  # the others still ran
    (failure,) = ReceiverFailure.objects.filter(launch=launch)
    assert failure.receiver == "tests.test_services.explode"
    assert "the receiver's database is down" in failure.traceback and "Traceback" in failure.traceback

    # Replayed once the receiver works again: it runs, and the failure is marked resolved.
    with mock.patch("tests.test_services.explode") as fixed:
        assert replay_launch(launch) == "1 receiver(s) rerun, 0 still failing"
    fixed.assert_called_once()
    failure.refresh_from_db()
    assert failure.resolved_at is not None


def test_when_cyclr_is_unreachable_the_result_waits_for_replay(installed, user, completed_receiver, settled, settings):
    launch, data = installed()
    reachable = settings.CYCLR_PROXY
    settings.CYCLR_PROXY = {**reachable, "API_URL": "http://127.0.0.1:9"}  # nothing listens there
    accept_result(launch.pk, data, source="socket", user=user)
    settled(launch)
    assert launch.status == Launch.Status.RECEIVED and launch.result_raw == data
    assert launch.failure_code == "" and launch.last_attempt_error_code == "cyclr_unreachable"
    completed_receiver.assert_not_called()

    settings.CYCLR_PROXY = reachable
    assert replay_launch(launch) == "settled as completed"
    completed_receiver.assert_called_once()
