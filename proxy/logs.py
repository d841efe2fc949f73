"""What the kit lets into a log line: request data escaped, the webhook's secret masked.

- ``loggable(value)``: a value that came from a request (a path, a header, an address) with every control
  character backslash-escaped, so that ``%0A`` in a URL cannot start a forged line in the server's log.
- ``mask_webhook_path(path)``: a request path with everything after ``/webhook/`` replaced by ``…``:
  the Marketplace Notification URL carries the secret (Cyclr documents no other way to authenticate it),
  and whoever reads an access log that holds it can forge every notification.
- ``WebhookSecretFilter``: a ``logging.Filter`` that masks those paths in any record, for the loggers the
  development servers write their access lines to (``django.channels.server`` for daphne's ``runserver``,
  ``django.server`` for Django's). Install it in ``LOGGING`` (docs/production.md); ``proxy.W008`` says
  when it is missing. Daphne's own command line writes its access log to a stream, not a logger:
  ``python -m proxy.server`` (``proxy.server``) runs it with the paths masked.
- ``RequestLogFilter``: on Django's ``django.request`` logger (the kit adds it in ``ProxyConfig.ready``), it
  drops Django's "Forbidden: <path>" line for an answer of the kit's webhook view, which quotes the path with
  its secret (the view logs its own line, without it), and masks the path in any other record about one.
"""
import logging
import re
from urllib.parse import unquote

MASK = "…"
# Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional and zero-width
# marks that reorder or hide text in a terminal; the backslash too, so that an escape cannot be forged.
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
# "/webhook" in a path: matched on the percent-decoded path, since the server decodes "%2F" and "%77" before
# Django resolves it, while the log holds the raw form. Wider than the kit's route (any case, "/webhooks"):
# masking a path that held no secret costs nothing.
_WEBHOOK_SEGMENT = re.compile("/webhook", re.IGNORECASE)
# A path-like token in a formatted log line (a request line, a URL).
_PATH_TOKEN = re.compile(r"""[^\s"'<>\[\]]*/[^\s"'<>\[\]]*""")


def loggable(value):
    """``value`` as text with its control characters backslash-escaped (``"\\n"``, ``"\\x1b"``, ``"\\u2028"``)."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(lambda match: match[0].encode("unicode_escape").decode("ascii"), text)


def mask_webhook_path(path):
    """``path`` (a raw request path, query string and all) with what follows ``/webhook`` replaced by ``…``.

    The segment is looked for in the percent-decoded path, in any case (``/proxy/%77ebhook%2F<secret>`` is the
    webhook to the server); a path without it is returned as it is, a masked one decoded up to it. Neither is
    escaped: pass the result through ``loggable``.
    """
    if not isinstance(path, str):
        return path
    decoded = unquote(path)
    match = _WEBHOOK_SEGMENT.search(decoded)
    if match is None:
        return path
    return decoded[:match.end()] + "/" + MASK


def _masked_token(token):
    masked = mask_webhook_path(token)
    return token if masked == token else loggable(masked)


def mask_webhook_paths_in(text):
    """``text`` (a formatted log line) with every path-like token that reaches a webhook masked."""
    if not isinstance(text, str) or "webhook" not in unquote(text).lower():
        return text
    return _PATH_TOKEN.sub(lambda match: _masked_token(match[0]), text)


class WebhookSecretFilter(logging.Filter):
    """Masks the webhook's secret in every record it sees (it never drops one).

    Records whose arguments are a mapping with a ``path`` (daphne's ``runserver``) get that path masked and escaped;
    any other record gets its formatted message masked (Django's ``runserver``: ``"POST /proxy/webhook/… HTTP/1.1"``).
    """

    def filter(self, record):
        args = record.args
        if isinstance(args, dict) and isinstance(args.get("path"), str):
            record.args = {**args, "path": loggable(mask_webhook_path(args["path"]))}
        else:
            message = record.getMessage()
            masked = mask_webhook_paths_in(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


# The mark the webhook view sets on its request (``proxy.webhooks``): it logs its answer itself.
LOGGED_BY_THE_KIT = "proxy_logged_by_the_kit"


class RequestLogFilter(logging.Filter):
    """For Django's ``django.request`` logger, which quotes each 4xx/5xx answer's path (``log_response``).

    An answer the kit's webhook view gave (its request carries ``LOGGED_BY_THE_KIT``) was logged by the view,
    without the path: Django's line is dropped. Any other record about a webhook path (an error raised before
    the view, with its traceback) is kept, its message masked, and its ``request`` taken off the record, so
    that no handler (Django's ``AdminEmailHandler`` mails the request) repeats the path.
    """

    def filter(self, record):
        request = getattr(record, "request", None)
        if getattr(request, LOGGED_BY_THE_KIT, False) and record.exc_info is None:
            return False
        path = getattr(request, "path", None)
        if isinstance(path, str) and mask_webhook_path(path) != path:
            record.request = None
        return WebhookSecretFilter().filter(record)


def install_request_log_filter():
    """Add ``RequestLogFilter`` to the ``django.request`` logger, once (``ProxyConfig.ready``)."""
    logger = logging.getLogger("django.request")
    if not any(isinstance(each, RequestLogFilter) for each in logger.filters):
        logger.addFilter(RequestLogFilter())


def filter_installed(logger_name):
    """True if a ``WebhookSecretFilter`` is on the logger ``logger_name``, or on every handler it writes to."""
    logger = logging.getLogger(logger_name)
    if any(isinstance(each, WebhookSecretFilter) for each in logger.filters):
        return True
    handlers = []
    current = logger
    while current is not None:
        handlers.extend(current.handlers)
        current = current.parent if current.propagate else None
    return bool(handlers) and all(any(isinstance(each, WebhookSecretFilter) for each in handler.filters)
                                  for handler in handlers)
