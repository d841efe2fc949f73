"""System checks: a misconfigured kit says so at start-up, with ids proxy.E…/proxy.W….

One function per check. The checks of ``CYCLR_PROXY``'s values are listed in ``SETTINGS_CHECKS`` (in
the order they report) and say nothing when the setting is not a dict at all (``proxy.E001`` says that);
``check_proxy_settings()`` runs them all. The wiring checks (``proxy.E101``…) look at how the project
mounts the kit: its URLs, its WebSocket routes, its channel layer, its login middleware, runserver, and
``HOST_ORIGINS`` against ``ALLOWED_HOSTS``.
"""
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.module_loading import import_string

from .accounts import ACCOUNT_HEADERS, HEADER_API_ID
from .conf import SETTING_NAME, proxy_settings
from .origins import is_origin


def _error(id, msg, hint):
    return Error(msg, hint=hint, id=f"proxy.{id}")


def _user_settings():
    """``CYCLR_PROXY`` when it is a dict, else None (and ``check_setting_is_a_dict`` reports it)."""
    value = getattr(settings, SETTING_NAME, None)
    return proxy_settings.user_settings if isinstance(value, dict) else None


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


def check_webhook_secret(app_configs=None, **kwargs):
    """proxy.W004 when the Marketplace webhook is off; proxy.E009 when its secret is unusable."""
    user = _user_settings()
    if user is None:
        return []
    value = user.get("WEBHOOK_SECRET", "")
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


# Webhook secrets printed in this kit's own README and demo script: anyone can read them, so in production they
# authenticate nobody. Compared as given (the demo's value is exact).
PUBLISHED_WEBHOOK_SECRETS = ("demo-webhook-secret-change-me",)


@register(Tags.security, deploy=True)
def check_webhook_secret_not_published(app_configs=None, **kwargs):
    """proxy.W007 (``check --deploy``) when a ``WEBHOOK_SECRET`` is one this kit publishes (the demo's)."""
    user = _user_settings()
    value = user.get("WEBHOOK_SECRET", "") if user is not None else ""
    given = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
    if not any(secret in PUBLISHED_WEBHOOK_SECRETS for secret in given if isinstance(secret, str)):
        return []
    return [Warning(f"{SETTING_NAME}['WEBHOOK_SECRET'] is the demo's secret, which the kit's README publishes: "
                    "anyone can send this site Marketplace notifications with it.",
                    hint="Set a long random secret of your own (python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))') and give Cyclr the new Notification URL.",
                    id="proxy.W007")]


# The logger each development server writes its access lines to: daphne's runserver (the "daphne" app,
# listed before django.contrib.staticfiles), else Django's.
RUNSERVER_LOGGERS = {True: "django.channels.server", False: "django.server"}


@register(Tags.security, "proxy")
def check_access_log_masks_the_webhook_secret(app_configs=None, **kwargs):
    """proxy.W008 when the development server's access log would show the webhook's secret."""
    from django.apps import apps

    from .logs import filter_installed

    user = _user_settings()
    if user is None or not user.get("WEBHOOK_SECRET"):
        return []  # no secret, nothing to show
    logger_name = RUNSERVER_LOGGERS[apps.is_installed("daphne")]
    if filter_installed(logger_name):
        return []
    return [Warning(f"The {logger_name!r} logger writes each request's path, and the Marketplace webhook's path holds "
                    "WEBHOOK_SECRET: runserver's log would show it.",
                    hint=f'Add "filters": {{"mask_webhook_secret": {{"()": "proxy.logs.WebhookSecretFilter"}}}} to '
                         f'LOGGING and "{logger_name}": {{"filters": ["mask_webhook_secret"]}} to its "loggers" '
                         "(docs/production.md). Serve with python -m proxy.server rather than daphne.",
                    id="proxy.W008")]


def check_setting_is_a_dict(app_configs=None, **kwargs):
    """proxy.E001: ``CYCLR_PROXY`` is missing or not a dict."""
    if isinstance(getattr(settings, SETTING_NAME, None), dict):
        return []
    return [_error("E001", f"settings.{SETTING_NAME} is missing or not a dict.",
                   f"Add {SETTING_NAME} = {{'API_URL': ..., 'CLIENT_ID': ..., ...}} to your settings.")]


