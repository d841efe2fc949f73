"""Only Cyclr settles a launch: whatever the browser can be made to post, the genuine install completes once.

A result is a claim by whoever controls the browser (a page that got the redirect-mode tab, a window it opened).
A claim Cyclr disputes is refused and the launch waits again; a failure only the browser reported gives way to an
install Cyclr can check; a claim not yet checked gives way to Cyclr's notification. Checked over the real fake
Cyclr's HTTP API, settled in the kit's own threads as in production.
"""
import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy import signals
from proxy.exceptions import LaunchRejected
from proxy.models import Arrival, Launch, RecordedCycle
from proxy.services import accept_result
from proxy.testing.fake_cyclr.state import marketplace_notification

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-only-cyclr-settles-0123456789"


@pytest.fixture
def fake_cyclr_settings(fake_cyclr_settings):
    return {**fake_cyclr_settings, "WEBHOOK_SECRET": SECRET}


@pytest.fixture
def verdicts():
    """Every install_completed and install_failed sent, as (signal, launch id), in order."""
    sent = []

    def completed(sender, launch, **kwargs):
        sent.append(("completed", launch.pk))

    def failed(sender, launch, **kwargs):
        sent.append(("failed", launch.pk))

    signals.install_completed.connect(completed, dispatch_uid="only-cyclr-completed")
    signals.install_failed.connect(failed, dispatch_uid="only-cyclr-failed")
    yield sent
    signals.install_completed.disconnect(dispatch_uid="only-cyclr-completed")
    signals.install_failed.disconnect(dispatch_uid="only-cyclr-failed")


