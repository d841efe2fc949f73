"""The example host's own code around the kit: its install_completed receiver and its Integrations page.

These run under hostkit.settings (tests/example/, the second pytest invocation of `make test`).
"""
import pytest
from django.urls import reverse

from proxy.reconcile import reconcile
from proxy.services import accept_result

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("immediate_tasks")]


def test_the_example_host_starts_stopped_cycles_from_its_receiver(cyclr, settings, django_user_model, launch_for):
    from proxy.testing.marketplace import install_over_http

    settings.HOSTKIT_ACTIVATE_ON_INSTALL = True
    host_user = django_user_model.objects.create_user("hank", password="hank-password")
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "ACCOUNT_RESOLVER": "hostkit.accounts.resolve_account"}
    launch, url = launch_for(host_user)
    data = install_over_http(url, start_cycles=False)

    accept_result(launch.pk, data, source="socket", user=host_user)

    cycle_id = data["cycles"][0]["cycleId"]
    assert cyclr.cycles[cycle_id]["Status"] == "Active"
    assert host_user.integrations.get().cycles[0]["status"] == "Stopped"  # what the install reported


def test_the_example_integrations_page_lists_the_kits_installations(cyclr, settings, django_user_model, launch_for, client):
    from proxy.testing.marketplace import install_over_http

    host_user = django_user_model.objects.create_user("hank", password="hank-password")
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "ACCOUNT_RESOLVER": "hostkit.accounts.resolve_account"}
    launch, url = launch_for(host_user)
    accept_result(launch.pk, install_over_http(url, package_id=2), source="socket", user=host_user)
    cyclr.stop_install(cyclr.installs[-1]["id"])
    reconcile()
    client.force_login(host_user)

    page = client.get(reverse("integrations")).content.decode()

    assert 'data-package="2" data-state="installed"' in page
    assert page.count(": Stopped</span>") == 2


def test_the_example_receiver_keeps_one_row_per_launch_when_the_signal_comes_again(cyclr, settings, django_user_model,
                                                                                      launch_for):
    from hostkit.receivers import record_integration
    from proxy.models import Launch
    from proxy.testing.marketplace import install_over_http

    host_user = django_user_model.objects.create_user("hank", password="hank-password")
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "ACCOUNT_RESOLVER": "hostkit.accounts.resolve_account"}
    launch, url = launch_for(host_user)
    accept_result(launch.pk, install_over_http(url), source="socket", user=host_user)
    launch = Launch.objects.get(pk=launch.pk)
    first = host_user.integrations.get()

    # Sent again (at least once, across a crash: docs/settling.md), with what the launch holds now.
    result = launch.install_result()
    record_integration(Launch, launch=launch, result=result, source=launch.source)

    again = host_user.integrations.get()
    assert again.pk == first.pk and again.installed_at == first.installed_at
    assert again.cycles == [{"id": c.cycle_id, "name": c.name, "status": c.status} for c in result.cycles]


TECHNICAL_404 = "Using the URLconf defined in"  # Django's DEBUG 404 page, listing every URL pattern


@pytest.mark.parametrize("path", ["/no-such-page/", "/proxy/no-such-page/", "/static/no-such-file.js"])
def test_under_debug_anonymous_visitors_get_a_plain_404_without_the_url_list(settings, client, path):
    settings.DEBUG = True  # as `make run` serves the demo
    response = client.get(path)
    assert response.status_code == 404
    page = response.content.decode()
    assert TECHNICAL_404 not in page and "admin/" not in page and "proxy:" not in page
    assert "Not Found" in page


def test_under_debug_a_signed_in_developer_still_gets_djangos_technical_404(settings, client, django_user_model):
    settings.DEBUG = True
    client.force_login(django_user_model.objects.create_user("dev", password="x"))
    assert TECHNICAL_404 in client.get("/no-such-page/").content.decode()


def test_the_kits_own_json_404s_are_left_alone_under_debug(settings, client):
    settings.DEBUG = True
    response = client.post("/proxy/webhook/not-the-secret-0123456789/", "{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
