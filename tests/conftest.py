"""Shared fixtures: a real fake Cyclr on 127.0.0.1, settings pointing at it, users, launches."""
import os
from unittest import mock

import pytest
from django.test import RequestFactory

from proxy.cyclr import CyclrClient
from proxy.launches import open_launch
from proxy.testing.fake_cyclr import FakeCyclr
from proxy.testing.marketplace import install_over_http

CLIENT_ID = "test-client"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every test must run: a skip (browser missing, no PostgreSQL/Redis) fails the run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where every test must run: {report.longrepr}"

CLIENT_SECRET = "test-secret"


@pytest.fixture
def fake_cyclr():
    with FakeCyclr(host="127.0.0.1", port=0, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, marketplace_ids=(1, 2)) as fake:
        yield fake


def proxy_settings_for(fake, **overrides):
    return {
        "API_URL": fake.url,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "MARKETPLACE_ID": 1,
        "MARKETPLACE_ORIGINS": [fake.origin],
        "HOST_ORIGINS": ["http://localhost:8000"],
        "ACCOUNT_RESOLVER": "proxy.accounts.user_account",
        "LAUNCH_TTL": 600,
        "VERIFY_WITH_API": True,
        "MAX_RESULT_BYTES": 64 * 1024,
        **overrides,
    }


@pytest.fixture
def cyclr(settings, fake_cyclr):
    """Settings aimed at the fake Cyclr; yields the fake."""
    settings.CYCLR_PROXY = proxy_settings_for(fake_cyclr)
    CyclrClient.forget_tokens()  # tokens of another test's fake are no good here
    yield fake_cyclr
    CyclrClient.forget_tokens()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("mallory", password="mallory-password")


@pytest.fixture
def launch_for(cyclr):
    """``launch_for(user)`` opens a launch like proxy:launch does; returns (launch, marketplace_url)."""

    def open_for(user, **kwargs):
        request = RequestFactory().get("/proxy/launch/")
        request.user = user
        return open_launch(request, **kwargs)

    return open_for


@pytest.fixture
def installed(launch_for, user):
    """A pending launch of ``user`` and the real result the fake Marketplace gave for it."""

    def install(owner=None, **kwargs):
        launch, url = launch_for(owner or user)
        return launch, install_over_http(url, **kwargs)

    return install


@pytest.fixture
def completed_receiver():
    """An autospec'd stand-in connected to ``install_completed`` (in this process) for the test."""
    from proxy import signals

    handler = mock.create_autospec(lambda sender, **kwargs: None)
    signals.install_completed.connect(handler, dispatch_uid="test-completed-receiver")
    yield handler
    signals.install_completed.disconnect(dispatch_uid="test-completed-receiver")


@pytest.fixture(autouse=True)
def fresh_limits():
    """Each test starts with no per-user counts (proxy.limits): user ids repeat from test to test,
    and the cache outlives them."""
    from django.core.cache import caches

    from proxy.conf import proxy_settings

    caches[proxy_settings.LIMITS_CACHE].clear()
