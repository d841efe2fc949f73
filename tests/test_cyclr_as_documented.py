"""The main flows against Cyclr as each of its pages describes it (docs/cyclr-api.md).

Every test here runs twice, against the fake in its two shapes (``cyclr_shape`` in conftest): "documented", as
Cyclr's current pages show it (the mint's ``AccountId`` and ``X-Cyclr-Account`` are the account's API id, the API
says ``Paused``, the cycle resource shows no ``Webhooks``), and "guid", as older pages suggest (``AccountId`` and
the header are the GUID, with ``ACCOUNT_HEADER = "id"``; ``Stopped``; ``Webhooks`` on the cycle). Whichever shape,
each install completes once, the account is recorded by its API id (its GUID learned only from a source that
pairs both ids, never from the browser), and the installation records follow Cyclr's notifications and
reconciliation.
"""
import json
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from proxy import signals
from proxy.models import Arrival, Installation, InstallationCycle, Launch
from proxy.reconcile import reconcile
from proxy.services import accept_result, settle_launch
from proxy.testing.fake_cyclr.state import marketplace_notification
from proxy.testing.marketplace import install_over_http

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-as-documented-0123456789abcdef"
PRESETS = {"mail": {"tags": ["email"]}}


@pytest.fixture
def fake_cyclr_options(cyclr_shape_options):
    return cyclr_shape_options


@pytest.fixture
def fake_cyclr_settings(cyclr_shape_settings):
    return {**cyclr_shape_settings, "WEBHOOK_SECRET": SECRET, "LAUNCHES": PRESETS}


@pytest.fixture
def receivers():
    """An autospec'd receiver on install_completed, install_failed and each lifecycle signal, by short name."""
    names = ("install_completed", "install_failed", "integration_uninstalled", "integration_started",
             "integration_stopped")
    handlers = {}
    for name in names:
        handler = mock.create_autospec(lambda sender, **kwargs: None)
        getattr(signals, name).connect(handler, dispatch_uid=f"as-documented-{name}")
        handlers[name.split("_", 1)[1]] = handler
    yield handlers
    for name in names:
        getattr(signals, name).disconnect(dispatch_uid=f"as-documented-{name}")


def calls(handlers):
    return {name: handler.call_count for name, handler in handlers.items()}