def check_api_url(app_configs=None, **kwargs):
    """proxy.E002: ``API_URL`` is not an absolute http(s) URL."""
    user = _user_settings()
    if user is None or _is_http_url(user.get("API_URL", "")):
        return []
    return [_error("E002", f"{SETTING_NAME}['API_URL'] must be the http(s) URL of Cyclr's API.",
                   "For example 'https://api.cyclr.com' or your region's API domain.")]


def check_credentials(app_configs=None, **kwargs):
    """proxy.E003: a client credential is empty (one message per key)."""
    user = _user_settings()
    if user is None:
        return []
    return [_error("E003", f"{SETTING_NAME}['{key}'] is empty.",
                   "Copy the Partner API client credentials from the Cyclr console.")
            for key in ("CLIENT_ID", "CLIENT_SECRET") if not user.get(key)]


def check_marketplace_id(app_configs=None, **kwargs):
    """proxy.E004: ``MARKETPLACE_ID`` is not a positive integer."""
    user = _user_settings()
    if user is None:
        return []
    marketplace_id = user.get("MARKETPLACE_ID")
    if isinstance(marketplace_id, bool) or not isinstance(marketplace_id, int) or marketplace_id <= 0:
        return [_error("E004", f"{SETTING_NAME}['MARKETPLACE_ID'] must be a positive integer.",
                       "Use the id of the Marketplace shown in the Cyclr console.")]
    return []


def check_origins(app_configs=None, **kwargs):
    """proxy.E005 (not a non-empty list), proxy.E006 (not an origin). (proxy.W003 is a deploy check, below.)"""
    user = _user_settings()
    if user is None:
        return []
    messages = []
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
    return messages


@register(Tags.security, deploy=True)
def check_marketplace_origins_use_https(app_configs=None, **kwargs):
    """proxy.W003 (``check --deploy``) when ``MARKETPLACE_ORIGINS`` allows a plain-http origin.

    A deploy check, like Django's own ``security.*`` warnings: management commands run the system checks
    without ``--deploy``, so a warning about the production setup would otherwise repeat in every cron mail of a
    staging or development site, where a plain-http fake Cyclr is normal.
    """
    user = _user_settings()
    origins = user.get("MARKETPLACE_ORIGINS", []) if user is not None else []
    if not isinstance(origins, (list, tuple)):
        return []  # proxy.E005
    return [Warning(f"{SETTING_NAME}['MARKETPLACE_ORIGINS'] allows the plain-http origin {origin!r}.",
                    hint="Use the Marketplace's https origin in production.", id="proxy.W003")
            for origin in origins if is_origin(origin) and origin.startswith("http://")]


def check_account_resolver(app_configs=None, **kwargs):
    """proxy.E007: ``ACCOUNT_RESOLVER`` cannot be imported or is not callable."""
    user = _user_settings()
    if user is None:
        return []
    resolver = user.get("ACCOUNT_RESOLVER", "proxy.accounts.user_account")
    hint = "Give the dotted path of a callable(request) -> account API id."
    if isinstance(resolver, str):
        try:
            imported = import_string(resolver)
        except ImportError as exc:
            return [_error("E007", f"{SETTING_NAME}['ACCOUNT_RESOLVER'] cannot be imported: {exc}", hint)]
        if not callable(imported):
            return [_error("E007", f"{SETTING_NAME}['ACCOUNT_RESOLVER'] names {resolver!r}, which is not callable.", hint)]
    elif not callable(resolver):
        return [_error("E007", f"{SETTING_NAME}['ACCOUNT_RESOLVER'] is not callable.", hint)]
    return []