def notify(body):
    response = Client().post(reverse("proxy:webhook", args=[SECRET]), json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def claimed_failure(data, errors=("The connector refused the credentials.",)):
    """What a Launch Complete page of a failed install says: the account, no cycle, its errors."""
    return {"accountId": data["accountId"], "accountApiId": data.get("accountApiId", ""), "cycles": [],
            "errors": list(errors)}


def with_unknown_cycle(data):
    return {**data, "cycles": [{**data["cycles"][0], "cycleId": str(uuid.uuid4())}]}


def deliver_until_taken(launch, data, user, settled, source="http"):
    """Deliver ``data`` as a page's outbox does: again while the server says another claim is being checked."""
    for _ in range(5):
        try:
            return accept_result(launch.pk, data, source=source, user=user)
        except LaunchRejected as exc:
            assert exc.code == "claim_pending", exc.code
            settled()
    raise AssertionError("the launch kept answering claim_pending")


def test_a_genuine_result_sent_while_a_forged_one_is_checked_is_told_to_retry_then_completes(
        cyclr, installed, user, settled, verdicts):
    launch, genuine = installed()
    cyclr.cycle_gate.close()
    try:
        assert not accept_result(launch.pk, with_unknown_cycle(genuine), source="http", user=user).duplicate
        assert cyclr.cycle_gate.wait_for_held(1)  # the forged claim is being checked with Cyclr
        with pytest.raises(LaunchRejected) as refused:
            accept_result(launch.pk, genuine, source="socket", user=user)
        assert refused.value.code == "claim_pending"
        assert Arrival.objects.filter(launch=launch).count() == 1  # the retryable answer wrote nothing
    finally:
        cyclr.cycle_gate.open()
    assert settled(launch).status == Launch.Status.PENDING

    accept_result(launch.pk, genuine, source="socket", user=user)
    assert settled(launch).status == Launch.Status.COMPLETED
    assert verdicts == [("completed", launch.pk)]


def test_cyclrs_notification_takes_the_place_of_a_claim_not_yet_checked(cyclr, installed, user, settled, verdicts):
    launch, genuine = installed()
    cyclr.cycle_gate.close()
    try:
        accept_result(launch.pk, with_unknown_cycle(genuine), source="http", user=user)
        assert cyclr.cycle_gate.wait_for_held(1)
        answer = notify(marketplace_notification(cyclr.installs[-1]))
        assert answer["status"] == "accepted" and answer["duplicate"] is False
    finally:
        cyclr.cycle_gate.open()

    launch = settled(launch)
    assert launch.status == Launch.Status.COMPLETED and launch.source == "webhook"
    assert set(RecordedCycle.objects.filter(launch=launch).values_list("cycle_id", flat=True)) == {
        c["cycleId"] for c in genuine["cycles"]}
    (set_aside,) = Arrival.objects.filter(launch=launch, source="http")
    assert set_aside.refused_code == "claim_refused"
    assert verdicts == [("completed", launch.pk)]


def test_a_failure_only_the_browser_reported_gives_way_to_the_genuine_install(installed, user, settled, verdicts):
    launch, genuine = installed()
    accept_result(launch.pk, claimed_failure(genuine), source="http", user=user)
    launch = settled(launch)
    assert launch.status == Launch.Status.FAILED and launch.failure_code == "install_errors"

    outcome = accept_result(launch.pk, genuine, source="http", user=user)
    assert not outcome.duplicate and outcome.launch.status == Launch.Status.RECEIVED
    launch = settled(launch)
    assert launch.status == Launch.Status.COMPLETED and launch.failure_code == ""
    # The person saw the failure the page claimed; the install Cyclr vouches for completes once.
    assert verdicts == [("failed", launch.pk), ("completed", launch.pk)]
    # The forged failure cannot come back: sent again, it is refused without a word to Cyclr.
    with pytest.raises(LaunchRejected) as again:
        accept_result(launch.pk, claimed_failure(genuine), source="http", user=user)
    assert again.value.code == "conflict"


def test_while_a_browser_reported_failures_signal_goes_out_the_genuine_install_is_told_to_retry(installed, user, settled):
    launch, genuine = installed()
    accept_result(launch.pk, claimed_failure(genuine), source="http", user=user)
    settled(launch)
    Launch.objects.filter(pk=launch.pk).update(signal_sent_at=None)  # as between the verdict's commit and its signal
    with pytest.raises(LaunchRejected) as refused:
        accept_result(launch.pk, genuine, source="http", user=user)
    assert refused.value.code == "claim_pending"  # not conflict: its page sends it again, and it is then taken


def test_a_completed_launch_still_refuses_a_different_claim(installed, user, settled):
    launch, genuine = installed()
    accept_result(launch.pk, genuine, source="http", user=user)
    settled(launch)
    for forged in (with_unknown_cycle(genuine), claimed_failure(genuine)):
        with pytest.raises(LaunchRejected) as refused:
            accept_result(launch.pk, forged, source="http", user=user)
        assert refused.value.code == "conflict"
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED


def test_the_pages_hear_that_the_claim_was_refused(installed, user, settled, monkeypatch):
    pushed = []
    monkeypatch.setattr("proxy.settle.push", lambda event, *groups: pushed.append((event, groups)))
    launch, genuine = installed()
    accept_result(launch.pk, with_unknown_cycle(genuine), source="http", user=user)
    settled(launch)
    ((event, groups),) = pushed
    assert event["type"] == "proxy.install.refused" and event["launch"] == str(launch.pk)
    assert event["error"]["code"] == "unknown_cycle" and "did not confirm" in event["error"]["message"]
    assert groups == (f"proxy.user.{user.pk}", f"proxy.launch.{launch.pk}")


# --- the property: no sequence of browser claims makes a genuine install fail ----------------------------------

FORGERIES = ("another_account", "unknown_cycle", "wrong_status", "wrong_template", "others_cycles_as_mine",
             "claimed_failure", "genuine_with_errors")


def forge(kind, genuine, others, errors):
    first = genuine["cycles"][0]
    if kind == "another_account":
        return others
    if kind == "unknown_cycle":
        return with_unknown_cycle(genuine)
    if kind == "wrong_status":
        return {**genuine, "cycles": [{**first, "status": "Stopped" if first["status"] == "Active" else "Active"}]}
    if kind == "wrong_template":
        return {**genuine, "cycles": [{**first, "templateId": str(uuid.uuid4())}]}
    if kind == "others_cycles_as_mine":
        return {**genuine, "cycles": others["cycles"]}
    if kind == "claimed_failure":
        return claimed_failure(genuine, errors or ["Forged."])
    return {**genuine, "errors": errors}  # the genuine cycles, with errors only the browser reports


# Texts the doors pass on: they refuse a NUL or an unpaired surrogate before the service (proxy.protocol.load_json).
door_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=20)
claims = st.lists(st.tuples(st.sampled_from(FORGERIES), st.sampled_from(["http", "socket"]),
                            st.lists(door_text, max_size=3), st.booleans()),
                  min_size=1, max_size=4)


# Each example is two real installs through the fake Cyclr and verification over HTTP: a hundred examples,
# in CI too (the parsers' properties, which cost no Cyclr call, take the 2,000).
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=claims)
def test_no_sequence_of_browser_claims_makes_a_genuine_install_fail(sequence, cyclr, installed, launch_for, user,
                                                                     other_user, settled, verdicts):
    _, others = installed(owner=other_user)
    launch, genuine = installed()
    for kind, source, errors, settle_between in sequence:
        try:
            accept_result(launch.pk, forge(kind, genuine, others, errors), source=source, user=user)
        except LaunchRejected as exc:  # what a page is told: try again, or not this one
            assert exc.code in ("claim_pending", "claim_refused", "conflict"), exc.code
        if settle_between:
            settled()

    deliver_until_taken(launch, genuine, user, settled)
    launch = settled(launch)
    assert launch.status == Launch.Status.COMPLETED, (launch.failure_code, sequence)
    assert [v for v in verdicts if v == ("completed", launch.pk)] == [("completed", launch.pk)]
    assert {c["cycle_id"] for c in launch.result["cycles"]} == {c["cycleId"] for c in genuine["cycles"]}

