"""proxy_replay's default selection, and the admin: "Launches", a Marketplace column, webhook URLs masked."""
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from proxy import settlement, signals
from proxy.masking import mask_text, mask_url, mask_webhook_urls
from proxy.models import Launch, WebhookDelivery
from proxy.testing.fake_cyclr.state import marketplace_notification

BROKEN = {"raising": True}
NO_CHANGES = "0 installation change(s) replayed.\n"
NOTHING = "0 launch(es) replayed.\n" + NO_CHANGES


def flaky_receiver(sender, **kwargs):
    if BROKEN["raising"]:
        raise RuntimeError("the CRM is down")


@pytest.fixture
def flaky():
    BROKEN["raising"] = True
    signals.install_completed.connect(flaky_receiver, dispatch_uid="flaky")
    yield BROKEN
    signals.install_completed.disconnect(dispatch_uid="flaky")


def replay(*args):
    from io import StringIO

    out = StringIO()
    call_command("proxy_replay", *args, stdout=out)
    return out.getvalue()


def test_replay_without_arguments_leaves_settled_launches_alone(cyclr_install, user):
    cyclr_install(user)
    cyclr_install(user, package_id=2)
    assert replay() == NOTHING


def test_replay_without_arguments_reruns_only_unresolved_receiver_failures(cyclr_install, user, flaky):
    failing = cyclr_install(user)
    assert failing.receiver_failures.get().resolved_at is None
    flaky["raising"] = False
    cyclr_install(user, package_id=2)  # its receivers ran: nothing to replay
    assert replay() == f"{failing.pk}: 1 receiver(s) rerun, 0 still failing\n1 launch(es) replayed.\n{NO_CHANGES}"
    assert replay() == NOTHING  # resolved now


def test_replay_exits_1_while_a_receiver_is_still_failing_and_0_once_it_passes(cyclr_install, user, flaky):
    # Every command's exit code means the same (proxy_reconcile exits 1 on errors), so cron can alert.
    from io import StringIO

    failing = cyclr_install(user)
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("proxy_replay", stdout=out, stderr=err)
    assert exited.value.code == 1
    assert f"{failing.pk}: 0 receiver(s) rerun, 1 still failing" in out.getvalue()
    assert f"error: launch {failing.pk}: a receiver is still failing" in err.getvalue()
    with pytest.raises(SystemExit):  # by id too
        call_command("proxy_replay", str(failing.pk), stdout=StringIO(), stderr=StringIO())
    flaky["raising"] = False
    assert replay() == f"{failing.pk}: 1 receiver(s) rerun, 0 still failing\n1 launch(es) replayed.\n{NO_CHANGES}"


def test_replay_exits_1_while_a_result_is_still_unverified_and_0_once_cyclr_vouched(cyclr, installed, user):
    """A launch still ``received`` after the replay (Cyclr could not be asked) is left failing, as
    proxy_reconcile counts it an error: cron must hear of it."""
    from io import StringIO

    from proxy.services import accept_result

    launch, data = installed()
    cyclr.api_down = True
    accept_result(launch.pk, data, source="socket", user=user)
    assert settlement.drain(timeout=60)
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("proxy_replay", str(launch.pk), stdout=out, stderr=err)
    assert exited.value.code == 1
    assert f"{launch.pk}: still unverified after " in out.getvalue()
    assert err.getvalue() == (f"error: launch {launch.pk}: its result is still unverified (Cyclr could not be asked); "
                              "proxy_replay retries it once due.\n")

    cyclr.api_down = False
    out = StringIO()
    call_command("proxy_replay", str(launch.pk), stdout=out)  # exits 0: nothing left failing
    assert f"{launch.pk}: settled as completed" in out.getvalue()


def test_replay_by_id_still_replays_that_launch(cyclr_install, user):
    launch = cyclr_install(user)
    assert replay(str(launch.pk)) == f"{launch.pk}: 0 receiver(s) rerun, 0 still failing\n1 launch(es) replayed.\n"


def test_replay_of_something_that_is_not_a_launch_id_is_a_sentence(db):
    with pytest.raises(CommandError, match="'nope' is not a launch id"):
        replay("nope")


# --- masking ------------------------------------------------------------------------------------------------