def notify(body):
    """Cyclr's Marketplace notification, POSTed to the kit's webhook as Cyclr would."""
    response = Client().post(reverse("proxy:webhook", args=[SECRET]), json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def assert_account_recorded(launch, fake, *, notified=False, installation_notified=None):
    """The launch and its installation name the account by its API id, and know its GUID once a source that pairs
    both ids told it: a mint answer carrying the GUID (the "guid" shape), or Cyclr's notification. The browser's
    result never teaches it (Cyclr does not vouch for the account id written beside the cycles)."""
    guid = fake.accounts[launch.account_api_id]["Id"].lower()
    from_the_mint = fake.account_ids == "guid"
    launch.refresh_from_db()
    assert launch.cyclr_account_id == (guid if from_the_mint or notified else "")
    installation = Installation.objects.get(launch=launch)
    installation_notified = notified if installation_notified is None else installation_notified
    assert (installation.account_api_id, installation.cyclr_account_id) == (
        launch.account_api_id, guid if from_the_mint or installation_notified else "")
    return installation


@pytest.mark.parametrize("mode", ["popup", "inline", "redirect", "direct"])
def test_each_mode_installs_once_and_records_the_account_by_its_api_id(cyclr, cyclr_install, user, receivers, mode):
    launch = cyclr_install(user, mode=mode, package_id=2)

    assert launch.status == Launch.Status.COMPLETED, launch.failure_message
    assert calls(receivers)["completed"] == 1 and calls(receivers)["failed"] == 0
    installation = assert_account_recorded(launch, cyclr)
    assert installation.is_installed and installation.package_id == 2
    assert {c.status for c in installation.cycles.all()} == {"Active"} and installation.cycles.count() == 2


@pytest.mark.parametrize("first", ["notification", "browser"])
def test_the_notification_first_or_last_makes_one_record_and_one_signal(cyclr, launch_for, user, receivers, settled,
                                                                        first):
    launch, url = launch_for(user)
    data = install_over_http(url)
    body = marketplace_notification(cyclr.installs[-1])

    if first == "notification":
        assert notify(body)["duplicate"] is False
        launch.refresh_from_db()  # the notification pairs both ids: the GUID is known before any verification
        assert launch.cyclr_account_id == cyclr.accounts[launch.account_api_id]["Id"].lower()
        assert accept_result(launch.pk, data, source="socket", user=user).duplicate
    else:
        accept_result(launch.pk, data, source="socket", user=user)
        assert notify(body)["duplicate"] is True

    settled(launch)
    assert launch.status == Launch.Status.COMPLETED, launch.failure_message
    assert Arrival.objects.filter(launch=launch, duplicate=False).count() == 1
    assert calls(receivers)["completed"] == 1
    assert_account_recorded(launch, cyclr, notified=True)
    # The notification vouches for the cycle's webhook URL, in either shape.
    assert [w["url"] for w in launch.result["cycles"][0]["webhooks"]] == [data["cycles"][0]["webhooks"][0]["url"]]


def test_a_launch_preset_installs_once_and_keeps_its_webhook_urls_for_what_they_are(cyclr, cyclr_install, user,
                                                                                     receivers, cyclr_shape):
    launch = cyclr_install(user, launch="mail")

    assert launch.status == Launch.Status.COMPLETED, launch.failure_message
    assert calls(receivers)["completed"] == 1
    (cycle,) = receivers["completed"].call_args.kwargs["result"].cycles
    if cyclr_shape == "documented":  # no Webhooks on the cycle resource, no notification for LAUNCH: a claim
        assert cycle.webhooks == () and len(cycle.claimed_webhooks) == 1
    else:  # the cycle resource shows them: Cyclr vouches
        assert len(cycle.webhooks) == 1 and cycle.claimed_webhooks == ()
    installation = assert_account_recorded(launch, cyclr)
    assert installation.package_id == 0  # LAUNCH installs are the account's unattributed cycles


def test_an_install_left_stopped_completes_once_with_its_cycles_stopped(cyclr, cyclr_install, user, receivers):
    launch = cyclr_install(user, start_cycles=False)

    assert launch.status == Launch.Status.COMPLETED, launch.failure_message
    assert calls(receivers)["completed"] == 1
    installation = assert_account_recorded(launch, cyclr)
    (cycle,) = installation.cycles.all()
    # One state: the result's Stopped and the API's Paused; Cyclr's own word beside it.
    assert (cycle.status, cycle.cyclr_status) == ("Stopped", cyclr.stopped_status)
    assert not installation.is_running


def test_lifecycle_notifications_change_the_records_once_each(cyclr, cyclr_install, user, receivers):
    launch = cyclr_install(user)
    install_id = cyclr.installs[-1]["id"]

    cyclr.state.set_install_status(install_id, "Stopped")
    stopped = marketplace_notification(cyclr.state.get_install(install_id), "stopped")
    assert notify(stopped)["changes"] == ["stopped"]
    assert notify(stopped)["changes"] == []  # Cyclr retrying: nothing changes twice
    cyclr.state.set_install_status(install_id, "Active")
    assert notify(marketplace_notification(cyclr.state.get_install(install_id), "started"))["changes"] == ["started"]
    cyclr.state.uninstall(install_id)
    assert notify(marketplace_notification(cyclr.state.get_install(install_id), "uninstalled"))["changes"] == ["uninstalled"]

    assert {name: count for name, count in calls(receivers).items()} == {
        "completed": 1, "failed": 0, "uninstalled": 1, "started": 1, "stopped": 1}
    # The lifecycle notifications pair both ids: the installation learns the GUID from them.
    installation = assert_account_recorded(launch, cyclr, installation_notified=True)
    assert not installation.is_installed and Installation.objects.count() == 1


def test_reconcile_follows_cyclr_and_changes_nothing_twice(cyclr, cyclr_install, user, receivers):
    launch = cyclr_install(user, package_id=2)
    install_id = cyclr.installs[-1]["id"]

    cyclr.state.set_install_status(install_id, "Stopped")  # no notification: reconciliation finds it
    report = reconcile()
    assert report.ok and report.changes == 1, report.errors
    assert {(c.status, c.cyclr_status) for c in InstallationCycle.objects.all()} == {("Stopped", cyclr.stopped_status)}
    assert reconcile().changes == 0

    cyclr.state.uninstall(install_id)
    assert reconcile().ok
    assert calls(receivers) == {"completed": 1, "failed": 0, "uninstalled": 1, "started": 0, "stopped": 1}
    assert not assert_account_recorded(launch, cyclr).is_installed


@pytest.mark.parametrize("cyclr_shape", ["documented"])
def test_the_wrong_account_header_leaves_the_install_pending_and_says_what_to_set(cyclr, launch_for, user, receivers,
                                                                                  settled, settings, cyclr_shape):
    # A site set to send the GUID, against a Cyclr that takes the API id: Cyclr's 404 names the account.
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "ACCOUNT_HEADER": "id"}
    launch, url = launch_for(user)
    data = install_over_http(url)
    notify(marketplace_notification(cyclr.installs[-1]))  # the GUID is learned, so the header carries it
    launch = settled(launch)

    assert launch.status == Launch.Status.RECEIVED and launch.failure_code == ""  # waiting, not failed
    assert launch.last_attempt_error_code == "account_not_found"
    assert "ACCOUNT_HEADER" in launch.last_attempt_error_message
    assert "set it to 'api_id'" in launch.last_attempt_error_message
    assert calls(receivers)["failed"] == 0 and calls(receivers)["completed"] == 0  # never failed over it

    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "ACCOUNT_HEADER": "api_id"}
    launch = settle_launch(launch.pk)
    assert launch.status == Launch.Status.COMPLETED and calls(receivers)["completed"] == 1
    assert accept_result(launch.pk, data, source="socket", user=user).duplicate


@pytest.mark.parametrize("cyclr_shape", ["documented"])
def test_the_guid_a_browser_result_names_is_never_recorded(cyclr, launch_for, user, settled, cyclr_shape):
    # The person controls the browser: the accountId beside genuine cycles is their word, not Cyclr's.
    launch, url = launch_for(user)
    data = install_over_http(url)
    forged = "11111111-2222-4333-8444-555555555555"
    accept_result(launch.pk, {**data, "accountId": forged}, source="socket", user=user)
    launch = settled(launch)
    assert launch.status == Launch.Status.COMPLETED  # the cycles are this account's: Cyclr vouched for them
    assert launch.cyclr_account_id == "" and Installation.objects.get().cyclr_account_id == ""