def check_account_header(app_configs=None, **kwargs):
    """proxy.E015: ``ACCOUNT_HEADER`` is not one of the ids ``X-Cyclr-Account`` can carry."""
    user = _user_settings()
    if user is None or user.get("ACCOUNT_HEADER", HEADER_API_ID) in ACCOUNT_HEADERS:
        return []
    return [_error("E015", f"{SETTING_NAME}['ACCOUNT_HEADER'] is {user['ACCOUNT_HEADER']!r}; it must be 'api_id' "
                           "(the account's API id, as Cyclr's current docs say) or 'id' (Cyclr's GUID for it).",
                   "Leave it out for 'api_id'; run `manage.py proxy_doctor --account <API id>` to see which your Cyclr takes.")]


def check_positive_numbers(app_configs=None, **kwargs):
    """proxy.E008: ``LAUNCH_TTL`` or ``MAX_RESULT_BYTES`` is not a positive integer."""
    user = _user_settings()
    if user is None:
        return []
    messages = []
    for key in ("LAUNCH_TTL", "MAX_RESULT_BYTES"):
        value = user.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            messages.append(_error("E008", f"{SETTING_NAME}['{key}'] must be a positive integer.", "See docs/settings.md."))
    return messages


def check_premint(app_configs=None, **kwargs):
    """proxy.E017: ``PREMINT`` is not None, "intent" or "load"."""
    from .premint import CHOICES

    user = _user_settings()
    if user is None or user.get("PREMINT") in CHOICES:
        return []
    return [_error("E017", f"{SETTING_NAME}['PREMINT'] is {user['PREMINT']!r}; it must be \"intent\" (mint when the "
                           "person points at or touches the Connect button, or focuses it), \"load\" (when the page loads) "
                           "or None (when the window opens).",
                   "Leave it out for \"intent\"; see docs/settings.md for what each costs in Cyclr calls.")]


def check_verification(app_configs=None, **kwargs):
    """proxy.W001: ``VERIFY_WITH_API`` is off."""
    user = _user_settings()
    if user is None or user.get("VERIFY_WITH_API", True) is not False:
        return []
    return [Warning(f"{SETTING_NAME}['VERIFY_WITH_API'] is off: browser results are trusted unverified.",
                    hint="A user can forge a result in the browser; turn verification on in production.",
                    id="proxy.W001")]


def check_task_backend(app_configs=None, **kwargs):
    """proxy.E014: ``TASK_BACKEND`` is neither None nor an alias of ``settings.TASKS``."""
    user = _user_settings()
    if user is None:
        return []
    alias = user.get("TASK_BACKEND")
    if alias is None:
        return []
    tasks = getattr(settings, "TASKS", None) or {}
    if isinstance(alias, str) and isinstance(tasks, dict) and alias in tasks:
        return []
    return [_error("E014", f"{SETTING_NAME}['TASK_BACKEND'] is {alias!r}, which is not an alias in settings.TASKS.",
                   f"Name one of: {', '.join(map(repr, tasks)) or 'none is configured'}; or None to settle results in "
                   "a thread of the server process (no worker). See docs/production.md.")]


def check_channel_layer_reaches_across_processes(app_configs=None, **kwargs):
    """proxy.W002: without DEBUG, the in-memory channel layer (or none) serves one process only."""
    if _user_settings() is None or settings.DEBUG:
        return []
    layer = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND", "")
    if layer and not layer.endswith("InMemoryChannelLayer"):
        return []
    return [Warning("The in-memory channel layer does not reach across processes.",
                    hint='Set CHANNEL_LAYERS to channels_redis.core.RedisChannelLayer (pip install "cyclr-hostkit[redis]") '
                         "when running more than one server process.",
                    id="proxy.W002")]


# The checks of CYCLR_PROXY's values, in the order they report.
SETTINGS_CHECKS = (
    check_setting_is_a_dict,
    check_api_url,
    check_credentials,
    check_marketplace_id,
    check_origins,
    check_account_resolver,
    check_account_header,
    check_positive_numbers,
    check_premint,
    check_verification,
    check_webhook_secret,
    check_task_backend,
    check_channel_layer_reaches_across_processes,
)
for _check in SETTINGS_CHECKS:
    register(_check, Tags.security, "proxy")


def check_proxy_settings(app_configs=None, **kwargs):
    """Every check of ``CYCLR_PROXY``'s values (``SETTINGS_CHECKS``), in order."""
    return [message for check in SETTINGS_CHECKS for message in check(app_configs, **kwargs)]


