"""proxy:webhook, the Marketplace Notification URL: bodies built by the real fake Cyclr, posted with Django's Client."""
import json
import logging
import sys
import time
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from proxy.launches import open_launch
from proxy.models import Arrival, Installation, Launch, WebhookDelivery
from proxy.results import InstallResult
from proxy.services import accept_result
from proxy.settlement import drain
from proxy.testing.fake_cyclr.state import marketplace_notification
from proxy.testing.marketplace import install_over_http
from proxy.exceptions import InvalidResult
from proxy.notifications import browser_result, parse_notification

from .live import LiveCyclrTestCase

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-0123456789abcdef-current"
OLD_SECRET = "whsec-0123456789abcdef-retired"
UNKNOWN_ACCOUNT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.fixture
def webhook_secret(cyclr, settings):
    """The kit configured with one webhook secret; ``set_secret(value)`` changes it."""

    def set_secret(value):
        settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": value}

    set_secret(SECRET)
    return set_secret


@pytest.fixture
def notified(installed, cyclr, webhook_secret):
    """A pending launch, the browser's result for it, and the body Cyclr's webhook sends for the same install."""

    def install(**kwargs):
        launch, data = installed(**kwargs)
        return launch, data, marketplace_notification(cyclr.installs[-1])

    return install


def post(body, secret=SECRET, client=None, **extra):
    """POST to the webhook; return its answer once the verification it scheduled (after answering) has run."""
    text = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = (client or Client()).post(reverse("proxy:webhook", args=[secret]), text, content_type="application/json",
                                         **extra)
    assert drain(60)
    return response


def accept_settled(launch_id, data, **kwargs):
    """``accept_result``, then wait for the settlement it scheduled (in the kit's threads) to finish."""
    outcome = accept_result(launch_id, data, **kwargs)
    assert drain(60)
    return outcome


@pytest.fixture
def request_log(caplog, monkeypatch):
    """Every log record, Django's request log included (the example host keeps it to errors on the console)."""
    monkeypatch.setattr(logging.getLogger("django.request"), "propagate", True)
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="django.request"):
        yield caplog


def assert_launch_untouched(launch):
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING
    assert launch.result_raw is None and launch.result is None
    assert not Arrival.objects.filter(launch=launch).exists()


# --- accepted -------------------------------------------------------------------------------------------


def test_an_installed_notification_completes_its_launch_through_the_complete_parameter(notified, completed_receiver):
    launch, _, body = notified()
    assert body["CompleteParameter"]  # the fake echoes the signed launch id, as Cyclr does

    response = post(body, REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 200, response.content
    assert response.json() == {"status": "accepted", "launch": str(launch.pk), "duplicate": False}
    launch.refresh_from_db()
    assert launch.status == Launch.Status.COMPLETED and launch.source == "webhook"
    assert [c["cycle_id"] for c in launch.result["cycles"]] == [c["CycleId"] for c in body["MarketplaceInstallDetails"]]
    assert list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")) == [("webhook", False)]
    completed_receiver.assert_called_once()
    assert completed_receiver.call_args.kwargs["source"] == "webhook"
    assert completed_receiver.call_args.kwargs["launch"].pk == launch.pk
    (delivery,) = WebhookDelivery.objects.all()
    assert (delivery.status, delivery.valid, delivery.processed, delivery.launch_id, delivery.error_code) == (
        "installed", True, True, launch.pk, "")
    assert json.loads(delivery.body) == body and delivery.remote_addr == "203.0.113.9"


@pytest.mark.parametrize("complete_parameter", [None, "", "absent"])
def test_without_a_complete_parameter_the_account_finds_the_launch(notified, completed_receiver, complete_parameter):
    launch, _, body = notified()
    if complete_parameter == "absent":
        del body["CompleteParameter"]
    else:
        body["CompleteParameter"] = complete_parameter
    body["AccountId"] = body["AccountId"].upper()  # GUIDs compare in any case

    response = post(body)

    assert response.json() == {"status": "accepted", "launch": str(launch.pk), "duplicate": False}
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()


def test_the_account_finds_its_newest_open_launch(notified, launch_for, user):
    older, _, body = notified()
    del body["CompleteParameter"]
    newer, _ = launch_for(user)  # the same user and account, opened since
    assert newer.cyclr_account_id == older.cyclr_account_id

    assert post(body).json()["launch"] == str(newer.pk)
    assert Launch.objects.get(pk=older.pk).status == Launch.Status.PENDING


def test_the_notification_converts_to_the_browsers_result(notified):
    _, data, body = notified()
    from_webhook = InstallResult.parse(browser_result(body)).as_json()
    from_browser = InstallResult.parse(data).as_json()
    assert from_webhook.pop("complete_parameter") and not from_browser.pop("complete_parameter")
    assert from_browser.pop("install_complete_message") and not from_webhook.pop("install_complete_message")
    assert from_webhook == from_browser  # cycles, statuses, webhooks, errors, ids: all the same


# --- one install, two paths: one record and one signal ---------------------------------------------------


def test_browser_first_then_webhook_is_a_duplicate(notified, user, completed_receiver):
    launch, data, body = notified()
    accept_settled(launch.pk, data, source="socket", user=user)

    response = post(body)

    assert response.json() == {"status": "accepted", "launch": str(launch.pk), "duplicate": True}
    assert list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")) == [
        ("socket", False), ("webhook", True)]
    launch.refresh_from_db()
    assert launch.source == "socket" and launch.result_raw == data  # the first arrival's result stays
    completed_receiver.assert_called_once()
    assert WebhookDelivery.objects.get().processed


