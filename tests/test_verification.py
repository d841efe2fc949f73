"""What a launch records is what Cyclr vouches for: checked over the real fake Cyclr's HTTP API."""
import json
import threading
from datetime import datetime, timedelta, timezone
from unittest import mock

import pytest
from django.db import IntegrityError, connections, transaction
from django.test import Client
from django.urls import reverse

from proxy import signals
from proxy.exceptions import LaunchRejected
from proxy.models import Arrival, Launch, RecordedCycle
from proxy.services import accept_result
from proxy.testing.fake_cyclr.state import marketplace_notification
from proxy.results import CLAIMABLE
from proxy.verification import on_cyclr_host

from .conftest import FAKE_CYCLR_OPTIONS


# What verification decides, not where it runs: settled at once, in the caller (an ImmediateBackend alias).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("immediate_tasks")]

WEBHOOK_SECRET = "whsec-0123456789abcdef-verification"
INTERNAL_URL = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture
def failed_receiver():
    handler = mock.create_autospec(lambda sender, **kwargs: None)
    signals.install_failed.connect(handler, dispatch_uid="test-verification-failed")
    yield handler
    signals.install_failed.disconnect(dispatch_uid="test-verification-failed")


def settle(launch, data, user, source="socket", **kwargs):
    accept_result(launch.pk, data, source=source, user=user, **kwargs)
    launch.refresh_from_db()
    return launch


def cyclr_cycle(fake, cycle_id):
    return fake.cycles[cycle_id]


def all_urls(result):
    return [hook["url"] for cycle in result["cycles"] for hook in cycle["webhooks"]]


# --- the stored result is Cyclr's -------------------------------------------------------------------------


@pytest.mark.parametrize("fake_cyclr_options", [{**FAKE_CYCLR_OPTIONS, "cycle_webhooks": True}])  # Cyclr shows them
def test_the_stored_and_signalled_result_is_cyclrs_even_when_the_claim_says_less(cyclr, installed, user, completed_receiver):
    launch, data = installed()
    cycle_id = data["cycles"][0]["cycleId"]
    # An older page: the cycle id alone, no status, template or webhooks.
    launch = settle(launch, {"accountId": data["accountId"], "cycles": [{"cycleId": cycle_id}]}, user)

    assert launch.status == Launch.Status.COMPLETED and launch.claim_mismatches == []
    truth = cyclr_cycle(cyclr, cycle_id)
    (stored,) = launch.result["cycles"]
    assert stored["status"] == truth["Status"] == "Active"
    assert stored["template_id"] == truth["TemplateId"] and stored["template_release_id"] == truth["TemplateReleaseId"]
    assert stored["webhooks"] == [{"step_name": w["StepName"], "url": w["Url"]} for w in truth["Webhooks"]]
    assert stored["name"] == truth["Name"] and truth["Name"]  # Cyclr's name: receivers need not ask again
    signalled = completed_receiver.call_args.kwargs["result"]
    assert signalled.cycles[0].status == "Active" and signalled.cycles[0].webhooks[0].url == truth["Webhooks"][0]["Url"]
    assert signalled.cycles[0].name == truth["Name"]
    assert launch.installations.get().cycles.get(cycle_id=cycle_id).name == truth["Name"]


def test_a_name_the_browser_claims_is_not_stored(cyclr, installed, user):
    launch, data = installed()
    cycle_id = data["cycles"][0]["cycleId"]
    launch = settle(launch, {"accountId": data["accountId"], "cycles": [{"cycleId": cycle_id, "name": "Forged"}]}, user)

    assert launch.status == Launch.Status.COMPLETED
    assert launch.result["cycles"][0]["name"] == cyclr_cycle(cyclr, cycle_id)["Name"] != "Forged"


def refusal(launch):
    """The arrival whose claim ``launch`` refused, once it waits again for its genuine result (pending, nothing kept)."""
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING and launch.result is None and launch.claim is None
    assert not RecordedCycle.objects.filter(launch=launch).exists()
    (arrival,) = Arrival.objects.filter(launch=launch)
    assert arrival.refused
    return arrival


