"""System checks: a misconfigured kit says so at start-up, with ids proxy.E…/proxy.W…."""
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.utils.module_loading import import_string

from .conf import SETTING_NAME, proxy_settings
from .origins import is_origin


def _error(id, msg, hint):
    return Error(msg, hint=hint, id=f"proxy.{id}")


def _is_http_url(value):
    """An absolute http(s) URL with a host: "https://" alone would send every call nowhere."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # such as an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


MIN_WEBHOOK_SECRET = 16


def _check_webhook_secret(value):
    """proxy.W004 when the Marketplace webhook is off; proxy.E009 when its secret is unusable."""
    if value == "" or value is None or value == [] or value == ():
        return [Warning(f"{SETTING_NAME}['WEBHOOK_SECRET'] is empty: the Marketplace webhook is disabled; "
                        "results then depend on the browser alone.",
                        hint="Set a long random secret (python -c 'import secrets; print(secrets.token_urlsafe(32))') "
                             "and give Cyclr the Notification URL https://your.site/proxy/webhook/<secret>/.",
                        id="proxy.W004")]
    secrets = [value] if isinstance(value, str) else value
    if not isinstance(secrets, (list, tuple)) or not all(isinstance(s, str) and s for s in secrets):
        return [_error("E009", f"{SETTING_NAME}['WEBHOOK_SECRET'] must be a string or a list of non-empty strings.",
                       "Use a list only while rotating: the new secret and the one Cyclr still calls with.")]
    if any(len(s) < MIN_WEBHOOK_SECRET for s in secrets):
        return [_error("E009", f"{SETTING_NAME}['WEBHOOK_SECRET'] has a secret shorter than {MIN_WEBHOOK_SECRET} characters.",
                       "The secret is all that authenticates Cyclr's calls: use a long random one, such as "
                       "secrets.token_urlsafe(32).")]
    return []


@register(Tags.security, "proxy")
def check_proxy_settings(app_configs=None, **kwargs):
    user = proxy_settings.user_settings
    messages = []
    if not isinstance(getattr(settings, SETTING_NAME, None), dict):
        return [_error("E001", f"settings.{SETTING_NAME} is missing or not a dict.",
                       f"Add {SETTING_NAME} = {{'API_URL': ..., 'CLIENT_ID': ..., ...}} to your settings.")]

    api_url = user.get("API_URL", "")
    if not _is_http_url(api_url):
        messages.append(_error("E002", f"{SETTING_NAME}['API_URL'] must be the http(s) URL of Cyclr's API.",
                               "For example 'https://api.cyclr.com' or your region's API domain."))
    for key in ("CLIENT_ID", "CLIENT_SECRET"):
        if not user.get(key):
            messages.append(_error("E003", f"{SETTING_NAME}['{key}'] is empty.",
                                   "Copy the Partner API client credentials from the Cyclr console."))
    marketplace_id = user.get("MARKETPLACE_ID")
    if isinstance(marketplace_id, bool) or not isinstance(marketplace_id, int) or marketplace_id <= 0:
        messages.append(_error("E004", f"{SETTING_NAME}['MARKETPLACE_ID'] must be a positive integer.",
                               "Use the id of the Marketplace shown in the Cyclr console."))
    for key, example in (("MARKETPLACE_ORIGINS", "https://acme-h.cyclr.com"), ("HOST_ORIGINS", "https://app.example.com")):
        origins = user.get(key, [])
        # A string would be iterated character by character, and a number not at all.
        if not isinstance(origins, (list, tuple)) or not origins:
            messages.append(_error("E005", f"{SETTING_NAME}['{key}'] must be a non-empty list of origins.",
                                   f"For example ['{example}']."))
            continue
        for origin in origins:
            if not is_origin(origin):
                messages.append(_error("E006", f"{SETTING_NAME}['{key}'] has {origin!r}, which is not an origin.",
                                       f"Write scheme://host[:port] in lower case with no path or slash, like {example!r}."))
            elif origin.startswith("http://") and not settings.DEBUG and key == "MARKETPLACE_ORIGINS":
                messages.append(Warning(f"{SETTING_NAME}['{key}'] allows the plain-http origin {origin!r}.",
                                        hint="Use https in production.", id="proxy.W003"))
    resolver = user.get("ACCOUNT_RESOLVER", "proxy.accounts.user_account")
    if isinstance(resolver, str):
        try:
            imported = import_string(resolver)
        except ImportError as exc:
            messages.append(_error("E007", f"{SETTING_NAME}['ACCOUNT_RESOLVER'] cannot be imported: {exc}",
                                   "Give the dotted path of a callable(request) -> account API id."))
        else:
            if not callable(imported):
                messages.append(_error("E007", f"{SETTING_NAME}['ACCOUNT_RESOLVER'] names {resolver!r}, which is not callable.",
                                       "Give the dotted path of a callable(request) -> account API id."))
    elif not callable(resolver):
        messages.append(_error("E007", f"{SETTING_NAME}['ACCOUNT_RESOLVER'] is not callable.",
                               "Give the dotted path of a callable(request) -> account API id."))
    for key in ("LAUNCH_TTL", "MAX_RESULT_BYTES"):
        value = user.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            messages.append(_error("E008", f"{SETTING_NAME}['{key}'] must be a positive integer.", "See the README's settings table."))
    if user.get("VERIFY_WITH_API", True) is False:
        messages.append(Warning(f"{SETTING_NAME}['VERIFY_WITH_API'] is off: browser results are trusted unverified.",
                                hint="A user can forge a result in the browser; turn verification on in production.",
                                id="proxy.W001"))
    messages.extend(_check_webhook_secret(user.get("WEBHOOK_SECRET", "")))
    if not settings.DEBUG:
        layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND", "")
        if not layer or layer.endswith("InMemoryChannelLayer"):
            messages.append(Warning("The in-memory channel layer does not reach across processes.",
                                    hint="Use channels_redis (set REDIS_URL) when running more than one server process.",
                                    id="proxy.W002"))
    return messages


# --- Per-user limits and the Marketplace allow-list (proxy.limits, proxy.views.launch) ------------------

# Backends whose counts one process cannot share with another.
PER_PROCESS_CACHES = {"django.core.cache.backends.locmem.LocMemCache"}
# Backends that cannot count at all (DummyCache), or not atomically: their incr is a get and a set,
# which also resets the window's timeout.
UNCOUNTING_CACHES = {
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.db.DatabaseCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _limit_problem(name, value):
    """Why one LIMITS entry is unusable, or None."""
    from .limits import COUNTED, SOCKETS

    if value is None:
        return None
    if name == SOCKETS:
        return None if _is_positive_int(value) else "must be a positive whole number of sockets, or None"
    if name in COUNTED:
        good = isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_positive_int(v) for v in value)
        return None if good else "must be (count, seconds), two positive whole numbers, or None"
    return "is not a limit the kit has"


@register(Tags.security, Tags.caches, "proxy")
def check_limits(app_configs=None, **kwargs):
    """proxy.E010 for an unusable LIMITS, E011 for a LIMITS_CACHE that is not configured,
    W005 for counts kept per process, W006 for a cache that cannot count."""
    from .conf import DEFAULTS

    user = proxy_settings.user_settings
    if not isinstance(user, dict):
        return []  # proxy.E001 says so
    limits = user.get("LIMITS", {})
    if not isinstance(limits, dict):
        return [_error("E010", f"{SETTING_NAME}['LIMITS'] must be a dict.",
                       "For example {'launches': (20, 60), 'deliveries': (30, 60), 'frames': (60, 10), 'sockets': 30}.")]
    messages = [
        _error("E010", f"{SETTING_NAME}['LIMITS'][{name!r}] {problem}.",
               "Limits are launches, deliveries and frames as (count, seconds), and sockets as a count; "
               "None turns one off. See the README's Limits section.")
        for name, value in limits.items()
        if (problem := _limit_problem(name, value))
    ]
    alias = user.get("LIMITS_CACHE", "default")
    caches_setting = getattr(settings, "CACHES", {})
    if not isinstance(alias, str) or alias not in caches_setting:
        messages.append(_error("E011", f"{SETTING_NAME}['LIMITS_CACHE'] is {alias!r}, which is not in settings.CACHES.",
                               f"Name one of: {', '.join(map(repr, caches_setting)) or 'none is configured'}."))
        return messages
    if all(value is None for value in {**DEFAULTS["LIMITS"], **limits}.values()):
        return messages  # nothing is counted
    backend = caches_setting[alias].get("BACKEND", "")
    if backend in UNCOUNTING_CACHES:
        messages.append(Warning(f"The limits' cache {alias!r} ({backend.rsplit('.', 1)[-1]}) cannot count atomically, "
                                "so the per-user limits do not hold.",
                                hint="Point LIMITS_CACHE at a Redis or Memcached cache (or LocMemCache for one process).",
                                id="proxy.W006"))
    elif backend in PER_PROCESS_CACHES and not settings.DEBUG:
        messages.append(Warning(f"The limits' cache {alias!r} is LocMemCache: each server process counts on its own, "
                                "so a user gets each limit once per process.",
                                hint="Point LIMITS_CACHE at a cache the processes share, such as "
                                     "django.core.cache.backends.redis.RedisCache.",
                                id="proxy.W005"))
    return messages


@register(Tags.security, "proxy")
def check_marketplace_ids(app_configs=None, **kwargs):
    """proxy.E012 for a MARKETPLACE_IDS that is not a list of Marketplace ids."""
    user = proxy_settings.user_settings
    value = user.get("MARKETPLACE_IDS") if isinstance(user, dict) else None
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(_is_positive_int(v) for v in value):
        return [_error("E012", f"{SETTING_NAME}['MARKETPLACE_IDS'] must be a list of Marketplace ids (positive integers).",
                       "List the ids ?marketplace=<id> may open, such as [1, 2]; MARKETPLACE_ID is always allowed.")]
    return []
