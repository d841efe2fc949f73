"""The shipped pytest plugin (proxy.testing.pytest_plugin): fake_cyclr and cyclr_install."""
import pytest
from django.db import transaction
from django.test import override_settings

from proxy.conf import proxy_settings
from proxy.models import Arrival, Launch
from proxy.testing.install import InstallFailed, install_through_views
from proxy.testing.marketplace import install_over_http
from proxy.testing.wiring import marketplace_ids_for


def test_fake_cyclr_points_the_settings_at_itself_and_serves_the_snippet(fake_cyclr, user, client):
    assert proxy_settings.API_URL == fake_cyclr.url
    assert proxy_settings.MARKETPLACE_ORIGINS == [fake_cyclr.origin]
    assert proxy_settings.CLIENT_ID == fake_cyclr.state.client_id
    assert fake_cyclr.origin.startswith("http://127.0.0.1:")  # another origin than the test client's
    snippet = fake_cyclr.state.complete_html
    assert "cyclr.launch.complete" in snippet and '"http://localhost:8000"' in snippet


def test_the_suites_fixtures_shape_the_shipped_fake(fake_cyclr, cyclr):
    assert cyclr is fake_cyclr  # one fixture, two names
    assert fake_cyclr.state.marketplace_ids == {1, 2}
    assert proxy_settings.ACCOUNT_RESOLVER.__name__ == "user_account"


def test_cyclr_install_runs_the_receivers_once_and_returns_the_completed_launch(cyclr_install, user, completed_receiver):
    launch = cyclr_install(user)
    assert isinstance(launch, Launch) and launch.user == user
    assert launch.status == Launch.Status.COMPLETED and launch.source == "http"
    completed_receiver.assert_called_once()
    assert completed_receiver.call_args.kwargs["launch"].pk == launch.pk
    assert [c["cycle_id"] for c in launch.result["cycles"]] == [
        c.cycle_id for c in completed_receiver.call_args.kwargs["result"].cycles]


def test_cyclr_install_passes_the_marketplace_choices(cyclr_install, user, fake_cyclr, completed_receiver, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MARKETPLACE_IDS": [2]}  # the allow-list of ?marketplace=
    launch = cyclr_install(user, marketplace=2, package_id=2, start_cycles=False)
    assert launch.marketplace_id == 2
    assert fake_cyclr.installs[-1]["package_id"] == 2
    result = completed_receiver.call_args.kwargs["result"]
    assert result.errors and {c.status for c in result.cycles} == {"Stopped"}


def test_cyclr_install_in_redirect_mode_delivers_through_proxy_complete(cyclr_install, user, completed_receiver):
    launch = cyclr_install(user, mode="redirect")
    assert launch.mode == Launch.Mode.REDIRECT and launch.status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()


@pytest.mark.django_db(transaction=True)
def test_cyclr_install_works_with_a_transactional_database(cyclr_install, user, completed_receiver):
    assert cyclr_install(user).status == Launch.Status.COMPLETED
    completed_receiver.assert_called_once()


@pytest.mark.django_db(transaction=True)
def test_cyclr_install_inside_a_transaction_of_the_test_says_what_to_change(cyclr_install, user, completed_receiver):
    with pytest.raises(InstallFailed, match="never verified.*not a transaction of your own"):
        with transaction.atomic():
            cyclr_install(user)
    completed_receiver.assert_not_called()


def test_a_launch_the_kit_cannot_open_is_a_clear_failure(cyclr_install, user):
    with override_settings(CYCLR_PROXY={**proxy_settings.user_settings, "MARKETPLACE_ORIGINS": ["https://elsewhere.example"]}):
        with pytest.raises(InstallFailed, match="proxy:launch answered 500"):
            cyclr_install(user)
    assert not Arrival.objects.exists()


def test_without_the_kits_urls_cyclr_install_names_the_include(cyclr_install, user, settings):
    settings.ROOT_URLCONF = "tests.urls_without_proxy"
    with pytest.raises(InstallFailed, match=r'include\("proxy.urls"\)'):
        cyclr_install(user)


def test_install_through_views_is_usable_without_pytest_fixtures(fake_cyclr, user, db):
    # The same runner, for unittest-style tests (Django's TestCase) that cannot take fixtures.
    launch = install_through_views(user, package_id=1)
    assert launch.status == Launch.Status.COMPLETED
    assert install_over_http  # the lower-level helper stays importable for tests that deliver by hand


def test_the_fake_serves_the_projects_marketplace_and_allow_list():
    assert marketplace_ids_for({"MARKETPLACE_ID": 12, "MARKETPLACE_IDS": [3, 12, 0, True, "4"]}) == (12, 3)
    assert marketplace_ids_for({}) == marketplace_ids_for(None) == (1,)