def test_a_late_webhook_without_complete_parameter_is_a_duplicate_not_a_new_launchs_result(
        notified, launch_for, user, completed_receiver):
    launch, data, body = notified()
    accept_settled(launch.pk, data, source="socket", user=user)
    newer, _ = launch_for(user)  # the user connects again before Cyclr's webhook for the first install lands
    del body["CompleteParameter"]

    response = post(body)

    assert response.json() == {"status": "accepted", "launch": str(launch.pk), "duplicate": True}
    assert_launch_untouched(newer)
    completed_receiver.assert_called_once()


def test_webhook_first_then_browser_is_a_duplicate(notified, user, completed_receiver):
    launch, data, body = notified()
    assert post(body).json()["duplicate"] is False

    outcome = accept_settled(launch.pk, data, source="socket", user=user)

    assert outcome.duplicate
    assert list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")) == [
        ("webhook", False), ("socket", True)]
    completed_receiver.assert_called_once()


def test_webhook_first_then_the_http_fallback_is_acked_as_a_duplicate(notified, user, completed_receiver):
    launch, data, body = notified()
    post(body)
    browser = Client()
    browser.force_login(user)

    response = browser.post(reverse("proxy:result", args=[launch.pk]),
                            json.dumps({"type": "result", "id": "m1", "result": data}), content_type="application/json")

    assert response.status_code == 200, response.content
    assert response.json()["type"] == "ack" and response.json()["status"] == Launch.Status.COMPLETED
    assert list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")) == [
        ("webhook", False), ("http", True)]
    completed_receiver.assert_called_once()


def test_the_same_notification_twice_is_one_record_and_one_signal(notified, completed_receiver):
    launch, _, body = notified()
    assert post(body).json()["duplicate"] is False
    assert post(body).json()["duplicate"] is True
    assert WebhookDelivery.objects.filter(processed=True).count() == 2
    completed_receiver.assert_called_once()


# --- the secret ----------------------------------------------------------------------------------------


def test_a_wrong_secret_is_404_writes_nothing_and_logs_no_secret(notified, request_log, completed_receiver):
    launch, _, body = notified()
    wrong = "not-the-secret-" + uuid.uuid4().hex
    response = post(body, secret=wrong)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not WebhookDelivery.objects.exists()
    assert_launch_untouched(launch)
    completed_receiver.assert_not_called()
    assert any("wrong secret" in r.getMessage() for r in request_log.records if r.levelno == logging.WARNING)
    assert not any(wrong in r.getMessage() or SECRET in r.getMessage() for r in request_log.records)


