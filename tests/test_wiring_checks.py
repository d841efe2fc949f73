"""System checks for wiring mistakes: the kit's URLs, its WebSocket routes, the channel layer, login middleware."""
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from proxy import checks
from proxy.consumers import EventsConsumer, LaunchConsumer

from . import asgi_variants, urls_wiring

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"


def ids(messages):
    return [message.id for message in messages]


# --- proxy.E101: the kit's URLs ------------------------------------------------------------------------


def test_the_example_hosts_urls_include_the_kit():
    assert checks.check_urls_included() == []


def test_urls_without_the_kit_are_E101_naming_the_include(settings):
    settings.ROOT_URLCONF = "tests.urls_without_proxy"
    (message,) = checks.check_urls_included()
    assert message.id == "proxy.E101" and message.is_serious()
    assert "reverse('proxy:launch')" in message.msg
    assert 'path("proxy/", include("proxy.urls"))' in message.hint


# --- proxy.E102 / E103: the WebSocket routes -------------------------------------------------------------


def test_the_example_hosts_asgi_application_reaches_both_consumers():
    assert checks.check_websocket_routes() == []


@pytest.mark.parametrize("name", ["readme", "nested"])
def test_routes_wired_as_the_readme_says_or_nested_pass(settings, name):
    settings.ASGI_APPLICATION = f"tests.asgi_variants.{name}"
    assert checks.check_websocket_routes() == []


def test_an_unset_asgi_application_is_E102(settings):
    del settings.ASGI_APPLICATION
    (message,) = checks.check_websocket_routes()
    assert message.id == "proxy.E102" and "ASGI_APPLICATION is not set" in message.msg
    assert "proxy.routing.websocket_urlpatterns" in message.hint


def test_an_asgi_application_that_cannot_be_loaded_is_E102(settings):
    settings.ASGI_APPLICATION = asgi_variants.not_importable
    (message,) = checks.check_websocket_routes()
    assert message.id == "proxy.E102" and "cannot be loaded" in message.msg and asgi_variants.not_importable in message.msg


@pytest.mark.parametrize("name, unreached", [
    ("http_only", ["/ws/proxy/launches/", "/ws/proxy/events/"]),
    ("prefixed", ["/ws/proxy/launches/", "/ws/proxy/events/"]),
    ("half", ["/ws/proxy/events/"]),
])
def test_routes_the_pages_cannot_reach_are_E103(settings, name, unreached):
    settings.ASGI_APPLICATION = f"tests.asgi_variants.{name}"
    messages = checks.check_websocket_routes()
    assert ids(messages) == ["proxy.E103"] * len(unreached)
    for message, path in zip(messages, unreached):
        assert path in message.msg and "proxy.consumers." in message.msg


def test_startprojects_plain_asgi_py_is_E106_not_silence(settings):
    # Django's ASGIHandler has nothing the route walker can follow: before E106 the check said nothing at all.
    settings.ASGI_APPLICATION = "tests.asgi_variants.startproject"
    (message,) = checks.check_websocket_routes()
    assert message.id == "proxy.E106" and message.is_serious()
    assert "plain ASGI handler" in message.msg and "HTTP only" in message.msg
    assert "proxy.routing.websocket_urlpatterns" in message.hint


def test_an_application_the_check_cannot_see_into_gives_no_message(settings):
    settings.ASGI_APPLICATION = "tests.asgi_variants.opaque"
    assert checks.check_websocket_routes() == []


def test_the_route_walker_follows_channels_routing():
    launch_path, events_path = (path for path, _ in checks.WEBSOCKET_ROUTES)
    assert checks.websocket_consumer(asgi_variants.readme, launch_path) is LaunchConsumer
    assert checks.websocket_consumer(asgi_variants.readme, events_path) is EventsConsumer
    assert checks.websocket_consumer(asgi_variants.readme, "/ws/proxy/launches/not-a-uuid/") is None
    assert checks.websocket_consumer(asgi_variants.readme, "/ws/proxy/events/extra/") is None
    assert checks.websocket_consumer(asgi_variants.opaque, events_path) is checks.UNKNOWN


# --- proxy.E104: the channel layer's backend ------------------------------------------------------------


