"""System checks on CYCLR_PROXY, and the proxy.conf accessor they sit beside."""
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from proxy.accounts import user_account
from proxy.checks import check_limits, check_marketplace_ids, check_proxy_settings
from proxy.conf import DEFAULTS, proxy_settings

GOOD = {
    "API_URL": "https://api.eu.cyclr.com",
    "CLIENT_ID": "client-id",
    "CLIENT_SECRET": "client-secret",
    "MARKETPLACE_ID": 7,
    "MARKETPLACE_ORIGINS": ["https://acme-h.eu.cyclr.com"],
    "HOST_ORIGINS": ["https://app.example.com", "https://www.example.com:8443"],
    "ACCOUNT_RESOLVER": "proxy.accounts.user_account",
    "LAUNCH_TTL": 1800,
    "VERIFY_WITH_API": True,
    "WEBHOOK_SECRET": "whsec-0123456789abcdef",
    "MAX_RESULT_BYTES": 65536,
}
REDIS_CACHE = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1"}}
REDIS_LAYER = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"]}}}

not_a_callable = "a module attribute that is not callable"


@pytest.fixture
def production(settings):
    """A production-like site: DEBUG off, a cross-process channel layer and cache, a good CYCLR_PROXY."""
    settings.DEBUG = False
    settings.CHANNEL_LAYERS = REDIS_LAYER
    settings.CACHES = REDIS_CACHE
    settings.ALLOWED_HOSTS = [".example.com"]  # HOST_ORIGINS' hosts (proxy.W010)
    settings.CYCLR_PROXY = dict(GOOD)
    return settings


def check_with(settings, **overrides):
    """The kit's check messages with ``overrides`` applied over the good configuration."""
    settings.CYCLR_PROXY = {**GOOD, **overrides}
    return check_proxy_settings()


def ids(settings, **overrides):
    return [message.id for message in check_with(settings, **overrides)]


def test_a_good_configuration_gives_no_messages(production):
    assert check_proxy_settings() == []


def test_a_good_configuration_with_a_callable_resolver_and_tuples(production):
    assert ids(production, ACCOUNT_RESOLVER=user_account, MARKETPLACE_ORIGINS=("https://acme-h.cyclr.com",)) == []


@pytest.mark.parametrize("value", ["missing", None, [], ["API_URL"], "https://api.cyclr.com"])
def test_a_missing_or_non_dict_setting_is_E001(production, value):
    if value == "missing":
        del production.CYCLR_PROXY
    else:
        production.CYCLR_PROXY = value
    messages = check_proxy_settings()
    assert [m.id for m in messages] == ["proxy.E001"]
    assert "CYCLR_PROXY" in messages[0].msg and messages[0].hint


@pytest.mark.parametrize("value", ["", "api.cyclr.com", "ftp://api.cyclr.com", None, 42, "https://", "http:///v1.0"])
def test_a_bad_api_url_is_E002(production, value):
    assert ids(production, API_URL=value) == ["proxy.E002"]


def test_a_missing_api_url_is_E002(production):
    production.CYCLR_PROXY = {k: v for k, v in GOOD.items() if k != "API_URL"}
    assert [m.id for m in check_proxy_settings()] == ["proxy.E002"]


def test_a_plain_http_api_url_is_allowed(production):
    # Partners on their own domain, and the fake Cyclr, may answer on http.
    assert ids(production, API_URL="http://127.0.0.1:8001") == []


@pytest.mark.parametrize("key", ["CLIENT_ID", "CLIENT_SECRET"])
@pytest.mark.parametrize("value", ["", None])
def test_empty_credentials_are_E003(production, key, value):
    messages = check_with(production, **{key: value})
    assert [m.id for m in messages] == ["proxy.E003"]
    assert key in messages[0].msg


def test_both_credentials_missing_give_two_E003(production):
    production.CYCLR_PROXY = {k: v for k, v in GOOD.items() if k not in ("CLIENT_ID", "CLIENT_SECRET")}
    assert [m.id for m in check_proxy_settings()] == ["proxy.E003", "proxy.E003"]


@pytest.mark.parametrize("value", [None, 0, -1, True, False, "1", 1.0, "7"])
def test_a_bad_marketplace_id_is_E004(production, value):
    assert ids(production, MARKETPLACE_ID=value) == ["proxy.E004"]