@pytest.mark.parametrize("field, forged, stored_field", [
    ("status", "Stopped", "status"),
    ("templateId", "00000000-0000-4000-8000-00000000000a", "template_id"),
    ("templateReleaseId", "00000000-0000-4000-8000-00000000000b", "template_release_id"),
])
def test_a_claim_that_disagrees_with_cyclr_is_refused_keeps_the_disagreement_and_leaves_the_launch_open(
        cyclr, installed, user, completed_receiver, failed_receiver, field, forged, stored_field):
    launch, data = installed()
    truth = data["cycles"][0][field]
    claim = {**data, "cycles": [{**data["cycles"][0], field: forged}]}

    arrival = refusal(settle(launch, claim, user))

    assert arrival.refused_code == "claim_mismatch"
    assert arrival.mismatches == [
        {"cycle_id": data["cycles"][0]["cycleId"], "field": stored_field, "claimed": forged, "cyclr": truth}]
    completed_receiver.assert_not_called()
    failed_receiver.assert_not_called()
    # The genuine result still completes the launch, with Cyclr's data.
    launch = settle(launch, data, user)
    assert launch.status == Launch.Status.COMPLETED and launch.result["cycles"][0][stored_field] == truth
    completed_receiver.assert_called_once()


@pytest.mark.parametrize("fake_cyclr_options", [{**FAKE_CYCLR_OPTIONS, "cycle_webhooks": True}])  # Cyclr shows them
def test_a_forged_webhook_url_is_refused_and_never_stored(cyclr, installed, user, failed_receiver):
    launch, data = installed()
    real_url = data["cycles"][0]["webhooks"][0]["url"]
    data["cycles"][0]["webhooks"].append({"stepName": "Contact updated", "url": INTERNAL_URL})

    arrival = refusal(settle(launch, data, user))

    assert arrival.refused_code == "claim_mismatch"
    (mismatch,) = arrival.mismatches
    assert mismatch["field"] == "webhooks" and INTERNAL_URL in mismatch["claimed"] and mismatch["cyclr"] == [real_url]
    launch.refresh_from_db()
    assert INTERNAL_URL not in json.dumps([launch.result, launch.claim, launch.result_raw])
    failed_receiver.assert_not_called()


@pytest.mark.parametrize("fake_cyclr_options", [{**FAKE_CYCLR_OPTIONS, "cycle_webhooks": True}])  # Cyclr shows them
def test_a_webhook_url_claimed_for_a_cycle_cyclr_lists_none_for_is_refused(cyclr, installed, user):
    launch, data = installed(package_id=3)  # a scheduled cycle: Cyclr lists no webhook step
    assert data["cycles"][0]["webhooks"] == []
    data["cycles"][0]["webhooks"] = [INTERNAL_URL]
    arrival = refusal(settle(launch, data, user))
    assert arrival.refused_code == "claim_mismatch" and arrival.mismatches[0]["cyclr"] == []


def test_an_account_mismatch_is_kept_for_the_admin(cyclr, installed, user, other_user):
    _, others = installed(owner=other_user)
    launch, _ = installed()
    arrival = refusal(settle(launch, others, user))
    assert arrival.refused_code == "account_mismatch"
    assert {"cycle_id": "", "field": "account_api_id", "claimed": others["accountApiId"],
            "cyclr": launch.account_api_id} in arrival.mismatches


def test_an_unknown_cycle_is_kept_for_the_admin(cyclr, installed, user):
    launch, data = installed()
    data["cycles"][0]["cycleId"] = "00000000-0000-4000-8000-000000000000"
    arrival = refusal(settle(launch, data, user))
    assert arrival.refused_code == "unknown_cycle"
    assert arrival.mismatches == [{"cycle_id": "00000000-0000-4000-8000-000000000000", "field": "cycle_id",
                                   "claimed": "00000000-0000-4000-8000-000000000000", "cyclr": None}]