def test_an_importable_layer_gives_no_message(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    assert checks.check_channel_layer_importable() == []


def test_channels_redis_not_installed_is_E104_naming_the_redis_extra(settings, monkeypatch):
    # As on a machine without channels-redis: importing it fails.
    monkeypatch.setitem(sys.modules, "channels_redis", None)
    monkeypatch.setitem(sys.modules, "channels_redis.core", None)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    (message,) = checks.check_channel_layer_importable()
    assert message.id == "proxy.E104" and "'channels_redis.core.RedisChannelLayer'" in message.msg
    assert 'pip install "cyclr-hostkit[redis]"' in message.hint


def test_a_misspelt_layer_is_E104_without_the_extra(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChanelLayer"}}
    (message,) = checks.check_channel_layer_importable()
    assert message.id == "proxy.E104" and "[redis]" not in message.hint


# --- proxy.E107: no channel layer at all --------------------------------------------------------------------


def test_the_test_projects_channel_layer_passes():
    assert checks.check_channel_layers_set() == []


@pytest.mark.parametrize("layers", [None, {}, {"other": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}])
def test_no_default_channel_layer_is_E107(settings, layers):
    if layers is None:
        del settings.CHANNEL_LAYERS
    else:
        settings.CHANNEL_LAYERS = layers
    (message,) = checks.check_channel_layers_set()
    assert message.id == "proxy.E107" and message.is_serious() and "CHANNEL_LAYERS" in message.msg
    assert "InMemoryChannelLayer" in message.hint and "RedisChannelLayer" in message.hint


# --- proxy.W009: runserver is daphne's ----------------------------------------------------------------------


def test_daphne_first_passes():
    assert checks.check_runserver_is_asgi() == []


@pytest.mark.parametrize("apps, where", [
    (["django.contrib.staticfiles", "channels", "proxy"], "is not in INSTALLED_APPS"),
    (["django.contrib.staticfiles", "daphne", "channels", "proxy"], "comes after 'django.contrib.staticfiles'"),
])
def test_runserver_without_daphne_first_is_W009(settings, apps, where):
    settings.INSTALLED_APPS = apps
    (message,) = checks.check_runserver_is_asgi()
    assert message.id == "proxy.W009" and not message.is_serious()
    assert where in message.msg and "runserver" in message.msg and '"daphne" first' in message.hint


# --- proxy.W010: HOST_ORIGINS against ALLOWED_HOSTS --------------------------------------------------------


def _host_origins(settings, *origins):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "HOST_ORIGINS": list(origins)}


@pytest.mark.parametrize("allowed", [["app.test"], ["APP.test"], [".app.test"], ["*"], ["localhost", "app.test"]])
def test_host_origins_that_allowed_hosts_accepts_pass(settings, allowed):
    settings.ALLOWED_HOSTS = allowed
    _host_origins(settings, "http://app.test:8000")
    assert checks.check_host_origins_allowed() == []


def test_a_host_origin_allowed_hosts_refuses_is_W010_naming_the_host(settings):
    settings.ALLOWED_HOSTS = ["localhost", ".example.com"]
    _host_origins(settings, "http://localhost:8000", "https://app.example.com", "https://app.example.org",
                  "http://[::1]:8000")
    messages = checks.check_host_origins_allowed()
    assert ids(messages) == ["proxy.W010", "proxy.W010"]
    assert "'https://app.example.org'" in messages[0].msg and "'app.example.org'" in messages[0].hint
    assert "'[::1]'" in messages[1].hint


def test_with_debug_and_no_allowed_hosts_djangos_local_names_pass(settings):
    settings.DEBUG, settings.ALLOWED_HOSTS = True, []
    _host_origins(settings, "http://localhost:8000", "http://127.0.0.1:8000", "http://app.test:8000")
    (message,) = checks.check_host_origins_allowed()
    assert message.id == "proxy.W010" and "'app.test'" in message.msg


# --- proxy.E105: LoginRequiredMiddleware ------------------------------------------------------------------


def test_without_login_required_middleware_nothing_is_said(settings):
    settings.ROOT_URLCONF = urls_wiring.Gated
    assert checks.check_public_views_not_login_gated() == []


def test_a_login_gated_webhook_is_E105(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED]
    settings.ROOT_URLCONF = urls_wiring.Gated
    (message,) = checks.check_public_views_not_login_gated()
    assert message.id == "proxy.E105" and "proxy:webhook" in message.msg and "login_not_required" in message.hint


def test_a_webhook_marked_login_not_required_passes(settings, client):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED]
    settings.ROOT_URLCONF = urls_wiring.Exempt
    assert checks.check_public_views_not_login_gated() == []
    # And so it is: Cyclr's call reaches the webhook (a 404 for a wrong secret), not the login page.
    answer = client.post("/proxy/webhook/0123456789abcdef/", "{}", content_type="application/json")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"