@pytest.mark.parametrize("key", ["MARKETPLACE_ORIGINS", "HOST_ORIGINS"])
@pytest.mark.parametrize("value", [[], (), None, "https://acme-h.cyclr.com", 5, {"https://acme-h.cyclr.com": True}])
def test_empty_or_non_list_origins_are_E005(production, key, value):
    messages = check_with(production, **{key: value})
    assert [m.id for m in messages] == ["proxy.E005"]
    assert key in messages[0].msg


@pytest.mark.parametrize("key", ["MARKETPLACE_ORIGINS", "HOST_ORIGINS"])
@pytest.mark.parametrize("value", [
    "https://acme-h.cyclr.com/",  # a trailing slash: event.origin never has one
    "https://ACME-h.cyclr.com",  # browsers serialize hosts in lower case
    "HTTPS://acme-h.cyclr.com",
    "https://acme-h.cyclr.com/launch",
    "https://acme-h.cyclr.com?x=1",
    "https://acme-h.cyclr.com#top",
    "acme-h.cyclr.com",
    "*.cyclr.com",
    "ftp://acme-h.cyclr.com",
    "https://user@acme-h.cyclr.com",
    "",
    None,
    42,
])
def test_a_value_that_is_not_an_origin_is_E006(production, key, value):
    production.CYCLR_PROXY[key] = ["https://good.example.com", value]
    messages = check_proxy_settings()
    assert [m.id for m in messages] == ["proxy.E006"]
    assert repr(value) in messages[0].msg


@pytest.mark.parametrize("value", [
    "https://*.cyclr.com",  # no wildcards: event.origin is compared exactly, so this never matches
    "https://acme-h.cyclr.com:443",  # browsers drop the default port from event.origin
    "https://acme-h.cyclr.com:",  # an empty port
    "http://[::1",  # unparsable: urlsplit raises ValueError inside the check
])
def test_origins_a_browser_never_reports_are_E006(production, value):
    production.CYCLR_PROXY["MARKETPLACE_ORIGINS"] = [value]
    assert [m.id for m in check_proxy_settings()] == ["proxy.E006"]


@pytest.mark.parametrize("value", ["proxy.accounts.no_such_resolver", "no_such_module.resolver", "nodots", "",
                                   "tests.test_checks.not_a_callable", 42, None])
def test_an_unimportable_or_non_callable_resolver_is_E007(production, value):
    messages = check_with(production, ACCOUNT_RESOLVER=value)
    assert [m.id for m in messages] == ["proxy.E007"]
    assert "ACCOUNT_RESOLVER" in messages[0].msg


@pytest.mark.parametrize("key", ["LAUNCH_TTL", "MAX_RESULT_BYTES"])
@pytest.mark.parametrize("value", [0, -5, True, "600", 1.5, None])
def test_a_bad_ttl_or_size_is_E008(production, key, value):
    messages = check_with(production, **{key: value})
    assert [m.id for m in messages] == ["proxy.E008"]
    assert key in messages[0].msg


def test_verification_off_is_W001(production):
    messages = check_with(production, VERIFY_WITH_API=False)
    assert [m.id for m in messages] == ["proxy.W001"]
    assert not messages[0].is_serious()


def test_the_in_memory_layer_without_debug_is_W002(production):
    production.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert [m.id for m in check_proxy_settings()] == ["proxy.W002"]


def test_no_channel_layer_without_debug_is_W002(production):
    del production.CHANNEL_LAYERS
    assert [m.id for m in check_proxy_settings()] == ["proxy.W002"]


def test_the_in_memory_layer_is_fine_with_debug(production):
    production.DEBUG = True
    production.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert check_proxy_settings() == []


def test_a_plain_http_marketplace_origin_is_W003_under_check_deploy_only(production):
    """Every management command runs the system checks (without --deploy), so a deployment-only warning would land
    in every cron mail: W003 speaks only under ``check --deploy``, as Django's security.* do."""
    from django.core import checks

    production.CYCLR_PROXY["MARKETPLACE_ORIGINS"] = ["https://acme-h.cyclr.com", "http://acme-h.cyclr.test:8001"]
    assert check_proxy_settings() == []
    assert "proxy.W003" not in [m.id for m in checks.run_checks()]  # what a command's own check run sees
    (warning,) = [m for m in checks.run_checks(include_deployment_checks=True) if m.id == "proxy.W003"]
    assert "http://acme-h.cyclr.test:8001" in warning.msg and not warning.is_serious()