def test_the_ack_says_received_and_status_says_the_claim_was_refused(cyclr, installed, user):
    launch, data = installed()
    data["cycles"][0]["status"] = "Stopped"
    browser = Client()
    browser.force_login(user)

    ack = browser.post(reverse("proxy:result", args=[launch.pk]),
                       json.dumps({"type": "result", "id": "m1", "result": data}), content_type="application/json").json()
    status = browser.get(reverse("proxy:status", args=[launch.pk])).json()

    # The ack answers what the arrival made (the claim, stored); the verdict is proxy:status's (and the push's).
    assert ack["status"] == Launch.Status.RECEIVED and ack["reason"] is None
    assert status["status"] == Launch.Status.PENDING and status["result"] is None and status["reason"] is None
    assert status["refusal"]["code"] == "claim_mismatch" and "did not confirm" in status["refusal"]["message"]
    # Sent again, the same claim is refused at once, without asking Cyclr again.
    again = browser.post(reverse("proxy:result", args=[launch.pk]),
                         json.dumps({"type": "result", "id": "m2", "result": data}), content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "claim_refused" and again.json()["terminal"] is True


def test_the_admin_shows_the_disagreement(cyclr, installed, user, django_user_model):
    launch, data = installed()
    data["cycles"][0]["status"] = "Stopped"
    launch = settle(launch, data, user)
    assert launch.status == Launch.Status.PENDING  # refused: its arrival keeps the disagreement
    admin = django_user_model.objects.create_superuser("root", password="root-password")
    browser = Client()
    browser.force_login(admin)

    page = browser.get(reverse("admin:proxy_launch_change", args=[launch.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Claim vs Cyclr" in html
    assert "<td>status</td><td>Stopped</td><td>Active</td>" in html


# --- webhook URLs: only Cyclr's, only on Cyclr's hosts --------------------------------------------------


@pytest.mark.parametrize("url, allowed", [
    ("http://127.0.0.1:{port}/api/webhook/abc", True),
    ("https://127.0.0.1/api/webhook/abc", True),  # the host is Cyclr's; its port and scheme are Cyclr's business
    ("http://127.0.0.1.evil.test:{port}/api/webhook/abc", False),
    ("http://evil.test/?u=http://127.0.0.1:{port}/", False),
    ("http://user@127.0.0.1:{port}/api/webhook/abc", False),
    ("ftp://127.0.0.1:{port}/api/webhook/abc", False),
    ("http://[::1/api", False),
    ("http://169.254.169.254/latest/meta-data/", False),
])
def test_only_urls_on_cyclrs_configured_hosts_count(cyclr, url, allowed):
    assert on_cyclr_host(url.format(port=cyclr.port)) is allowed


def test_cyclrs_own_webhook_url_off_the_configured_hosts_is_not_stored(cyclr, installed, user, settings):
    launch, data = installed()
    # Cyclr is now reached as "localhost", and its Marketplace is elsewhere: 127.0.0.1 is no longer its host.
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "API_URL": f"http://localhost:{cyclr.port}",
                            "MARKETPLACE_ORIGINS": ["http://acme-h.cyclr.test"]}
    launch = settle(launch, data, user)
    assert launch.status == Launch.Status.COMPLETED  # the claim agrees with Cyclr...
    assert all_urls(launch.result) == []  # ...but a URL off Cyclr's hosts is never recorded


def test_without_the_api_nothing_more_is_vouched(cyclr, installed, user, settings, completed_receiver):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "VERIFY_WITH_API": False}
    launch, data = installed()
    data["cycles"][0]["status"] = "Stopped"

    launch = settle(launch, data, user)

    assert launch.status == Launch.Status.COMPLETED
    assert launch.result["cycles"][0]["status"] == "Stopped"  # as claimed: nobody asked Cyclr
    assert all_urls(launch.result) == []  # the browser's URLs are never vouched for
    assert completed_receiver.call_args.kwargs["result"].cycles[0].webhooks == ()


@pytest.fixture
def notify(cyclr, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": WEBHOOK_SECRET}

    def post(body):
        response = Client().post(reverse("proxy:webhook", args=[WEBHOOK_SECRET]), json.dumps(body),
                                 content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()

    return post


def test_the_notification_vouches_for_its_on_host_urls(cyclr, installed, user, settings, notify):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "VERIFY_WITH_API": False}
    launch, data = installed()
    body = marketplace_notification(cyclr.installs[-1])
    body["MarketplaceInstallDetails"][0]["Webhooks"].append({"StepName": "Elsewhere", "Url": INTERNAL_URL})

    accept_result(launch.pk, data, source="socket", user=user)  # the browser first: its URLs are not recorded
    launch.refresh_from_db()
    assert all_urls(launch.result) == []
    assert notify(body)["duplicate"] is True

    launch.refresh_from_db()
    assert all_urls(launch.result) == [data["cycles"][0]["webhooks"][0]["url"]]  # Cyclr's, on Cyclr's host only


def test_errors_from_the_notification_survive_a_browser_that_drops_them(cyclr, installed, user, notify, completed_receiver):
    launch, data = installed(start_cycles=False)
    errors = data["errors"]
    assert errors
    body = marketplace_notification(cyclr.installs[-1])

    assert notify(body)["duplicate"] is False
    clean = {**data, "errors": []}
    assert accept_result(launch.pk, clean, source="socket", user=user).duplicate

    launch.refresh_from_db()
    assert launch.result["errors"] == errors
    assert completed_receiver.call_args.kwargs["result"].errors == tuple(errors)


def test_errors_arriving_after_a_browser_that_dropped_them_are_kept(cyclr, installed, user, notify):
    launch, data = installed(start_cycles=False)
    errors = data["errors"]
    launch = settle(launch, {**data, "errors": []}, user)
    assert launch.status == Launch.Status.COMPLETED and launch.result["errors"] == []

    assert notify(marketplace_notification(cyclr.installs[-1]))["duplicate"] is True
    accept_result(launch.pk, {**data, "errors": []}, source="http", user=user)  # and a later clean copy drops nothing

    launch.refresh_from_db()
    assert launch.result["errors"] == errors


def test_a_repeat_from_the_browser_changes_nothing_verified_but_adds_its_errors(cyclr, installed, user):
    launch, data = installed()
    verified = settle(launch, data, user).result
    forged = json.loads(json.dumps(data))
    forged["cycles"][0].update(status="Stopped", webhooks=[{"stepName": "Contact updated", "url": INTERNAL_URL}])
    forged["errors"] = ["Something went wrong."]

    assert accept_result(launch.pk, forged, source="http", user=user).duplicate

    launch.refresh_from_db()
    # Its errors join, labelled as the browser's claim; nothing else of it is taken.
    assert launch.result == {**verified, "errors": ["Something went wrong."],
                             "claimed": sorted({*verified["claimed"], "errors"}, key=CLAIMABLE.index)}


def test_what_cyclr_does_not_vouch_for_is_labelled_as_the_browsers_claim(cyclr, installed, user, completed_receiver):
    launch, data = installed()
    data = {**data, "errors": ["A warning only the page shows."], "userId": "u-1", "marketplacePackageId": 1,
            "installCompleteMessage": "Integration is now active"}
    launch = settle(launch, data, user)
    assert launch.status == Launch.Status.COMPLETED
    assert launch.result["claimed"] == ["errors", "marketplace_package_id", "install_complete_message", "user_id"]
    assert completed_receiver.call_args.kwargs["result"].claimed == tuple(launch.result["claimed"])


def test_cyclrs_notification_vouches_for_the_package_the_browser_claimed(cyclr, installed, user, notify):
    launch, data = installed(package_id=2)
    settle(launch, {**data, "marketplacePackageId": 1}, user)  # a package-2 install claimed as package 1
    assert notify(marketplace_notification(cyclr.installs[-1]))["duplicate"] is True
    launch.refresh_from_db()
    assert launch.result["marketplace_package_id"] == 2 and "marketplace_package_id" not in launch.result["claimed"]


def test_until_verified_the_launch_holds_no_browser_url(cyclr, installed, user):
    launch, data = installed()
    cyclr.api_down = True
    launch = settle(launch, data, user)
    assert launch.status == Launch.Status.RECEIVED
    assert all_urls(launch.result) == [] and all_urls(launch.claim) == [data["cycles"][0]["webhooks"][0]["url"]]


# --- replays onto a new launch ---------------------------------------------------------------------------


def test_a_result_replayed_onto_a_fresh_launch_is_refused_and_writes_nothing(cyclr, installed, launch_for, user,
                                                                            completed_receiver):
    first, data = installed()
    settle(first, data, user)
    fresh, _ = launch_for(user)

    with pytest.raises(LaunchRejected) as caught:
        accept_result(fresh.pk, data, source="socket", user=user)

    assert caught.value.code == "replayed"
    fresh.refresh_from_db()
    assert fresh.status == Launch.Status.PENDING and fresh.result is None and fresh.claim is None
    assert not Arrival.objects.filter(launch=fresh).exists()
    assert not RecordedCycle.objects.filter(launch=fresh).exists()
    completed_receiver.assert_called_once()


def test_a_replay_over_http_gets_the_replayed_code(cyclr, installed, launch_for, user):
    first, data = installed()
    settle(first, data, user)
    fresh, _ = launch_for(user)
    browser = Client()
    browser.force_login(user)
    response = browser.post(reverse("proxy:result", args=[fresh.pk]),
                            json.dumps({"type": "result", "id": "m1", "result": data}), content_type="application/json")
    assert response.status_code >= 400 and response.json()["code"] == "replayed"


# --- a claim that fails lets go of the cycles Cyclr did not vouch for ------------------------------------


def post_result_over_http(user, launch, data, message_id="m1"):
    browser = Client()
    browser.force_login(user)
    return browser.post(reverse("proxy:result", args=[launch.pk]),
                        json.dumps({"type": "result", "id": message_id, "result": data}), content_type="application/json")


def recorded_cycles(launch):
    return set(RecordedCycle.objects.filter(launch=launch).values_list("cycle_id", flat=True))


def cycle_ids(data):
    return {c["cycleId"] for c in data["cycles"]}


@pytest.mark.parametrize("forgery, code", [("as_the_victims_account", "account_mismatch"),
                                            ("with_the_forgers_own_cycles", "unknown_cycle")])
def test_a_forged_claim_to_another_accounts_cycles_does_not_lock_out_their_own_launch(
        cyclr, installed, user, other_user, forgery, code, completed_receiver):
    # Alice installs; before her window delivers, mallory (who saw her result) claims its cycles on her own launch.
    alices_launch, genuine = installed()
    mallorys_launch, mallorys_own = installed(owner=other_user)
    if forgery == "as_the_victims_account":
        forged = genuine
    else:  # under mallory's own account id, beside cycles she really installed: Cyclr vouches for those alone
        forged = {**mallorys_own, "cycles": [*mallorys_own["cycles"], *genuine["cycles"]]}

    refused = post_result_over_http(other_user, mallorys_launch, forged)
    assert refused.status_code == 200 and refused.json()["status"] == "received"  # taken, then verified
    assert refusal(mallorys_launch).refused_code == code  # refused: her launch holds no cycle, and waits again

    taken = post_result_over_http(user, alices_launch, genuine)
    assert taken.status_code == 200 and taken.json()["type"] == "ack", taken.content
    alices_launch.refresh_from_db()
    assert alices_launch.status == Launch.Status.COMPLETED
    assert recorded_cycles(alices_launch) == cycle_ids(genuine)
    completed_receiver.assert_called_once()


def test_a_claim_that_disagrees_with_cyclr_lets_go_of_every_cycle_until_the_genuine_result(cyclr, installed, user):
    launch, data = installed(package_id=2)
    assert len(data["cycles"]) >= 2, "package 2 installs several cycles"
    claim = {**data, "cycles": [{**data["cycles"][0], "status": "Stopped"}, *data["cycles"][1:]]}

    assert refusal(settle(launch, claim, user)).refused_code == "claim_mismatch"
    assert recorded_cycles(launch) == set()
    assert settle(launch, data, user).status == Launch.Status.COMPLETED
    assert recorded_cycles(launch) == cycle_ids(data)


def test_a_launch_that_completes_keeps_every_cycle(cyclr, installed, user):
    launch, data = installed()
    assert settle(launch, data, user).status == Launch.Status.COMPLETED
    assert recorded_cycles(launch) == cycle_ids(data)


def test_the_same_result_for_the_same_launch_stays_a_duplicate(cyclr, installed, user, completed_receiver):
    launch, data = installed()
    settle(launch, data, user)
    assert accept_result(launch.pk, data, source="http", user=user).duplicate
    completed_receiver.assert_called_once()


def test_cycle_ids_are_unique_in_the_database(cyclr, launch_for, user):
    first, _ = launch_for(user)
    second, _ = launch_for(user)
    RecordedCycle.objects.create(cycle_id="c1", launch=first)
    with pytest.raises(IntegrityError), transaction.atomic():
        RecordedCycle.objects.create(cycle_id="c1", launch=second)


def test_one_result_delivered_to_two_launches_at_once_completes_one(cyclr, installed, launch_for, user, completed_receiver):
    first, data = installed()
    second, _ = launch_for(user)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def deliver(launch):
        try:
            barrier.wait(timeout=10)
            outcomes.append(accept_result(launch.pk, data, source="socket", user=user))
        except LaunchRejected as exc:
            errors.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(launch,)) for launch in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == ["replayed"] and len(outcomes) == 1
    assert RecordedCycle.objects.values("launch").distinct().count() == 1
    completed_receiver.assert_called_once()


class TestCyclesCreatedBeforeTheLaunch:
    """A fake Cyclr whose clock runs ``offset`` behind ours: its cycles look created that long ago."""

    offset = timedelta(0)  # set by each test

    @pytest.fixture
    def fake_cyclr_options(self, fake_cyclr_options):  # shapes the shipped fake_cyclr (and so cyclr, installed, launch_for)
        return {**fake_cyclr_options, "marketplace_ids": (1,), "clock": lambda: datetime.now(timezone.utc) - self.offset}

    def test_they_are_refused_as_replayed(self, cyclr, installed, launch_for, user, failed_receiver):
        self.offset = timedelta(minutes=10)  # an install made ten minutes before the launch below
        _, earlier = installed()  # never delivered: no launch recorded its cycles
        launch, _ = launch_for(user)

        arrival = refusal(settle(launch, earlier, user))

        assert arrival.refused_code == "replayed"
        (mismatch,) = arrival.mismatches
        assert mismatch["field"] == "created_on_utc"
        assert mismatch["cyclr"] == cyclr.cycles[earlier["cycles"][0]["cycleId"]]["CreatedOnUtc"]
        failed_receiver.assert_not_called()

    def test_they_are_let_go_so_that_their_own_launch_still_completes(self, cyclr, installed, launch_for, user,
                                                                       completed_receiver):
        self.offset = timedelta(minutes=10)
        own_launch, earlier = installed()  # its window has not delivered yet
        Launch.objects.filter(pk=own_launch.pk).update(created_at=own_launch.created_at - timedelta(minutes=20))
        later, _ = launch_for(user)

        assert refusal(settle(later, earlier, user)).refused_code == "replayed"
        assert settle(own_launch, earlier, user).status == Launch.Status.COMPLETED
        completed_receiver.assert_called_once()

    def test_a_little_clock_skew_is_allowed(self, cyclr, installed, user, completed_receiver):
        self.offset = timedelta(seconds=60)
        launch, data = installed()
        assert cyclr.cycles[data["cycles"][0]["cycleId"]]["CreatedOnUtc"] < launch.created_at.isoformat()
        assert settle(launch, data, user).status == Launch.Status.COMPLETED
        completed_receiver.assert_called_once()


# --- repeats collapse ----------------------------------------------------------------------------------------


def test_three_hundred_repeats_make_two_arrival_rows(cyclr, installed, user, completed_receiver):
    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user, message_id="m1")
    for i in range(299):  # the same frame again, and the same result under fresh message ids
        accept_result(launch.pk, data, source="socket", user=user, message_id="m1" if i % 2 else f"m-{i}")

    rows = list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate", "count"))
    assert rows == [("socket", False, 1), ("socket", True, 299)]
    repeat = Arrival.objects.get(launch=launch, duplicate=True)
    assert repeat.last_received_at >= repeat.received_at
    completed_receiver.assert_called_once()


def test_repeats_from_another_source_or_with_other_content_get_their_own_row(cyclr, installed, user):
    launch, data = installed()
    accept_result(launch.pk, data, source="socket", user=user, message_id="m1")
    accept_result(launch.pk, data, source="http", user=user, message_id="m1")
    accept_result(launch.pk, data, source="http", user=user, message_id="m1")
    other_shape = {"accountId": data["accountId"], "cycleId": data["cycles"][0]["cycleId"]}
    accept_result(launch.pk, other_shape, source="socket", user=user, message_id="m2")

    rows = list(Arrival.objects.filter(launch=launch).values_list("source", "message_id", "duplicate", "count"))
    assert rows == [("socket", "m1", False, 1), ("http", "m1", True, 2), ("socket", "m2", True, 1)]


def test_cyclr_reporting_paused_right_after_install_does_not_contradict_a_claimed_active(
        cyclr, installed, user, completed_receiver):
    launch, data = installed()
    cycle_id = data["cycles"][0]["cycleId"]
    cyclr.state.set_cycle_status(launch.account_api_id, cycle_id, "Paused")  # Cyclr's API word for a never-started cycle

    launch = settle(launch, data, user)

    assert launch.status == Launch.Status.COMPLETED and launch.claim_mismatches == []
    # Cyclr's state is what is recorded, in the one vocabulary, with its own word beside it.
    assert (launch.result["cycles"][0]["status"], launch.result["cycles"][0]["cyclr_status"]) == ("Stopped", "Paused")
    assert launch.installations.get().cycles.get().cyclr_status == "Paused"
    completed_receiver.assert_called_once()


@pytest.mark.parametrize("fake_cyclr_options", [{**FAKE_CYCLR_OPTIONS, "stopped_status": "Paused"},
                                                {**FAKE_CYCLR_OPTIONS, "stopped_status": "Stopped"}])
def test_an_install_left_stopped_completes_once_with_its_cycles_recorded_stopped(cyclr, installed, user,
                                                                                   completed_receiver):
    # "Start after installing" unticked: the result says Stopped, the API Paused (or Stopped): one state.
    launch, data = installed(start_cycles=False)
    assert data["cycles"][0]["status"] == "Stopped"
    launch = settle(launch, data, user)
    assert launch.status == Launch.Status.COMPLETED and launch.claim_mismatches == []
    (cycle,) = launch.installations.get().cycles.all()
    assert (cycle.status, cycle.cyclr_status) == ("Stopped", cyclr.stopped_status)
    completed_receiver.assert_called_once()
    assert completed_receiver.call_args.kwargs["result"].cycles[0].status == "Stopped"


# --- webhook URLs Cyclr does not show: claimed, kept apart -----------------------------------------------


def test_webhook_urls_cyclr_does_not_show_are_kept_as_the_browsers_claim(cyclr, installed, user, completed_receiver):
    # As documented, the cycle resource has no Webhooks: the browser's URLs on Cyclr's host are claims.
    launch, data = installed()
    real_url = data["cycles"][0]["webhooks"][0]["url"]
    data["cycles"][0]["webhooks"].append({"stepName": "elsewhere", "url": INTERNAL_URL})  # off Cyclr's hosts
    launch = settle(launch, data, user)

    assert launch.status == Launch.Status.COMPLETED
    (stored,) = launch.result["cycles"]
    assert stored["webhooks"] == []  # nothing Cyclr vouched for
    assert stored["claimed_webhooks"] == [{"step_name": "Contact updated", "url": real_url}]
    assert INTERNAL_URL not in json.dumps(launch.result)
    (signalled,) = completed_receiver.call_args.kwargs["result"].cycles
    assert signalled.webhooks == () and [w.url for w in signalled.claimed_webhooks] == [real_url]


def test_a_notification_moves_a_claimed_url_to_the_vouched_ones(cyclr, installed, user, notify):
    launch, data = installed()
    launch = settle(launch, data, user)
    assert all_urls(launch.result) == [] and launch.result["cycles"][0]["claimed_webhooks"]
    assert notify(marketplace_notification(cyclr.installs[-1]))["duplicate"] is True
    launch.refresh_from_db()
    assert all_urls(launch.result) == [data["cycles"][0]["webhooks"][0]["url"]]
    assert launch.result["cycles"][0]["claimed_webhooks"] == []


# --- one round of Cyclr calls ------------------------------------------------------------------------------


def cycle_calls(fake):
    return [path for method, path in fake.api_calls if method == "GET" and path.startswith("/v1.0/cycles/")]


def test_every_claimed_cycle_is_asked_about_at_once(cyclr, installed, user, completed_receiver):
    launch, data = installed(package_id=2)
    assert len(data["cycles"]) == 2
    settled = []

    def deliver():
        try:
            settled.append(settle(launch, data, user))
        finally:
            connections.close_all()

    cyclr.cycle_gate.close()
    verifying = threading.Thread(target=deliver)
    verifying.start()
    try:
        assert cyclr.cycle_gate.wait_for_held(2)  # both of the launch's cycles held by Cyclr together: one round trip
    finally:
        cyclr.cycle_gate.open()
        verifying.join(60)
    assert settled[0].status == Launch.Status.COMPLETED
    assert [c["cycle_id"] for c in settled[0].result["cycles"]] == [c["cycleId"] for c in data["cycles"]]
    completed_receiver.assert_called_once()


def test_a_forged_list_of_cycle_ids_costs_one_round_of_calls(cyclr, installed, user):
    launch, data = installed(package_id=4)
    forged = [f"00000000-0000-4000-8000-{i:012d}" for i in range(1, 31)]
    data["cycles"] += [{**data["cycles"][0], "cycleId": cycle_id} for cycle_id in forged]
    before = len(cycle_calls(cyclr))

    launch = settle(launch, data, user)

    # The first round (ten ids) met a forged one: no second round, and the verdict is the sequential one's.
    assert len(cycle_calls(cyclr)) - before == 10
    arrival = refusal(launch)
    assert arrival.refused_code == "unknown_cycle"
    assert arrival.mismatches == [{"cycle_id": forged[0], "field": "cycle_id", "claimed": forged[0], "cyclr": None}]


@pytest.mark.parametrize("fake_cyclr_options", [{**FAKE_CYCLR_OPTIONS, "account_header": "id"}])  # wants the GUID
def test_an_account_cyclr_does_not_know_leaves_the_result_to_retry(cyclr, installed, user, completed_receiver):
    launch, data = installed(package_id=2)
    launch = settle(launch, data, user)
    assert launch.status == Launch.Status.RECEIVED  # not failed: the setting is wrong, not the claim
    completed_receiver.assert_not_called()
