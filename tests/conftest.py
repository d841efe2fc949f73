"""Shared fixtures: a real fake Cyclr on 127.0.0.1, settings pointing at it, users, launches."""
import os
from unittest import mock

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, settings as hypothesis_settings

from proxy.launches import open_launch
from proxy.testing.marketplace import install_over_http
from proxy.testing.wiring import cyclr_proxy_for

CLIENT_ID = "test-client"

# Hypothesis (tests/test_fuzz_*.py): CI runs every property on 2,000 examples; a local run takes a
# quicker look. HYPOTHESIS_PROFILE picks one explicitly. No deadline: the machine is shared, and a
# slow example is not a wrong one. The fuzz tests share one database and socket setup across
# examples (an inner @given), so the fixture health check does not apply.
hypothesis_settings.register_profile(
    "ci", max_examples=2000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
hypothesis_settings.register_profile(
    "dev", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI every test must run: a skip (browser missing, no PostgreSQL/Redis) fails the run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where every test must run: {report.longrepr}"

CLIENT_SECRET = "test-secret"
FAKE_CYCLR_OPTIONS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "marketplace_ids": (1, 2)}
# What this suite's tests assume, whatever the settings module says (proxy.testing.wiring keeps the rest).
PROXY_TEST_SETTINGS = {
    "MARKETPLACE_ID": 1,
    "HOST_ORIGINS": ["http://localhost:8000"],
    "ACCOUNT_RESOLVER": "proxy.accounts.user_account",
    "LAUNCH_TTL": 600,
    "VERIFY_WITH_API": True,
    "MAX_RESULT_BYTES": 64 * 1024,
}


# The shipped plugin (proxy.testing.pytest_plugin, loaded with -p in pyproject.toml) provides fake_cyclr and
# cyclr_install; these two shape its fake for this suite.
@pytest.fixture(scope="session", autouse=True)
def asgi_application_built_under_the_test_settings():
    """Build ``tests.asgi.application`` before any test changes the settings. Channels'
    ``AllowedHostsOriginValidator`` reads ``ALLOWED_HOSTS`` and ``DEBUG`` once, as the module is imported, and the
    live server classes fork this process with the module as it is: imported first by a check under a test's
    production-like settings (``manage.py check`` imports the ASGI application to look at its routes), it would
    refuse every WebSocket from ``localhost`` in every later browser test."""
    import tests.asgi  # noqa: F401


@pytest.fixture
def fake_cyclr_options():
    return dict(FAKE_CYCLR_OPTIONS)


@pytest.fixture
def fake_cyclr_settings():
    return dict(PROXY_TEST_SETTINGS)


# The two ways Cyclr's pages say it answers where they disagree (docs/cyclr-api.md): "documented", the fake's
# defaults (mint AccountId and X-Cyclr-Account by API id, Paused, no Webhooks on the cycle), and "guid", the
# older pages' shape, with the setting that goes with it. A module runs its tests under both with
# ``fake_cyclr_options = cyclr_shape_options`` and ``fake_cyclr_settings = cyclr_shape_settings``.
CYCLR_SHAPES = {
    "documented": ({}, {}),
    "guid": ({"account_ids": "guid", "account_header": "id", "stopped_status": "Stopped", "cycle_webhooks": True},
             {"ACCOUNT_HEADER": "id"}),
}


@pytest.fixture(params=sorted(CYCLR_SHAPES))
def cyclr_shape(request):
    return request.param


@pytest.fixture
def cyclr_shape_options(cyclr_shape):
    return {**FAKE_CYCLR_OPTIONS, **CYCLR_SHAPES[cyclr_shape][0]}


@pytest.fixture
def cyclr_shape_settings(cyclr_shape):
    return {**PROXY_TEST_SETTINGS, **CYCLR_SHAPES[cyclr_shape][1]}


def proxy_settings_for(fake, **overrides):
    """This suite's ``CYCLR_PROXY`` for ``fake``, for tests that build one by hand."""
    return cyclr_proxy_for(fake, {}, **{**PROXY_TEST_SETTINGS, **overrides})


@pytest.fixture
def cyclr(fake_cyclr):
    """The suite's older name for the shipped ``fake_cyclr`` (settings aimed at it); yields the fake."""
    return fake_cyclr


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
def settlements_finish():
    """Results are settled after the ack, in the kit's threads (the default): none may outlive its test
    (its database is flushed next). Set up before the test's own fixtures, so torn down after them."""
    yield
    from proxy import ahead
    from proxy.settlement import cancel_retries, drain

    ahead.forget()  # a round asked ahead is its launch's, and no later test's

    cancel_retries()  # a retry after a Cyclr outage would fire in a later test, against a flushed database
    assert drain(timeout=60), "an in-process settlement was still running 60 s after its test"


@pytest.fixture
def settled():
    """``settled(launch)``: wait until the in-process settlements started so far have finished, then return
    ``launch`` fresh from the database (what a test checks after a door answered ``received``)."""
    from proxy.settlement import drain

    def wait(launch=None):
        assert drain(timeout=60), "an in-process settlement did not finish within 60 s"
        if launch is not None:
            launch.refresh_from_db()
        return launch

    return wait


@pytest.fixture
def immediate_tasks(settings):
    """Settle in the caller, at once, through an ImmediateBackend alias of TASKS ("default" in tests/settings.py and hostkit/settings.py):
    for tests about what verification decides, not about where it runs."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "TASK_BACKEND": "default"}


@pytest.fixture(autouse=True)
def fresh_limits():
    """Each test starts with no per-user counts (proxy.limits): user ids repeat from test to test,
    and the cache outlives them."""
    from django.core.cache import caches

    from proxy.conf import proxy_settings

    caches[proxy_settings.LIMITS_CACHE].clear()


@pytest.fixture
def fast_commits():
    """Commits that skip the disk flush, on every connection this test opens (the fuzz tests commit thousands).

    A test database need not survive a power cut; this makes a commit cost microseconds, not a flush.
    """
    from django.db import connections
    from django.db.backends.signals import connection_created

    def unflushed(connection, **kwargs):
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA synchronous = OFF")
            elif connection.vendor == "postgresql":
                cursor.execute("SET synchronous_commit TO OFF")

    connection_created.connect(unflushed, dispatch_uid="fuzz-fast-commits")
    for connection in connections.all(initialized_only=True):
        unflushed(connection)
    yield
    connection_created.disconnect(dispatch_uid="fuzz-fast-commits")


@pytest.fixture
def unlimited(settings, cyclr):
    """The per-user limits off: the fuzz tests send thousands of frames and deliveries as one user on purpose."""
    from proxy.conf import DEFAULTS

    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "LIMITS": {name: None for name in DEFAULTS["LIMITS"]}}


@pytest.fixture
def in_memory_layer(settings):
    """The in-memory channel layer, in every pass, for tests that drive consumers in this process: with
    channels-redis a communicator's teardown waits out the layer's blocking read, and under async_to_sync it
    could hang. The layer itself is tested in the scale-out tests (test_scaleout, test_two_workers)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
