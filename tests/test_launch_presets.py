"""LAUNCH presets: proxy:launch?launch=<name> mints with Cyclr's LAUNCH call, over real HTTP to the fake Cyclr."""
import pytest
from django.core.checks import run_checks
from django.urls import reverse

from proxy.models import Arrival, Installation, InstallationCycle, Launch, WebhookDelivery
from proxy.testing.marketplace import launch_over_http

pytestmark = pytest.mark.django_db(transaction=True)

PRESETS = {"mail": {"tags": ["email"], "start": True, "wizard": False}, "crm": {"tags": ["crm"]}}


@pytest.fixture
def presets(cyclr, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "LAUNCHES": PRESETS}
    return cyclr


def test_a_preset_mints_with_the_launch_call_and_frames_its_url(presets, user, client):
    client.force_login(user)

    page = client.get(reverse("proxy:launch"), {"launch": "mail"})

    assert page.status_code == 200
    launch = Launch.objects.get()
    assert launch.preset == "mail"
    (minted,) = presets.marketplace_requests
    body = minted["body"]
    assert body["Tags"] == ["email"] and body["Start"] is True and body["Wizard"] is False
    assert body["InlineOAuth"] is False and body["CompleteParameter"]  # framed, and bound to this launch
    assert "returnUrl=%2Flaunch%2Fcycles" in page.context["marketplace_url"]


def test_a_preset_installs_and_delivers_once(presets, user, completed_receiver, cyclr_install):
    launch = cyclr_install(user, launch="mail")

    assert launch.status == Launch.Status.COMPLETED and launch.preset == "mail"
    completed_receiver.assert_called_once()
    result = completed_receiver.call_args.kwargs["result"]
    assert result.flow == "launch" and len(result.cycles) == 1
    (cycle,) = result.cycles
    assert cycle.status == "Active"  # Cyclr's cycle
    # Cyclr's cycle resource shows no Webhooks and LAUNCH sends no notification: the URL is the browser's claim.
    assert cycle.webhooks == () and len(cycle.claimed_webhooks) == 1
    assert cycle.claimed_webhooks[0].url.startswith(presets.url + "/api/webhook/")
    assert presets.cycles[cycle.cycle_id]["Name"] == "Add customers to Mailchimp"
    assert Installation.objects.get().cycles.get().cycle_id == cycle.cycle_id


SECRET = "whsec-launch-presets-0123456789"


@pytest.fixture
def notification_url(presets, settings, live_server):
    """The kit's Marketplace Notification URL on a live server in this process (the fake POSTs there)."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    return live_server.url + reverse("proxy:webhook", args=[SECRET])


@pytest.mark.parametrize("order", ["webhook_first", "browser_first", "racing"])
def test_a_launch_install_is_delivered_once_whichever_of_webhook_and_browser_comes_first(
        presets, notification_url, user, client, completed_receiver, settled, order):
    """The fake sends Cyclr's webhook after a LAUNCH install too: it and the browser's result are one install."""
    client.force_login(user)
    page = client.get(reverse("proxy:launch"), {"launch": "mail"})
    launch = Launch.objects.get()
    if order == "racing":  # Cyclr's webhook leaves as the install finishes, while the browser's result is on its way
        presets.set_notification_url(notification_url)
    result = launch_over_http(page.context["marketplace_url"])
    install_id = presets.installs[-1]["id"]

    def browser():
        answer = client.post(reverse("proxy:result", args=[launch.pk]), {"type": "result", "id": "m1", "result": result},
                             content_type="application/json")
        assert answer.status_code == 200 and answer.json()["type"] == "ack", answer.content

    if order == "webhook_first":
        assert presets.send_notification(install_id, url=notification_url) == 200
        browser()
    elif order == "browser_first":
        browser()
        assert presets.send_notification(install_id, url=notification_url) == 200
    else:
        browser()
        presets.notifier.join(timeout=15)
    assert [attempt["status"] for attempt in presets.notifications] == [200]

    launch = settled(launch)
    assert launch.status == Launch.Status.COMPLETED, launch.failure_message
    completed_receiver.assert_called_once()
    assert completed_receiver.call_args.kwargs["launch"].pk == launch.pk
    arrivals = list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate"))
    assert sorted(source for source, _ in arrivals) == ["http", "webhook"]
    assert [duplicate for _, duplicate in arrivals] == [False, True]  # the first is the record, the second a repeat
    assert WebhookDelivery.objects.get().launch_id == launch.pk
    (cycle_id,) = [c["cycle_id"] for c in launch.result["cycles"]]
    assert cycle_id == result["cycleId"]
    # One record, the same whichever came first: a LAUNCH install, under the account's package 0.
    assert (launch.result["flow"], launch.result["marketplace_package_id"]) == ("launch", None)
    assert completed_receiver.call_args.kwargs["result"].flow == "launch"
    installation = Installation.objects.get()
    assert (installation.package_id, installation.launch_id, installation.state) == (0, launch.pk, "installed")
    assert list(InstallationCycle.objects.values_list("cycle_id", flat=True)) == [cycle_id]


def test_a_preset_in_redirect_mode_is_bound_by_its_complete_parameter(presets, user, client, completed_receiver, settled):
    client.force_login(user)
    page = client.get(reverse("proxy:launch"), {"launch": "crm", "mode": "redirect"})
    config = page.context["redirect_config"]
    result = launch_over_http(config["url"])

    # No launch or nonce: the signed completeParameter in the LAUNCH result is the binding.
    answer = client.post(reverse("proxy:complete"), {"type": "result", "id": "m1", "result": result},
                         content_type="application/json")

    assert answer.status_code == 200 and answer.json()["type"] == "ack"
    assert settled(Launch.objects.get()).status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()


@pytest.mark.parametrize("name", ["nope", "../crm", "x" * 51, "crm "])
def test_an_unknown_preset_is_a_400_page_before_any_cyclr_call(presets, user, client, name):
    client.force_login(user)

    page = client.get(reverse("proxy:launch"), {"launch": name})

    assert page.status_code == 400 and 'data-code="unknown_preset"' in page.content.decode()
    assert "not offered here" in page.content.decode()
    assert "Content-Security-Policy" in page
    assert presets.marketplace_requests == [] and not Launch.objects.exists()


def test_without_presets_any_name_is_unknown(cyclr, user, client):
    client.force_login(user)
    assert client.get(reverse("proxy:launch"), {"launch": "crm"}).status_code == 400


@pytest.mark.parametrize("value, says", [
    (["crm"], "must be a dict"),
    ({"bad name!": {"tags": ["x"]}}, "preset name"),
    ({"crm": ["crm"]}, "must be a dict of options"),
    ({"crm": {"tags": []}}, "needs 'tags'"),
    ({"crm": {"tags": "crm"}}, "needs 'tags'"),
    ({"crm": {"tags": ["crm"], "colour": "red"}}, "unknown option 'colour'"),
    ({"crm": {"tags": ["crm"], "start": "yes"}}, "must be True, False or None"),
])
def test_a_malformed_launches_setting_is_proxy_e013(cyclr, settings, value, says):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "LAUNCHES": value}

    found = [m for m in run_checks() if m.id == "proxy.E013"]

    assert found and says in found[0].msg


def test_good_presets_pass_the_checks(presets):
    assert not [m for m in run_checks() if m.id == "proxy.E013"]