# --- through manage.py check --------------------------------------------------------------------------------


@pytest.mark.django_db  # Django 6's check command also asks the database
def test_manage_py_check_reports_wiring_mistakes(settings, capsys):
    settings.ROOT_URLCONF = "tests.urls_without_proxy"
    settings.ASGI_APPLICATION = "tests.asgi_variants.http_only"
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    assert "proxy.E101" in str(caught.value) and "proxy.E103" in str(caught.value)


@pytest.mark.django_db
def test_manage_py_check_catches_a_startproject_that_followed_only_the_readme(settings):
    # startproject's asgi.py, runserver without daphne, no CHANNEL_LAYERS, a HOST_ORIGINS host refused.
    settings.ASGI_APPLICATION = "tests.asgi_variants.startproject"
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "daphne"]
    del settings.CHANNEL_LAYERS
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "HOST_ORIGINS": ["http://app.test:8000"]}
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    for id in ("proxy.E106", "proxy.E107", "proxy.W009", "proxy.W010"):
        assert id in str(caught.value)


def test_hints_name_the_kits_settings_not_the_example_hosts_environment(settings):
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    (message,) = checks.check_channel_layer_reaches_across_processes()
    assert message.id == "proxy.W002" and "REDIS_URL" not in message.hint
    assert "CHANNEL_LAYERS" in message.hint and "cyclr-hostkit[redis]" in message.hint


def test_every_check_is_registered_once():
    from django.core.checks.registry import registry

    registered = [check for check in registry.get_checks() if check.__module__ == "proxy.checks"]
    assert len(registered) == len(set(registered))
    assert set(checks.SETTINGS_CHECKS) <= set(registered)
    assert {checks.check_urls_included, checks.check_websocket_routes, checks.check_channel_layer_importable,
            checks.check_public_views_not_login_gated, checks.check_channel_layers_set, checks.check_runserver_is_asgi,
            checks.check_host_origins_allowed} <= set(registered)


def test_the_kits_health_view_is_public_under_login_required_middleware(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, LOGIN_REQUIRED]
    assert not [m for m in checks.check_public_views_not_login_gated() if "proxy:health" in m.msg]


# --- proxy.W011: SQLite in Django's default transaction mode -------------------------------------------------

STARTPROJECT_SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}


@pytest.mark.parametrize("options, warned", [
    (None, True),  # startproject's settings
    ({"timeout": 20}, True),  # a longer timeout does not help a deferred transaction that must upgrade
    ({"transaction_mode": "DEFERRED"}, True),
    ({"transaction_mode": "IMMEDIATE", "timeout": 20}, False),
    ({"transaction_mode": "immediate"}, False),
])
def test_sqlite_without_immediate_transactions_is_W011(options, warned):
    config = {**STARTPROJECT_SQLITE, **({"OPTIONS": options} if options is not None else {})}
    assert checks.sqlite_without_immediate_writes({"default": config}) == (["default"] if warned else [])


def test_other_databases_are_not_W011():
    assert checks.sqlite_without_immediate_writes({"default": {"ENGINE": "django.db.backends.postgresql"}}) == []


def test_the_suites_own_sqlite_settings_pass_and_startprojects_get_the_exact_fix():
    assert checks.check_sqlite_takes_concurrent_writes() == []  # tests/settings.py sets IMMEDIATE (or PostgreSQL)
    (message,) = checks.sqlite_warnings({"default": dict(STARTPROJECT_SQLITE)})
    assert message.id == "proxy.W011" and not message.is_serious()
    assert "database is locked" in message.msg
    assert """DATABASES['default']["OPTIONS"] = {'transaction_mode': 'IMMEDIATE', 'timeout': 20}""" in message.hint
