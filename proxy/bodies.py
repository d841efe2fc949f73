"""The one bounded reader of a request's body, behind every door that reads one.

``proxy:result`` and ``proxy:complete``'s POST (a result message, JSON), the move to top level and ORBIT's
close notice (a small form carrying the CSRF token) and the Marketplace webhook (a notification, JSON) all read
their body here, each with its own limit, so they refuse alike:

- a body over the door's limit is ``too_large`` (413): the declared ``Content-Length`` is checked before
  anything is read; a chunked body declares none, so it is measured once read, and one past Django's
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``RequestDataTooBig``, which Django would answer with its HTML 400) is
  too large as well;
- a body that could not be read to its end (the client went away: ``UnreadablePostError``) is ``malformed`` (400).

``read_form`` adds a form's checks: another content type is ``unsupported_media_type`` (415), more fields
than ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` ``malformed``. The refusals are ``InvalidResult``: a ``ProxyError``
with a registered code and a sentence, and a ``SuspiciousOperation``.
"""
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import QueryDict, UnreadablePostError
from django.utils.translation import gettext as _

from .exceptions import InvalidResult

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def declared_length(request):
    """The request's ``Content-Length``, or 0 when it declares none (chunked) or not a number."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def read_body(request, limit):
    """``request``'s body as bytes, if it is at most ``limit`` bytes; else ``InvalidResult`` (see above)."""
    too_large = InvalidResult("too_large", _("This request's body is larger than the kit accepts here "
                                             "(%(limit)s bytes).") % {"limit": limit})
    if declared_length(request) > limit:
        raise too_large
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large from None
    except UnreadablePostError:
        raise InvalidResult("malformed", _("This request's body could not be read to its end. Send it again.")) from None
    if len(body) > limit:
        raise too_large
    return body


def read_form(request, limit, *, allow_empty=False):
    """``request``'s body as a form (a ``QueryDict``), read by ``read_body`` within ``limit``; else ``InvalidResult``.

    ``allow_empty``: a request with no body is taken as an empty form whatever its content type.
    """
    body = read_body(request, limit)
    if (body or not allow_empty) and request.content_type != FORM_MEDIA_TYPE:
        if allow_empty:
            message = _("Send this request as a form (Content-Type: %(type)s), or with no body.")
        else:
            message = _("Send this request as a form (Content-Type: %(type)s).")
        raise InvalidResult("unsupported_media_type", message % {"type": FORM_MEDIA_TYPE})
    try:
        return QueryDict(body, encoding="utf-8")
    except TooManyFieldsSent:
        raise InvalidResult("malformed", _("This request has more fields than the kit accepts.")) from None