# --- wiring: how the project mounts the kit ----------------------------------------------------------------

_SAMPLE_LAUNCH = "00000000-0000-0000-0000-000000000000"
WEBSOCKET_ROUTES = (
    (f"/ws/proxy/launches/{_SAMPLE_LAUNCH}/", "proxy.consumers.LaunchConsumer"),
    ("/ws/proxy/events/", "proxy.consumers.EventsConsumer"),
)
# The kit's views that Cyclr (or a load balancer) calls without a session, by URL name and sample arguments.
PUBLIC_VIEWS = (("proxy:webhook", ["0123456789abcdef"]), ("proxy:health", []))
ASGI_HINT = ('Set ASGI_APPLICATION = "yourproject.asgi.application" and mount proxy.routing.websocket_urlpatterns '
             'under "websocket" in its ProtocolTypeRouter (docs/quickstart.md, step 3).')


@register(Tags.urls, "proxy")
def check_urls_included(app_configs=None, **kwargs):
    """proxy.E101: ``reverse("proxy:launch")`` fails: the kit's URLs are not in the ROOT_URLCONF."""
    try:
        reverse("proxy:launch")
    except NoReverseMatch:
        return [_error("E101", "The kit's URLs are not included: reverse('proxy:launch') fails.",
                       'Add path("proxy/", include("proxy.urls")) to your ROOT_URLCONF\'s urlpatterns.')]
    return []


@register("proxy")
def check_websocket_routes(app_configs=None, **kwargs):
    """proxy.E102: ``ASGI_APPLICATION`` is unset or cannot be loaded; proxy.E103: it does not reach the kit's consumers."""
    from channels.routing import get_default_application

    if not getattr(settings, "ASGI_APPLICATION", None):
        return [_error("E102", "ASGI_APPLICATION is not set: the kit's WebSockets have no server.", ASGI_HINT)]
    try:
        application = get_default_application()
    except Exception as exc:  # ImproperlyConfigured, or anything the module raises while importing
        return [_error("E102", f"ASGI_APPLICATION {settings.ASGI_APPLICATION!r} cannot be loaded: {exc}", ASGI_HINT)]
    if _is_plain_django_asgi(application):
        return [_error("E106", f"ASGI_APPLICATION {settings.ASGI_APPLICATION!r} is Django's plain ASGI handler "
                               "(startproject's asgi.py): it serves HTTP only, so every WebSocket is refused and the "
                               "kit's pages fall back to HTTP without saying so.", ASGI_HINT)]
    messages = []
    for path, consumer in WEBSOCKET_ROUTES:
        reached = websocket_consumer(application, path)
        if reached is UNKNOWN:
            continue  # an application this check cannot see into: say nothing rather than guess
        name = f"{reached.__module__}.{reached.__qualname__}" if reached else None
        if name != consumer:
            messages.append(_error("E103", f"A WebSocket to {path} does not reach {consumer} through "
                                           f"ASGI_APPLICATION {settings.ASGI_APPLICATION!r}.", ASGI_HINT))
    return messages


def _is_plain_django_asgi(application):
    """Django's own ``ASGIHandler`` (``get_asgi_application()``): HTTP only, no ``ProtocolTypeRouter`` around it."""
    from django.core.handlers.asgi import ASGIHandler

    return isinstance(application, ASGIHandler)


UNKNOWN = object()