def test_https_marketplace_origins_and_a_plain_http_host_are_no_W003(production):
    from django.core import checks

    production.CYCLR_PROXY["HOST_ORIGINS"] = ["http://localhost:8000"]  # the host's own: not what W003 is about
    assert "proxy.W003" not in [m.id for m in checks.run_checks(include_deployment_checks=True)]


@pytest.mark.parametrize("value", ["", [], (), None, "missing"])
def test_no_webhook_secret_is_W004(production, value):
    if value == "missing":
        del production.CYCLR_PROXY["WEBHOOK_SECRET"]
    else:
        production.CYCLR_PROXY["WEBHOOK_SECRET"] = value
    messages = check_proxy_settings()
    assert [m.id for m in messages] == ["proxy.W004"]
    assert "disabled" in messages[0].msg and "browser alone" in messages[0].msg
    assert "/proxy/webhook/<secret>/" in messages[0].hint
    assert not messages[0].is_serious()


@pytest.mark.parametrize("value", [
    ["whsec-0123456789abcdef-new", "whsec-0123456789abcdef-old"],  # rotating
    ("whsec-0123456789abcdef",),
    "x" * 16,
])
def test_a_long_secret_or_a_list_of_them_is_fine(production, value):
    assert ids(production, WEBHOOK_SECRET=value) == []


@pytest.mark.parametrize("value", [
    "s3cret",  # too short to stand alone as the webhook's only authentication
    "x" * 15,
    ["whsec-0123456789abcdef", "short"],
    ["whsec-0123456789abcdef", ""],
    ["whsec-0123456789abcdef", None],
    [42],
    42,
    True,
    {"current": "whsec-0123456789abcdef"},
])
def test_a_bad_webhook_secret_is_E009(production, value):
    messages = check_with(production, WEBHOOK_SECRET=value)
    assert [m.id for m in messages] == ["proxy.E009"]
    assert "WEBHOOK_SECRET" in messages[0].msg and messages[0].hint
    assert not isinstance(value, str) or value not in messages[0].msg + messages[0].hint  # never echoes a secret


def test_several_problems_are_all_reported(production):
    production.CYCLR_PROXY = {"API_URL": "nope", "MARKETPLACE_ID": "1", "VERIFY_WITH_API": False}
    assert sorted(m.id for m in check_proxy_settings()) == [
        "proxy.E002", "proxy.E003", "proxy.E003", "proxy.E004", "proxy.E005", "proxy.E005", "proxy.W001", "proxy.W004"]


@pytest.mark.django_db  # Django 6's check command also asks the database
def test_manage_py_check_fails_on_a_misconfiguration(production, capsys):
    production.CYCLR_PROXY["CLIENT_SECRET"] = ""
    with pytest.raises(SystemCheckError) as caught:
        call_command("check")
    assert "proxy.E003" in str(caught.value)
    assert "CLIENT_SECRET" in str(caught.value)


@pytest.mark.django_db  # Django 6's check command also asks the database
def test_manage_py_check_passes_a_good_configuration(production, capsys):
    call_command("check")
    assert "no issues" in capsys.readouterr().out


@pytest.mark.django_db  # Django 6's check command also asks the database
def test_manage_py_check_reports_warnings_without_failing(production, capsys):
    production.CYCLR_PROXY["VERIFY_WITH_API"] = False
    call_command("check")
    assert "proxy.W001" in capsys.readouterr().err


# --- proxy.conf ------------------------------------------------------------------------------------


def test_settings_are_read_merged_over_the_defaults(production):
    production.CYCLR_PROXY = {"API_URL": "https://api.cyclr.uk", "ACCOUNT_RESOLVER": "proxy.accounts.user_account"}
    assert proxy_settings.API_URL == "https://api.cyclr.uk"
    assert proxy_settings.MAX_RESULT_BYTES == DEFAULTS["MAX_RESULT_BYTES"] == 64 * 1024
    assert proxy_settings.LAUNCH_TTL == DEFAULTS["LAUNCH_TTL"]
    assert proxy_settings.ACCOUNT_RESOLVER is user_account  # the dotted path is imported


def test_override_settings_is_seen_and_undone(production):
    assert proxy_settings.API_URL == GOOD["API_URL"]  # read once, so it is cached
    with override_settings(CYCLR_PROXY={**GOOD, "API_URL": "https://api.apac.cyclr.com", "LAUNCH_TTL": 60}):
        assert proxy_settings.API_URL == "https://api.apac.cyclr.com"
        assert proxy_settings.LAUNCH_TTL == 60
    assert proxy_settings.API_URL == GOOD["API_URL"]
    assert proxy_settings.LAUNCH_TTL == GOOD["LAUNCH_TTL"]


