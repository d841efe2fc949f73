"""Settings of the example host, read from the environment (and `.env`) with django-environ.

Defaults run the demo on one machine: SQLite, the in-memory channel layer, the host on
http://localhost:8000 and the fake Cyclr on http://127.0.0.1:8001. `DATABASE_URL` switches
to PostgreSQL and `REDIS_URL` to channels-redis. With `DEBUG=false` the same file is the
production configuration: WhiteNoise serves hashed static files and the HTTPS settings turn on
(see `.env.production.example`, with which `manage.py check --deploy` is clean, and
docs/production.md). `ENV_FILE` names another file than `.env` to read; real environment variables
always win over the file.
"""
from pathlib import Path

import django
import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)  # the SQLite files live here; Git ignores it

env = environ.Env()
environ.Env.read_env(env.path("ENV_FILE", default=BASE_DIR / ".env"), overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
# The "django-insecure-" prefix makes `check --deploy` refuse this key (security.W009) if production forgets its own.
SECRET_KEY = env("SECRET_KEY", default="django-insecure-development-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # The durable task backend's table and its `manage.py db_worker` (TASK_BACKEND=database, below).
    "django_tasks_db",
    "proxy",
    "hostkit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Under DEBUG (make run), anonymous visitors get Django's plain 404, not the technical page with the URL list.
    "hostkit.middleware.PlainNotFoundForAnonymousMiddleware",
]
# Every worker serves static files itself, no separate file server needed: right after SecurityMiddleware,
# as WhiteNoise asks. In production the collected, hashed files; in DEBUG straight from the apps' folders
# (see WHITENOISE_USE_FINDERS below), so a bare `daphne hostkit.asgi:application` works in development too.
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "whitenoise.middleware.WhiteNoiseMiddleware")

# Django's default, same-origin, cuts every popup of this page that leaves the site: direct mode (the
# Marketplace posting to its opener, as in Cyclr's sample) needs the popups it opens kept.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"

