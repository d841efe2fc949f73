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
