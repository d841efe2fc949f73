"""The example host's settings plus the floor endpoints (``bench.urls``, ``bench.asgi``).

The driver (``bench/run.py``) sets the environment ``hostkit.settings`` reads (``DATABASE_URL``,
``REDIS_URL``, ``CYCLR_API_URL`` of its fake Cyclr); this module changes only what a measurement
needs: the per-user limits off (the benchmark is one user's flood by design), launches that outlive
the run, and DEBUG off (DEBUG keeps every SQL query in memory and would grow the process).
"""
from hostkit.settings import *  # noqa: F401,F403
from hostkit.settings import CYCLR_PROXY, INSTALLED_APPS

DEBUG = False
# Plain http on loopback: the production HTTPS defaults (on when DEBUG is off) would redirect every request.
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
ROOT_URLCONF = "bench.urls"
ASGI_APPLICATION = "bench.asgi.application"

CYCLR_PROXY = {
    **CYCLR_PROXY,
    "LIMITS": {"launches": None, "deliveries": None, "frames": None, "sockets": None},
    "LAUNCH_TTL": 6 * 60 * 60,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "proxy": {"handlers": ["console"], "level": "WARNING"},
    },
}