def websocket_consumer(application, path, _depth=0):
    """The consumer class a WebSocket to ``path`` reaches in ``application``: a class, None, or ``UNKNOWN``.

    Follows Channels' own routing: ``ProtocolTypeRouter``'s "websocket" entry, middleware (``inner``,
    ``application``) and ``URLRouter`` routes, as ``URLRouter.__call__`` matches them.
    """
    from channels.routing import URLRouter

    if _depth > 32:
        return UNKNOWN
    consumer = getattr(application, "consumer_class", None)
    if consumer is not None:
        return consumer if path == "" else None
    mapping = getattr(application, "application_mapping", None)
    if isinstance(mapping, dict):
        inner = mapping.get("websocket")
        return None if inner is None else websocket_consumer(inner, path, _depth + 1)
    if isinstance(application, URLRouter):  # its public ``routes``, each a path()/re_path() with pattern and callback
        path = path.lstrip("/")
        for route in application.routes:
            try:
                match = route.pattern.match(path)
            except Resolver404:
                continue
            if match:
                return websocket_consumer(route.callback, match[0], _depth + 1)
        return None
    for attribute in ("inner", "application", "app"):
        inner = getattr(application, attribute, None)
        if inner is not None:
            return websocket_consumer(inner, path, _depth + 1)
    return UNKNOWN


@register("proxy")
def check_channel_layer_importable(app_configs=None, **kwargs):
    """proxy.E104: the channel layer's ``BACKEND`` cannot be imported (channels-redis not installed, or a typo)."""
    layers = getattr(settings, "CHANNEL_LAYERS", None) or {}
    backend = layers.get("default", {}).get("BACKEND") if isinstance(layers, dict) else None
    if not backend:
        return []
    try:
        import_string(backend)
    except ImportError as exc:
        if backend.startswith("channels_redis.") and isinstance(exc, ModuleNotFoundError):
            hint = 'Install channels-redis with the kit\'s extra: pip install "cyclr-hostkit[redis]".'
        else:
            hint = "Give the dotted path of a channel layer class, such as channels_redis.core.RedisChannelLayer."
        return [_error("E104", f"CHANNEL_LAYERS['default']['BACKEND'] {backend!r} cannot be imported: {exc}", hint)]
    return []


@register("proxy")
def check_channel_layers_set(app_configs=None, **kwargs):
    """proxy.E107: no ``CHANNEL_LAYERS`` at all: the server cannot push a verdict or ORBIT's changes to a page."""
    layers = getattr(settings, "CHANNEL_LAYERS", None)
    if isinstance(layers, dict) and layers.get("default"):
        return []
    return [_error("E107", "CHANNEL_LAYERS has no 'default' layer: the kit's sockets cannot join their groups, so "
                           "no verdict or ORBIT change is pushed to a page.",
                   'Set CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", ...}} (docs/quickstart.md, '
                   'step 2), or channels.layers.InMemoryChannelLayer for one development process.')]


@register("proxy")
def check_runserver_is_asgi(app_configs=None, **kwargs):
    """proxy.W009: ``daphne`` is not in ``INSTALLED_APPS`` before ``django.contrib.staticfiles``, so ``runserver``
    is Django's WSGI server and every WebSocket gets a 404."""
    installed = list(getattr(settings, "INSTALLED_APPS", None) or ())
    staticfiles = "django.contrib.staticfiles"
    if "daphne" in installed and (staticfiles not in installed or installed.index("daphne") < installed.index(staticfiles)):
        return []
    where = "is not in INSTALLED_APPS" if "daphne" not in installed else f"comes after {staticfiles!r} in INSTALLED_APPS"
    return [Warning(f"'daphne' {where}: `manage.py runserver` is then Django's WSGI server, which serves no WebSocket, "
                    "so the kit's pages fall back to HTTP.",
                    hint='Put "daphne" first in INSTALLED_APPS (docs/quickstart.md, step 2). If you never use runserver, '
                         'add "proxy.W009" to SILENCED_SYSTEM_CHECKS.',
                    id="proxy.W009")]


SQLITE_ENGINE = "django.db.backends.sqlite3"
SQLITE_OPTIONS = {"transaction_mode": "IMMEDIATE", "timeout": 20}


def sqlite_without_immediate_writes(databases):
    """The aliases of ``databases`` (the ``DATABASES`` setting) on SQLite without ``transaction_mode`` IMMEDIATE."""
    return [alias for alias, config in (databases or {}).items() if isinstance(config, dict)
            and config.get("ENGINE") == SQLITE_ENGINE
            and str(dict(config.get("OPTIONS") or {}).get("transaction_mode", "")).upper() != "IMMEDIATE"]