def test_a_missing_setting_dict_gives_the_defaults(production):
    del production.CYCLR_PROXY
    assert proxy_settings.API_URL == ""
    assert proxy_settings.MARKETPLACE_ORIGINS == []
    assert proxy_settings.VERIFY_WITH_API is True


def test_an_unknown_setting_name_raises_attribute_error(production):
    with pytest.raises(AttributeError, match="NOT_A_SETTING"):
        proxy_settings.NOT_A_SETTING
    assert not hasattr(proxy_settings, "api_url")  # names are exact


# --- Per-user limits and the Marketplace allow-list ---------------------------------------------------

LOCMEM_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def limit_messages(settings, **overrides):
    settings.CYCLR_PROXY = {**GOOD, **overrides}
    return check_limits() + check_marketplace_ids()


def limit_ids(settings, **overrides):
    return [message.id for message in limit_messages(settings, **overrides)]


def test_explicit_limits_and_marketplace_ids_give_no_messages(production):
    assert limit_ids(production, LIMITS={"launches": (5, 60), "deliveries": [10, 60], "frames": None, "sockets": 3},
                     MARKETPLACE_IDS=[7, 8], LIMITS_CACHE="default") == []


@pytest.mark.parametrize("value", [None, [], "10/m", {"launches": (0, 60)}, {"launches": "10/m"}, {"launches": (10,)},
                                   {"deliveries": (True, 60)}, {"frames": (10, 1.5)}, {"sockets": 0}, {"sockets": (1, 2)},
                                   {"logins": (1, 60)}])
def test_an_unusable_limit_is_E010(production, value):
    assert limit_ids(production, LIMITS=value) == ["proxy.E010"]


def test_each_unusable_limit_is_named(production):
    assert [m.msg for m in limit_messages(production, LIMITS={"launches": "10/m", "sockets": -1})] == [
        "CYCLR_PROXY['LIMITS']['launches'] must be (count, seconds), two positive whole numbers, or None.",
        "CYCLR_PROXY['LIMITS']['sockets'] must be a positive whole number of sockets, or None.",
    ]


@pytest.mark.parametrize("alias", ["limits", None, 1])
def test_a_limits_cache_that_is_not_configured_is_E011(production, alias):
    (message,) = limit_messages(production, LIMITS_CACHE=alias)
    assert message.id == "proxy.E011" and "'default'" in message.hint


def test_a_per_process_cache_without_debug_is_W005(production):
    production.CACHES = LOCMEM_CACHE
    (message,) = limit_messages(production)
    assert message.id == "proxy.W005" and "RedisCache" in message.hint


def test_a_per_process_cache_is_fine_with_debug_or_with_every_limit_off(production):
    production.CACHES = LOCMEM_CACHE
    every_limit_off = {name: None for name in DEFAULTS["LIMITS"]}  # orbits and orbit_closes too
    assert limit_ids(production, LIMITS=every_limit_off) == []
    production.DEBUG = True
    assert limit_ids(production) == []


@pytest.mark.parametrize("backend", ["django.core.cache.backends.dummy.DummyCache",
                                     "django.core.cache.backends.db.DatabaseCache"])
def test_a_cache_that_cannot_count_is_W006(production, backend):
    production.CACHES = {"default": {"BACKEND": backend, "LOCATION": "proxy_cache"}}
    assert limit_ids(production) == ["proxy.W006"]


@pytest.mark.parametrize("value", ["1", 1, [0], ["1"], [True], [1, -2]])
def test_marketplace_ids_that_are_not_ids_are_E012(production, value):
    assert limit_ids(production, MARKETPLACE_IDS=value) == ["proxy.E012"]


@pytest.mark.django_db  # Django 6's check command also asks the database
def test_manage_py_check_reports_a_per_process_limits_cache(production, capsys):
    production.CACHES = LOCMEM_CACHE
    call_command("check")
    assert "proxy.W005" in capsys.readouterr().err


def test_a_partial_limits_dict_is_merged_over_the_default_limits(production):
    production.CYCLR_PROXY = {**GOOD, "LIMITS": {"launches": (5, 60), "sockets": None}}
    assert proxy_settings.LIMITS == {**DEFAULTS["LIMITS"], "launches": (5, 60), "sockets": None}
    assert DEFAULTS["LIMITS"]["launches"] == (20, 60)  # the default itself is untouched