@pytest.mark.parametrize("value", ["", [], None])
def test_an_empty_secret_disables_the_webhook(notified, webhook_secret, value, caplog):
    launch, _, body = notified()
    webhook_secret(value)
    with caplog.at_level(logging.WARNING):
        response = post(body, secret=SECRET)
    assert response.status_code == 404
    assert not WebhookDelivery.objects.exists()
    assert_launch_untouched(launch)
    assert any("disabled" in r.getMessage() for r in caplog.records)


def test_a_secret_that_is_a_prefix_or_in_another_case_is_wrong(notified):
    _, _, body = notified()
    for wrong in (SECRET[:-1], SECRET.upper(), SECRET + "x"):
        assert post(body, secret=wrong).status_code == 404
    assert not WebhookDelivery.objects.exists()


def test_during_rotation_each_listed_secret_works(notified, webhook_secret):
    launch, _, body = notified()
    webhook_secret([OLD_SECRET, SECRET])
    assert post(body, secret=SECRET).json()["duplicate"] is False
    assert post(body, secret=OLD_SECRET).json()["duplicate"] is True
    webhook_secret([SECRET])  # rotation over: the retired secret is refused
    assert post(body, secret=OLD_SECRET).status_code == 404


def test_get_is_405_and_writes_nothing(webhook_secret):
    response = Client().get(reverse("proxy:webhook", args=[SECRET]))
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"
    assert not WebhookDelivery.objects.exists()


def test_get_with_a_wrong_secret_is_404_not_405(webhook_secret):
    assert Client().get(reverse("proxy:webhook", args=["wrong-secret-wrong-secret"])).status_code == 404


def test_no_csrf_token_is_needed(notified):
    _, _, body = notified()
    assert post(body, client=Client(enforce_csrf_checks=True)).status_code == 200


# --- bodies that are not notifications -------------------------------------------------------------------


@pytest.mark.parametrize("text", [b"not json", b"", b"[1, 2]", b'"installed"', b"null", b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000,
                                  # JSON objects holding text no database keeps: an unpaired surrogate, a NUL
                                  b'{"Status": "\\ud800"}', b'{"Status": "installed", "UserId": "\\u0000"}'])
def test_a_body_that_is_not_a_json_object_is_400_malformed_and_not_stored(webhook_secret, text):
    response = post(text)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed" and response.json()["message"]
    assert not WebhookDelivery.objects.exists()


def test_a_status_nested_past_the_recursion_limit_is_invalid_value_not_a_crash():
    deep = []
    for _ in range(sys.getrecursionlimit() * 2):
        deep = [deep]
    with pytest.raises(InvalidResult) as caught:
        parse_notification({"Status": deep})
    assert caught.value.code == "invalid_value" and "Status must be a string" in caught.value.message


def test_a_body_over_the_limit_is_413_and_not_stored(notified, settings):
    launch, _, body = notified()
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MAX_RESULT_BYTES": 2000}
    body["Padding"] = "x" * 2000
    response = post(body)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not WebhookDelivery.objects.exists()
    assert_launch_untouched(launch)