def test_mask_url_keeps_the_origin_and_path_and_four_characters_of_the_key():
    assert mask_url("https://acme.cyclr.com/api/webhook/Abc123xyz") == "https://acme.cyclr.com/api/webhook/Abc1…"
    assert mask_url("https://acme.cyclr.com/api/webhook/Abc123xyz?token=t") == "https://acme.cyclr.com/api/webhook/Abc1…?…"
    assert mask_url("not a url at all") == "not …"


def test_every_shape_of_result_is_masked():
    camel = {"cycles": [{"cycleId": "c1", "webhooks": [{"stepName": "In", "url": "https://h/api/webhook/SECRETKEY1"}]}]}
    launch = {"cycleId": "c1", "webhooks": ["https://h/api/webhook/SECRETKEY2"]}
    pascal = {"MarketplaceInstallDetails": [{"Webhooks": [{"Url": "https://h/api/webhook/SECRETKEY3", "StepName": "In"}]}]}
    text = "RuntimeError: could not call https://h/api/webhook/SECRETKEY4 (timeout)"
    masked = json.dumps(mask_webhook_urls([camel, launch, pascal, text]), ensure_ascii=False)
    assert "SECRETKEY" not in masked and masked.count("https://h/api/webhook/SECR…") == 4
    assert mask_webhook_urls(camel)["cycles"][0]["webhooks"][0]["stepName"] == "In"  # the rest is untouched
    # A stored result keeps the browser's unvouched URLs as claimed_webhooks: masked too, whatever their path.
    stored = {"cycles": [{"webhooks": [], "claimed_webhooks": [{"step_name": "In", "url": "https://h/hooks/SECRETKEY5"}]}]}
    assert mask_webhook_urls(stored)["cycles"][0]["claimed_webhooks"][0]["url"] == "https://h/hooks/SECR…"
    assert "SECRETKEY" not in mask_text(json.dumps(pascal)) and mask_text("") == ""


# --- admin --------------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "root-password")
    client.force_login(admin)
    return client


def test_the_launch_list_is_titled_launches_with_a_marketplace_column(cyclr_install, user, staff_client, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_IDS": [2]}
    cyclr_install(user, marketplace=2)
    page = staff_client.get("/admin/proxy/launch/").content.decode()
    assert 'class="sortable column-marketplace"' in page and '<td class="field-marketplace">2</td>' in page
    index = staff_client.get("/admin/").content.decode()
    assert ">Launches</a>" in index and "launchs" not in (page + index).lower()


def test_a_launchs_page_masks_its_webhook_urls_in_raw_and_normalized_results(cyclr_install, user, staff_client, fake_cyclr, flaky):
    launch = cyclr_install(user)
    urls = [hook["url"] for cycle in launch.result_raw["cycles"] for hook in cycle["webhooks"]]
    assert urls
    failure = launch.receiver_failures.get()
    failure.error = f"RuntimeError('could not call {urls[0]}')"  # a receiver's error may quote one too
    failure.save()
    page = staff_client.get(f"/admin/proxy/launch/{launch.pk}/change/").content.decode()
    assert "Result as received (webhook URLs masked)" in page and launch.result_raw["accountId"] in page
    for url in urls:
        assert url not in page and url.rsplit("/", 1)[1] not in page
        assert mask_url(url) in page


def test_a_webhook_deliverys_page_masks_the_body(cyclr_install, user, staff_client, fake_cyclr):
    cyclr_install(user)
    body = json.dumps(marketplace_notification(fake_cyclr.installs[-1]))
    delivery = WebhookDelivery.objects.create(status="installed", body=body, valid=True)
    urls = [hook["Url"] for detail in json.loads(body)["MarketplaceInstallDetails"] for hook in detail["Webhooks"]]
    page = staff_client.get(f"/admin/proxy/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert urls and "Body as received (webhook URLs masked)" in page
    for url in urls:
        assert url not in page and url.rsplit("/", 1)[1] not in page
    assert Launch.objects.count() == 1


def test_help_texts_say_what_a_field_holds_for_an_admin_not_how_the_kit_works():
    """Design rationale lives in docs/, not in help_text (each change of which costs a migration)."""
    from django.apps import apps

    for model in apps.get_app_config("proxy").get_models():
        for field in model._meta.fields:
            text = str(field.help_text)
            assert len(text) <= 110, f"{model.__name__}.{field.name}: say what it holds; the why goes in docs/"
            assert not any(code in text for code in ("proxy.", "()", "as_json", "[{")), f"{model.__name__}.{field.name}"