@register("proxy")
def check_sqlite_takes_concurrent_writes(app_configs=None, **kwargs):
    """proxy.W011: a SQLite database in Django's default (deferred) transaction mode. The kit writes from several
    places at once (the result doors, Cyclr's webhook, the settlement in its own thread); a deferred transaction
    that must upgrade to a write while another writes fails at once with "database is locked", whatever the timeout."""
    return sqlite_warnings(getattr(settings, "DATABASES", None))


def sqlite_warnings(databases):
    """proxy.W011 for each alias of ``databases`` that ``sqlite_without_immediate_writes`` names."""
    return [Warning(f"DATABASES[{alias!r}] is SQLite in Django's default (deferred) transaction mode: when the kit's "
                    "result doors, Cyclr's webhook and the settlement write at once, one of them fails with "
                    "\"database is locked\" and logs a traceback.",
                    hint=f'Set DATABASES[{alias!r}]["OPTIONS"] = {SQLITE_OPTIONS!r} (Django 5.1 and newer), or use '
                         "PostgreSQL.",
                    id="proxy.W011")
            for alias in sqlite_without_immediate_writes(databases)]


def _host_allowed(host, allowed_hosts):
    """Whether ``host`` matches an ``ALLOWED_HOSTS`` pattern as Django documents them: "*", ".domain" (the domain
    and its subdomains), or an exact name, compared without case."""
    host = host.lower()
    for pattern in allowed_hosts:
        pattern = str(pattern).lower()
        if pattern == "*" or host == pattern or (pattern.startswith(".") and (host.endswith(pattern) or host == pattern[1:])):
            return True
    return False


@register(Tags.security, "proxy")
def check_host_origins_allowed(app_configs=None, **kwargs):
    """proxy.W010: a ``HOST_ORIGINS`` entry whose host ``ALLOWED_HOSTS`` refuses: Django answers its pages 400, and
    Channels' origin validator refuses its WebSockets."""
    user = _user_settings()
    origins = user.get("HOST_ORIGINS") if user is not None else None
    if not isinstance(origins, (list, tuple)):
        return []  # proxy.E005 says so
    allowed = list(getattr(settings, "ALLOWED_HOSTS", None) or ())
    if settings.DEBUG and not allowed:  # Django's own default while DEBUG is on
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    messages = []
    for origin in origins:
        if not is_origin(origin):
            continue  # proxy.E006 says so
        host = urlsplit(origin).hostname
        host = f"[{host}]" if ":" in host else host  # ALLOWED_HOSTS writes IPv6 addresses in brackets
        if not _host_allowed(host, allowed):
            messages.append(Warning(
                f"{SETTING_NAME}['HOST_ORIGINS'] has {origin!r}, but {host!r} is not in ALLOWED_HOSTS: Django answers "
                "its pages 400 and its WebSockets are refused.",
                hint=f"Add {host!r} to ALLOWED_HOSTS, or correct the origin.", id="proxy.W010"))
    return messages


@register(Tags.urls, "proxy")
def check_public_views_not_login_gated(app_configs=None, **kwargs):
    """proxy.E105: ``LoginRequiredMiddleware`` would send Cyclr's webhook (or the health check) to the login page."""
    if not any(_is_login_required_middleware(path) for path in getattr(settings, "MIDDLEWARE", None) or ()):
        return []
    messages = []
    for name, args in PUBLIC_VIEWS:
        try:
            view = resolve(reverse(name, args=args)).func
        except (NoReverseMatch, Resolver404):
            continue  # not mounted (proxy.E101 says so) or not in this version of the kit
        if getattr(view, "login_required", True):
            messages.append(_error(
                "E105", f"LoginRequiredMiddleware sends requests for {name} to the login page, but it must be public.",
                f"Mount it with django.contrib.auth.decorators.login_not_required before include(\"proxy.urls\"), "
                f"or upgrade the kit: {name} is meant to be marked login_not_required."))
    return messages