def test_a_body_past_djangos_upload_limit_is_413_too(webhook_secret, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MAX_RESULT_BYTES": 10_000}
    response = post({"Status": "installed", "Padding": "x" * 5000})
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def _drop(body, key):
    del body[key]


INVALID = [
    ("no Status", lambda b: _drop(b, "Status"), "missing_field", "Status"),
    ("unknown Status", lambda b: b.update(Status="exploded"), "invalid_value", "Status"),
    ("Status not a string", lambda b: b.update(Status=["installed"]), "invalid_value", "Status"),
    ("no AccountId nor AccountApiId", lambda b: (_drop(b, "AccountId"), _drop(b, "AccountApiId")), "missing_field",
     "AccountId"),
    ("AccountId neither id", lambda b: b.update(AccountId="acct\n1"), "invalid_value", "AccountId"),
    ("details not a list", lambda b: b.update(MarketplaceInstallDetails={"CycleId": "x"}), "wrong_type",
     "MarketplaceInstallDetails must be a list"),
    ("a detail not an object", lambda b: b["MarketplaceInstallDetails"].append("cycle"), "wrong_type",
     "MarketplaceInstallDetails[1]"),
    ("CycleId not a GUID", lambda b: b["MarketplaceInstallDetails"][0].update(CycleId="1"), "invalid_value",
     "MarketplaceInstallDetails[0].CycleId"),
    ("unknown CycleStatus", lambda b: b["MarketplaceInstallDetails"][0].update(CycleStatus="Exploded"), "invalid_value",
     "MarketplaceInstallDetails[0].CycleStatus"),
    ("a webhook as a string", lambda b: b["MarketplaceInstallDetails"][0].update(Webhooks=["https://x.example/h"]),
     "wrong_type", "MarketplaceInstallDetails[0].Webhooks[0]"),
    ("a webhook Url not http", lambda b: b["MarketplaceInstallDetails"][0]["Webhooks"][0].update(Url="javascript:x"),
     "invalid_value", "MarketplaceInstallDetails[0].Webhooks[0].Url"),
    ("Errors not strings", lambda b: b.update(Errors=[{"Message": "x"}]), "wrong_type", "Errors[0]"),
    ("package id not a number", lambda b: b.update(MarketplaceIntegrationPackageId="one"), "wrong_type",
     "MarketplaceIntegrationPackageId"),
]


@pytest.mark.parametrize("change, detail, names", [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_an_invalid_notification_is_400_invalid_result_and_kept_for_an_operator(notified, change, detail, names):
    launch, _, body = notified()
    change(body)

    response = post(body)

    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "invalid_result" and answer["detail"] == detail
    assert names in answer["message"]  # in the notification's own field names
    assert_launch_untouched(launch)
    (delivery,) = WebhookDelivery.objects.all()
    assert not delivery.valid and not delivery.processed and delivery.launch is None
    assert delivery.error_code == "invalid_result" and delivery.error_message.startswith(detail)
    assert json.loads(delivery.body) == body


def test_refusals_and_failures_never_log_the_path_with_its_secret(notified, request_log):
    _, _, body = notified()
    assert post({**body, "AccountId": "acct\n1"}).status_code == 400
    assert post("nope").status_code == 400
    assert Client().get(reverse("proxy:webhook", args=[SECRET])).status_code == 405
    assert post(body, secret=SECRET + "-wrong").status_code == 404
    with mock.patch("proxy.notifications.accept_result", side_effect=RuntimeError("boom")):
        assert post(body).status_code == 500
    assert len(request_log.records) >= 5  # each was logged...
    assert not any(SECRET in r.getMessage() for r in request_log.records)  # ...but not as Django's "Bad Request: <path>"


# --- notifications that cannot apply -----------------------------------------------------------------------


def test_a_forged_complete_parameter_is_400_bad_signature(notified):
    launch, _, body = notified()
    body["CompleteParameter"] = str(launch.pk)  # the id, unsigned
    response = post(body)
    assert response.status_code == 400 and response.json()["code"] == "bad_signature"
    assert_launch_untouched(launch)
    delivery = WebhookDelivery.objects.get()
    assert delivery.valid and not delivery.processed and delivery.error_code == "bad_signature"


@pytest.mark.parametrize("guid_learned", [False, True])
def test_another_accounts_notification_for_this_launch_is_409_account_mismatch(notified, installed, other_user, cyclr,
                                                                                guid_learned):
    launch, _, body = notified()
    installed(owner=other_user)
    if guid_learned:  # the launch knows its GUID: another GUID alone (under its own API id) is another account
        Launch.objects.filter(pk=launch.pk).update(cyclr_account_id=body["AccountId"].lower())
        launch.refresh_from_db()
    else:  # mallory's account by both ids, alice's CompleteParameter
        body["AccountApiId"] = cyclr.installs[-1]["account_api_id"]
    body["AccountId"] = cyclr.installs[-1]["account_id"]

    response = post(body)

    assert response.status_code == 409 and response.json()["code"] == "account_mismatch"
    assert_launch_untouched(launch)
    delivery = WebhookDelivery.objects.get()
    assert delivery.error_code == "account_mismatch" and delivery.launch_id == launch.pk and not delivery.processed


def test_an_expired_launch_is_left_unchanged_but_the_install_cyclr_vouches_for_is_recorded(notified, completed_receiver):
    launch, _, body = notified()
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = post(body)

    assert response.status_code == 200 and response.json() == {"status": "recorded", "changes": ["installed"]}
    assert_launch_untouched(launch)
    completed_receiver.assert_not_called()
    delivery = WebhookDelivery.objects.get()
    assert delivery.valid and delivery.processed and delivery.error_code == ""
    assert delivery.launch_id == launch.pk
    installation = Installation.objects.get()
    assert installation.account_api_id == launch.account_api_id and installation.is_installed
    assert installation.cyclr_account_id == body["AccountId"].lower()  # learned from the notification, which pairs both


def test_an_expired_launch_is_not_found_by_account_either_but_the_install_is_recorded(notified):
    launch, _, body = notified()
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    del body["CompleteParameter"]
    assert post(body).json() == {"status": "recorded", "changes": ["installed"]}
    assert_launch_untouched(launch)
    installation = Installation.objects.get()
    assert installation.account_api_id == launch.account_api_id and installation.is_installed
    assert installation.launch is None


def test_an_unknown_account_is_ignored(notified):
    launch, _, body = notified()
    del body["CompleteParameter"]
    body["AccountId"], body["AccountApiId"] = UNKNOWN_ACCOUNT, "nobody-here"

    response = post(body)

    assert response.status_code == 200
    assert response.json()["status"] == "ignored" and response.json()["code"] == "not_found"
    assert_launch_untouched(launch)
    delivery = WebhookDelivery.objects.get()
    assert delivery.error_code == "not_found" and delivery.launch is None


def test_a_different_install_for_a_settled_launch_is_ignored_as_a_conflict(notified, user, completed_receiver):
    launch, data, body = notified()
    accept_settled(launch.pk, data, source="socket", user=user)
    body["MarketplaceInstallDetails"][0]["CycleId"] = "00000000-0000-4000-8000-000000000000"

    response = post(body)

    assert response.json()["status"] == "ignored" and response.json()["code"] == "conflict"
    assert Launch.objects.get(pk=launch.pk).result_raw == data
    assert Arrival.objects.filter(launch=launch).count() == 1
    completed_receiver.assert_called_once()


@pytest.mark.parametrize("status", ["uninstalled", "started", "stopped", "Stopped"])
def test_other_statuses_are_recorded_and_change_no_launch(notified, status):
    launch, _, body = notified()
    body["Status"] = status

    response = post(body)

    assert response.status_code == 200 and response.json()["status"] == "recorded"
    assert_launch_untouched(launch)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.valid, delivery.processed, delivery.error_code) == (status, True, True, "")


# --- failures are kept and can be reprocessed ----------------------------------------------------------------


def test_a_processing_failure_is_500_kept_and_reprocessed_from_the_admin(notified, admin_client, completed_receiver):
    launch, _, body = notified()
    with mock.patch("proxy.notifications.accept_result", side_effect=RuntimeError("database hiccup")):
        response = post(body)
    assert response.status_code == 500 and response.json()["code"] == "server_error"
    delivery = WebhookDelivery.objects.get()
    assert not delivery.processed and delivery.error_code == "server_error" and "database hiccup" in delivery.error_message
    assert_launch_untouched(launch)

    changelist = reverse("admin:proxy_webhookdelivery_changelist")
    assert admin_client.get(changelist).status_code == 200
    assert admin_client.get(changelist, {"q": str(launch.pk)[:8]}).status_code == 200
    admin_client.post(changelist, {"action": "reprocess", "_selected_action": [delivery.pk]})
    assert drain(60)

    delivery.refresh_from_db()
    assert delivery.processed and delivery.error_code == "" and delivery.launch_id == launch.pk
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()
    assert admin_client.get(reverse("admin:proxy_webhookdelivery_change", args=[delivery.pk])).status_code == 200


# --- end to end: the fake Cyclr itself calls a real server ---------------------------------------------------


class FakeCyclrSendsTheWebhookTests(LiveCyclrTestCase):
    """A real ASGI server (daphne, another process) and the fake Cyclr posting its webhook to it over HTTP.

    No browser: the install goes through the Marketplace over plain HTTP, and the browser's result is never
    delivered, so the webhook alone must complete the launch. The server is another process, so the test
    asserts on the rows it wrote.
    """

    proxy_overrides = {"WEBHOOK_SECRET": SECRET}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The server's port is known only now: give it to the fake as the Marketplace Notification URL.
        cls.fake.set_notification_url(f"{cls.host_origin}{reverse('proxy:webhook', args=[SECRET])}")

    def wait_for(self, condition, what, timeout=10.0):
        """Poll ``condition`` (the server writes from another process) every 0.1 s, up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        self.fail(f"Timed out after {timeout}s waiting for {what}; the fake's attempts: {self.fake.notifications}")

    def test_the_fakes_webhook_completes_the_launch_and_a_repeat_is_a_duplicate(self):
        user = get_user_model().objects.create_user("erin", password="erin-password")
        request = RequestFactory().get("/proxy/launch/")
        request.user = user
        launch, marketplace_url = open_launch(request)
        sent_before = len(self.fake.notifications)

        install_over_http(marketplace_url)  # the fake sends the webhook from a thread of its own

        self.wait_for(lambda: Launch.objects.filter(pk=launch.pk, status=Launch.Status.COMPLETED,
                                                    signal_sent_at__isnull=False).exists(),
                      "the webhook to complete the launch and its signal to go out")
        self.assertTrue(self.fake.wait_for_notifications(sent_before + 1, timeout=10))
        (attempt,) = self.fake.notifications[sent_before:]
        self.assertEqual(attempt["status"], 200, attempt)
        self.assertEqual(json.loads(attempt["response"]), {"status": "accepted", "launch": str(launch.pk), "duplicate": False})
        launch.refresh_from_db()
        self.assertEqual(launch.source, "webhook")
        self.assertIsNotNone(launch.signal_sent_at)
        delivery = WebhookDelivery.objects.get()
        self.assertEqual((delivery.status, delivery.valid, delivery.processed, delivery.launch_id),
                         ("installed", True, True, launch.pk))
        self.assertEqual(delivery.remote_addr, "127.0.0.1")

        # Cyclr sending it again (a retry) changes nothing but the record of arrivals.
        install_id = self.fake.installs[-1]["id"]
        self.assertEqual(self.fake.send_notification(install_id), 200)
        self.assertEqual(json.loads(self.fake.notifications[-1]["response"])["duplicate"], True)
        self.assertEqual(list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")),
                         [("webhook", False), ("webhook", True)])

        # A later notification for the install is recorded against nothing.
        self.assertEqual(self.fake.send_notification(install_id, status="uninstalled"), 200)
        self.assertEqual(WebhookDelivery.objects.filter(status="uninstalled", processed=True).count(), 1)

    def test_a_wrong_secret_in_the_notification_url_is_404_and_nothing_is_written(self):
        user = get_user_model().objects.create_user("frank", password="frank-password")
        request = RequestFactory().get("/proxy/launch/")
        request.user = user
        launch, marketplace_url = open_launch(request)
        self.fake.set_notification_url(None)  # no automatic send for this install
        try:
            install_over_http(marketplace_url)
        finally:
            self.fake.set_notification_url(f"{self.live_server_url}{reverse('proxy:webhook', args=[SECRET])}")
        wrong = f"{self.live_server_url}{reverse('proxy:webhook', args=['not-the-secret-at-all'])}"
        self.assertEqual(self.fake.send_notification(self.fake.installs[-1]["id"], url=wrong), 404)
        self.assertFalse(WebhookDelivery.objects.exists())
        self.assertEqual(Launch.objects.get(pk=launch.pk).status, Launch.Status.PENDING)
