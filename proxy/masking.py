"""Masking webhook URLs for display: anyone holding one can trigger the cycle, so the admin shows only enough to tell them apart.

``mask_url("https://acme.cyclr.com/api/webhook/Abc123xyz")`` is ``"https://acme.cyclr.com/api/webhook/Abc1…"``.
``mask_webhook_urls(value)`` masks every webhook URL in a result (either shape, camelCase or Cyclr's PascalCase
webhook body) and any URL with a ``/webhook`` path in free text; ``mask_text`` does the same for a JSON or
plain-text string, such as a stored request body or a traceback.
"""
import json
import re
from urllib.parse import urlsplit

SHOWN = 4  # characters of the secret part kept, so two webhooks can be told apart
_WEBHOOK_URL = re.compile(r"https?://[^\s\"'<>]+/webhooks?/[^\s\"'<>]+", re.IGNORECASE)


def mask_url(url):
    """The URL with its last path segment cut to its first characters, and no query or fragment."""
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return "…"
    head, _, secret = parts.path.rstrip("/").rpartition("/")
    masked_query = "?…" if parts.query else ""
    if not parts.scheme or not parts.netloc:
        return (url[:SHOWN] + "…") if url else url
    return f"{parts.scheme}://{parts.netloc}{head}/{secret[:SHOWN]}…{masked_query}"


def _mask_webhook_list(items):
    if not isinstance(items, list):
        return mask_webhook_urls(items)
    masked = []
    for item in items:
        if isinstance(item, str):  # the LAUNCH shape: URL strings
            masked.append(mask_url(item))
        elif isinstance(item, dict):
            masked.append({key: mask_url(value) if key.lower() == "url" else mask_webhook_urls(value)
                           for key, value in item.items()})
        else:
            masked.append(mask_webhook_urls(item))
    return masked


def mask_webhook_urls(value):
    """A copy of a JSON-like ``value`` with every webhook URL masked."""
    if isinstance(value, dict):
        # "webhooks" (a result, the notification), and the stored result's "claimed_webhooks"
        return {key: _mask_webhook_list(item) if isinstance(key, str) and key.lower().endswith("webhooks")
                else mask_webhook_urls(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_webhook_urls(item) for item in value]
    if isinstance(value, str):
        return _WEBHOOK_URL.sub(lambda match: mask_url(match.group(0)), value)
    return value


def mask_text(text):
    """``text`` with webhook URLs masked: as indented JSON when it is JSON, else as it is."""
    if not isinstance(text, str) or not text:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return mask_webhook_urls(text)
    return json.dumps(mask_webhook_urls(value), indent=2, ensure_ascii=False)
