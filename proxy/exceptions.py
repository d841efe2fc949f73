"""Errors with a stable machine ``code`` and a sentence a person can act on (codes: ``proxy.errors``)."""
from django.core.exceptions import SuspiciousOperation

from .errors import default_message


class ProxyError(Exception):
    """Base class: ``code`` is for programs, ``message`` for people (the registry's sentence if not given).

    A translatable ``message`` (``gettext_lazy``) is rendered here, in the language active where the error is
    raised (the request's, under ``LocaleMiddleware``): ``message`` is always a ``str``.
    """

    code = "error"

    def __init__(self, code=None, message=""):
        self.code = code or self.code
        self.message = str(message or default_message(self.code))
        super().__init__(f"[{self.code}] {self.message}")  # the registry's sentence when none was given

    def as_dict(self):
        return {"code": self.code, "message": self.message}


class InvalidResult(ProxyError, SuspiciousOperation):
    """A result that is not in a shape Cyclr sends (``code`` says how)."""

    code = "invalid_result"


class LaunchRejected(ProxyError, SuspiciousOperation):
    """A delivery for a launch that may not take it: not found, not yours, expired, settled."""


class CyclrAPIError(ProxyError):
    """Cyclr's API answered with an error (its ``{"Message"}`` becomes ``message``) or not at all."""

    code = "cyclr_api_error"

    def __init__(self, code=None, message="", status=None):
        self.status = status
        super().__init__(code, message)


class RateLimited(ProxyError):
    """A user went past one of the per-user limits (``proxy.limits``): nothing was done or written.

    ``limit`` names the limit (``launches``, ``deliveries``, ``frames``, ``sockets``); ``retry_after``
    is the number of seconds until it allows one more, or None when that depends on the user
    (open sockets free up as they close). Answered with HTTP 429 and ``Retry-After``, or an error
    frame and close code 4429 on a socket.
    """

    code = "rate_limited"

    def __init__(self, message="", *, limit, retry_after=None):
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(None, message)
