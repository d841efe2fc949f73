"""The kit's settings: one dict, ``settings.CYCLR_PROXY``, read through ``proxy_settings``.

Values are read lazily and cached; the cache is dropped on ``setting_changed`` so that
``override_settings(CYCLR_PROXY=...)`` works in tests.
"""
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

SETTING_NAME = "CYCLR_PROXY"

DEFAULTS = {
    # Base URL of Cyclr's Partner API, e.g. "https://api.eu.cyclr.com".
    "API_URL": "",
    "CLIENT_ID": "",
    "CLIENT_SECRET": "",
    # The Marketplace to open (an int from the Cyclr console).
    "MARKETPLACE_ID": None,
    # The Marketplace ids ``?marketplace=<id>`` may name; MARKETPLACE_ID is always one of them.
    # None: MARKETPLACE_ID only.
    "MARKETPLACE_IDS": None,
    # Exact origins ("https://acme-h.cyclr.com") allowed to post results to the proxy page.
    "MARKETPLACE_ORIGINS": [],
    # This site's own origins, baked into the Launch Complete snippet.
    "HOST_ORIGINS": [],
    # Dotted path to callable(request) -> account API id (str) or proxy.accounts.CyclrAccount.
    "ACCOUNT_RESOLVER": "proxy.accounts.user_account",
    # Which id X-Cyclr-Account carries: "api_id" (the account's API id, as Cyclr's current docs say) or
    # "id" (Cyclr's GUID for it, for a Cyclr that wants that; `manage.py proxy_doctor` tells which).
    "ACCOUNT_HEADER": "api_id",
    # Seconds a launch stays open for its result.
    "LAUNCH_TTL": 30 * 60,
    # Confirm each claimed cycle with GET /v1.0/cycles/{id} before install_completed.
    "VERIFY_WITH_API": True,
    # Secret(s) for the Marketplace webhook URL: a string or a list (for rotation).
    "WEBHOOK_SECRET": "",
    # Largest result message accepted, in bytes of JSON.
    "MAX_RESULT_BYTES": 64 * 1024,
    # Seconds to wait for Cyclr's API (connect, read).
    "API_TIMEOUT": (5, 15),
    # Per-user limits (proxy.limits): (count, seconds) for launches, deliveries, frames, orbits and orbit_closes, a count of
    # open sockets; None turns one off. A partial dict changes only the limits it names.
    "LIMITS": {
        "launches": (20, 60),    # proxy:launch loads, each one a Cyclr API call
        "deliveries": (30, 60),  # results sent over the socket or POSTed to proxy:result / proxy:complete
        "frames": (60, 10),      # WebSocket frames of any kind, garbage included
        "sockets": 30,           # WebSockets open at once
        "orbits": (10, 60),      # proxy:orbit loads, each one a Cyclr API call (an ORBIT URL)
        "orbit_closes": (20, 60),  # ORBIT's close notices, each one a reconcile (the account and its cycle pages)
    },
    # The Django cache alias the limits count in: share it (Redis, Memcached) across server processes.
    "LIMITS_CACHE": "default",
    # Where a result is verified and its signal sent, after the ack (proxy.settlement): None runs it in a
    # thread of this process right after the door answers (no worker needed); an alias of settings.TASKS
    # enqueues it there, such as a django_tasks_db.DatabaseBackend run by `manage.py db_worker`.
    "TASK_BACKEND": None,
    # When the Connect button mints its launch's Marketplace URL (proxy.premint, docs/modes-and-windows.md): "intent"
    # (the pointer or a touch on the button, or its focus: just before the click), "load" (when the page loads: every
    # page view costs a Cyclr call) or None (on the click, in the window it opens). Popup buttons only.
    "PREMINT": "intent",
    # Named LAUNCH presets for proxy:launch?launch=<name> (never chosen by the browser beyond the name):
    # {"crm": {"tags": ["crm"], "start": True, "run_once": False, "auto_install": True,
    #          "single_install": None, "wizard": None, "display_descriptions": None}}.
    "LAUNCHES": {},
}

IMPORT_STRINGS = {"ACCOUNT_RESOLVER"}
# Dict settings whose user value is merged over the default, key by key.
MERGED_DICTS = {"LIMITS"}


class ProxySettings:
    """Attribute access to ``CYCLR_PROXY`` merged over ``DEFAULTS``."""

    def __init__(self):
        self._cache = {}

    @property
    def user_settings(self):
        return getattr(settings, SETTING_NAME, None) or {}

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(f"{SETTING_NAME} has no setting {name!r}")
        if name not in self._cache:
            value = self.user_settings.get(name, DEFAULTS[name])
            if name in IMPORT_STRINGS and isinstance(value, str):
                value = import_string(value)
            if name in MERGED_DICTS and isinstance(value, dict):
                value = {**DEFAULTS[name], **value}
            self._cache[name] = value
        return self._cache[name]

    def reload(self):
        self._cache.clear()


proxy_settings = ProxySettings()


def _reload(*, setting, **kwargs):
    if setting == SETTING_NAME:
        proxy_settings.reload()


setting_changed.connect(_reload)
