"""The kit's own test project: a minimal host wired as docs/quickstart.md says, and nothing of the example.

The kit's tests (everything under ``tests/`` but ``tests/example/``) run here, so what they need is what the kit
needs: Django's contrib apps, channels with daphne, ``proxy``, its URLs and WebSocket routes (``tests.urls``,
``tests.asgi``), sessions and auth, and ``CYCLR_PROXY``. It imports nothing from ``hostkit``, nor django-environ.

The environment picks the databases, as in ``make test``'s second pass: ``DATABASE_URL`` (PostgreSQL) and
``REDIS_URL`` (channels-redis, keys under ``CHANNELS_PREFIX``); ``TEST_DATABASE_FILE`` names the SQLite test file.
``CYCLR_API_URL``, ``CYCLR_CLIENT_ID`` and ``CYCLR_CLIENT_SECRET`` aim a ``manage.py`` subprocess at a test's fake Cyclr.
"""
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import django

TESTS_DIR = Path(__file__).resolve().parent
VAR_DIR = TESTS_DIR.parent / "var"  # Git ignores it
VAR_DIR.mkdir(exist_ok=True)

DEBUG = False
SECRET_KEY = "django-insecure-the-kits-test-project-only"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # The kit's durable task backend (CYCLR_PROXY["TASK_BACKEND"] = "database": the [tasks-db] extra).
    "django_tasks_db",
    "proxy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The kit's pages, answers and sockets speak the request's language (docs/translations.md).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Direct mode (the Marketplace posting to its opener) needs the popups a page opens kept (docs/modes-and-windows.md).
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin-allow-popups"

ROOT_URLCONF = "tests.urls"
ASGI_APPLICATION = "tests.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [TESTS_DIR / "templates"],
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


def database_from_url(url):
    """``postgres://user:password@host:port/name`` -> Django's DATABASES entry (all this project needs)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL: only postgres:// URLs are supported here, not {parts.scheme}://")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
    # Named explicitly: a live test server's process derives its database from TEST["NAME"].
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "kit-tests.sqlite3",
        # Two processes (a live server and pytest) share the file: take the write lock up front and wait for it.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        # A file, never in-memory: a live server's process must see the test's rows.
        "TEST": {"NAME": os.environ.get("TEST_DATABASE_FILE", str(VAR_DIR / "kit-test-db.sqlite3"))},
    }}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # socket_timeout above channels-redis's 5 s blocking read; room for a burst of handshakes (docs/production.md).
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15, "max_connections": 1000}],
                   "prefix": os.environ.get("CHANNELS_PREFIX", "kit-tests")},
    }}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# As docs/quickstart.md says: runserver's access lines show the webhook's path with its secret masked.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_webhook_secret": {"()": "proxy.logs.WebhookSecretFilter"}},
    "loggers": {"django.channels.server": {"filters": ["mask_webhook_secret"]}},
}

LOGIN_URL = "login"
LANGUAGE_CODE = "en-us"
# English and the kit's shipped translation (proxy/locale/): a request asks with Accept-Language or the cookie.
LANGUAGES = [("en", "English"), ("fr", "French")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# Django's Tasks framework (django.tasks on Django 6, the django-tasks backport on 5.2): the aliases
# CYCLR_PROXY["TASK_BACKEND"] may name. "default" settles in the caller, "database" stores a row for `db_worker`.
TASKS = {
    "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend" if django.VERSION >= (6, 0)
                else "django_tasks.backends.immediate.ImmediateBackend"},
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}

CYCLR_API_URL = os.environ.get("CYCLR_API_URL", "http://127.0.0.1:8001")
CYCLR_PROXY = {
    "API_URL": CYCLR_API_URL,
    "CLIENT_ID": os.environ.get("CYCLR_CLIENT_ID", "test-client"),
    "CLIENT_SECRET": os.environ.get("CYCLR_CLIENT_SECRET", "test-secret"),
    "MARKETPLACE_ID": 1,
    "MARKETPLACE_ORIGINS": [CYCLR_API_URL],
    "HOST_ORIGINS": ["http://localhost:8000"],
    # The kit's own resolver: the signed-in user is the Cyclr account (tests.accounts has a host-style one).
    "ACCOUNT_RESOLVER": "proxy.accounts.user_account",
}