def _is_login_required_middleware(path):
    try:
        middleware = import_string(path)
    except ImportError:
        return False
    try:
        from django.contrib.auth.middleware import LoginRequiredMiddleware
    except ImportError:  # Django before 5.1 has none
        return False
    return isinstance(middleware, type) and issubclass(middleware, LoginRequiredMiddleware)


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
               "Limits are launches, deliveries, frames, orbits and orbit_closes as (count, seconds), and sockets as a count; "
               "None turns one off. See docs/settings.md, Limits.")
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


@register(Tags.security, "proxy")
def check_launch_presets(app_configs=None, **kwargs):
    """proxy.E013 for a LAUNCHES that is not {name: {"tags": [...], ...}} with known options of the right types."""
    from .launches import PRESET_NAME, PRESET_OPTIONS

    user = proxy_settings.user_settings
    presets = user.get("LAUNCHES") if isinstance(user, dict) else None
    if presets is None or presets == {}:
        return []
    hint = ('For example {"crm": {"tags": ["crm"], "start": True}}; options: ' + ", ".join(PRESET_OPTIONS) + ".")
    if not isinstance(presets, dict):
        return [_error("E013", f"{SETTING_NAME}['LAUNCHES'] must be a dict of LAUNCH presets by name.", hint)]
    found = []
    for name, preset in presets.items():
        where = f"{SETTING_NAME}['LAUNCHES'][{name!r}]"
        if not isinstance(name, str) or not PRESET_NAME.fullmatch(name):
            found.append(_error("E013", f"{where}: a preset name is 1-50 letters, digits, '-' or '_'.", hint))
            continue
        if not isinstance(preset, dict):
            found.append(_error("E013", f"{where} must be a dict of options.", hint))
            continue
        tags = preset.get("tags")
        if not isinstance(tags, (list, tuple)) or not tags or not all(isinstance(t, str) and t for t in tags):
            found.append(_error("E013", f"{where} needs 'tags': a non-empty list of template tags.", hint))
        for key, value in preset.items():
            if key not in PRESET_OPTIONS:
                found.append(_error("E013", f"{where} has an unknown option {key!r}.", hint))
            elif key != "tags" and value is not None and not isinstance(value, bool):
                found.append(_error("E013", f"{where}[{key!r}] must be True, False or None.", hint))
    return found


# The one migration the kit ships, and the ones it took the place of (its ``replaces``).
SQUASHED_MIGRATION = "0001_squashed_0014_attempt_error_and_admin_help_texts"


def partly_migrated(applied):
    """The kit's old migrations ``applied`` (names, from ``django_migrations``) holds when it holds some but not all
    that the squashed migration replaces, and not the squashed one: Django then neither applies the squashed
    migration nor finds the old ones, and ``migrate`` says nothing while the tables stay as an older kit left them."""
    from importlib import import_module

    squashed = import_module(f"proxy.migrations.{SQUASHED_MIGRATION}").Migration
    replaced = [name for app, name in squashed.replaces]
    ran = [name for name in replaced if name in applied]
    if not ran or len(ran) == len(replaced) or SQUASHED_MIGRATION in applied:
        return []
    return ran


@register(Tags.database)
def check_migrated_through_the_squash(app_configs=None, databases=None, **kwargs):
    """proxy.E016 (``migrate``, ``check --database``): a database that ran only some of the kit's old migrations."""
    from django.db import DatabaseError, connections
    from django.db.migrations.recorder import MigrationRecorder

    found = []
    for alias in databases or ():
        try:
            applied = {name for app, name in MigrationRecorder(connections[alias]).applied_migrations() if app == "proxy"}
        except DatabaseError:
            continue  # no database to read yet: migrate itself will say so
        ran = partly_migrated(applied)
        if ran:
            found.append(_error(
                "E016",
                f"Database {alias!r} ran the kit's migrations only up to {ran[-1]}: this kit ships them as one "
                f"migration ({SQUASHED_MIGRATION}), which Django applies only to a new database or one that ran all "
                "fourteen, so migrate would leave the kit's tables as they are.",
                "Install the kit from before the squash (one whose proxy/migrations/ holds "
                "0014_attempt_error_and_admin_help_texts.py), run `manage.py migrate proxy`, then upgrade again: "
                "docs/upgrading.md."))
    return found