ROOT_URLCONF = "hostkit.urls"
ASGI_APPLICATION = "hostkit.asgi.application"
WSGI_APPLICATION = "hostkit.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two processes (the daphne test server and pytest) share the file: take the write
    # lock up front and wait for it instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "transaction_mode": "IMMEDIATE", "timeout": 20,
        # Write-ahead logging: readers and the writer do not block each other, and a commit appends to the
        # log without waiting for the disk (synchronous=NORMAL: a power cut may lose the last commits, never
        # corrupt the file). No connection may cross a fork in this mode: the live test server's
        # process (proxy.testing.live) closes them first.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
    # A file, never in-memory: ChannelsLiveServerTestCase's server is another process.
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_FILE", default=str(VAR_DIR / "test-db.sqlite3"))}
else:
    # Named explicitly: the live test server's process derives its database from TEST["NAME"].
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
    # psycopg's connection pool (Django 5.1+): under ASGI, the way to reuse connections (CONN_MAX_AGE would
    # leave one per request thread). Without it every database call opens a connection, ~6 ms on loopback.
    # Each process has its own pool of at most DATABASE_POOL_MAX_SIZE connections: size PostgreSQL's
    # max_connections for all the processes (the ASGI workers, db_worker, cron).
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1, "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # rediss://… for TLS. redis-py 8 reads with a 5 s socket time-out by default, which cuts
                # channels-redis's own 5 s blocking wait for messages: every idle socket's consumer would
                # crash with "Timeout reading from …" every few seconds. Give reads more than that wait.
                # redis-py 8's pools also stop at 100 connections by default and then raise ("Too many connections")
                # rather than wait: a burst of 100 handshakes in one process (every page reconnecting after a
                # deploy) took them all, and the next one failed with a 500. The pool keeps only what a burst used.
                "hosts": [{"address": REDIS_URL, "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=15),
                           "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=1000)}],
                "prefix": env("CHANNELS_PREFIX", default="hostkit"),
                # Messages a channel may hold unread before sends to it are dropped (channels-redis's default).
                "capacity": env.int("CHANNELS_CAPACITY", default=100),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache holds the kit's per-user limits (CYCLR_PROXY["LIMITS"]): with several workers it must be shared,
# e.g. CACHE_URL=redis://redis.internal:6379/1 (its own Redis database: clearing the cache must not touch
# the channel layer's keys). Unset: a per-process LocMemCache, fine for one process (proxy.W005 otherwise).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "integrations"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Outside DEBUG, `collectstatic` writes content-hashed, compressed copies and {% static %} names
    # them, so browsers may cache them forever and a deploy never serves a stale script.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Fixed here from DEBUG as the settings load (the test runner turns DEBUG off later): find files in the
# apps and re-check them on each request while developing; serve only STATIC_ROOT, indexed once, in production.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Django's Tasks framework (django.tasks on Django 6, the django-tasks backport on 5.2): where the kit settles
# results after the ack. "default" runs a task at once, in the caller; "database" stores it as a row for
# `manage.py db_worker` (django-tasks-db), the durable production choice.
TASKS = {
    "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend" if django.VERSION >= (6, 0)
                else "django_tasks.backends.immediate.ImmediateBackend"},
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}

# The example host starts an install's stopped cycles from its install_completed receiver.
HOSTKIT_ACTIVATE_ON_INSTALL = env.bool("HOSTKIT_ACTIVATE_ON_INSTALL", default=False)

HOST_ORIGIN = env("HOST_ORIGIN", default="http://localhost:8000")
CYCLR_URL = env("CYCLR_API_URL", default="http://127.0.0.1:8001")

CYCLR_PROXY = {
    "API_URL": CYCLR_URL,
    "CLIENT_ID": env("CYCLR_CLIENT_ID", default="demo-client"),
    "CLIENT_SECRET": env("CYCLR_CLIENT_SECRET", default="demo-secret"),
    "MARKETPLACE_ID": env.int("CYCLR_MARKETPLACE_ID", default=1),
    "MARKETPLACE_ORIGINS": env.list("CYCLR_MARKETPLACE_ORIGINS", default=[CYCLR_URL]),
    "HOST_ORIGINS": env.list("CYCLR_HOST_ORIGINS", default=[HOST_ORIGIN]),
    "ACCOUNT_RESOLVER": "hostkit.accounts.resolve_account",
    "LAUNCH_TTL": env.int("CYCLR_LAUNCH_TTL", default=30 * 60),
    "VERIFY_WITH_API": env.bool("CYCLR_VERIFY_WITH_API", default=True),
    "WEBHOOK_SECRET": env("CYCLR_WEBHOOK_SECRET", default=""),
    "MAX_RESULT_BYTES": env.int("CYCLR_MAX_RESULT_BYTES", default=64 * 1024),
    # A LAUNCH preset for the demo: the fake Cyclr's Mailchimp templates are tagged "email".
    "LAUNCHES": {"email": {"tags": ["email"], "start": True}},
    # Unset: a thread of each server process settles results after the ack (nothing else to run: `make run`).
    # TASK_BACKEND=database in production, with `manage.py db_worker` running beside the ASGI workers.
    "TASK_BACKEND": env("TASK_BACKEND", default="") or None,
}

# HTTPS. On by default whenever DEBUG is off; each can be turned off by its own variable (say, if a
# proxy in front already redirects to https). HSTS is opt-in: once sent, browsers refuse plain http
# for SECURE_HSTS_SECONDS, so start small.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe workers over plain http: the health check must answer them, not redirect.
SECURE_REDIRECT_EXEMPT = [r"^proxy/health/$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Only behind a proxy that sets this header on every request and strips it from clients
# ("HTTP_X_FORWARDED_PROTO,https"): otherwise anyone could claim their plain-http request is secure.
if env("SECURE_PROXY_SSL_HEADER", default=""):
    SECURE_PROXY_SSL_HEADER = tuple(env.list("SECURE_PROXY_SSL_HEADER"))
    if len(SECURE_PROXY_SSL_HEADER) != 2 or not SECURE_PROXY_SSL_HEADER[0].startswith("HTTP_"):
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be a header and a value, such as "
                                   "HTTP_X_FORWARDED_PROTO,https.")
# Origins whose unsafe requests (the HTTP fallback, the login form) CSRF accepts: this site's own,
# as browsers see it (behind a proxy the Host Django sees may differ).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=CYCLR_PROXY["HOST_ORIGINS"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The Marketplace webhook's path holds its secret: runserver's access lines show it as /webhook/… (proxy.W008).
    # In production, `python -m proxy.server` masks daphne's own access log the same way (docs/production.md).
    "filters": {"mask_webhook_secret": {"()": "proxy.logs.WebhookSecretFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.channels.server": {"filters": ["mask_webhook_secret"]},
        "proxy": {"handlers": ["console"], "level": env("PROXY_LOG_LEVEL", default="INFO")},
    },
}
