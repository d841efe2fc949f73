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
