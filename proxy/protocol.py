"""The message contract: the JSON the kit reads and sends (docs/urls-sockets-messages.md lists every message).

Reading: ``parse_result_message`` takes the proxy page's ``{"type": "result", "id", "result"}``
(over the socket or HTTP) and ``load_json`` any JSON text the kit accepts (the webhook's too),
refusing with ``InvalidResult`` whatever could not be stored safely. Sending: ``ack``, ``error``
and ``install_event`` build the frames; ``user_group`` names a user's events group and
``launch_group`` a launch's own socket.
"""
import json

from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .conf import proxy_settings
from .errors import REGISTRY, default_message, lookup
from .exceptions import InvalidResult
from .models import Arrival, Launch
from .results import UNSTORABLE

COMPLETED = "proxy.install.completed"
FAILED = "proxy.install.failed"
# A claim Cyclr did not confirm was refused: the launch is pending again (the pages go back to waiting).
REFUSED = "proxy.install.refused"

# Deepest nesting of arrays and objects accepted. A result is six levels deep with its message
# (message > result > cycles > cycle > webhooks > webhook); anything far deeper is not Cyclr's,
# and deep enough nesting makes json (and the database's JSON encoders) raise RecursionError.
MAX_DEPTH = 32


# --- reading ---------------------------------------------------------------------------------------


# Why a JSON text was refused, whole sentences for each thing the kit reads (a translation cannot build one from
# a noun): the proxy page's message, which a person may see, and Cyclr's notification, which Cyclr reads.
LOAD_ERRORS = {
    "message": {
        "deep": gettext_lazy("The message is nested more than %(depth)s levels deep."),
        "not_json": gettext_lazy("The message is not valid JSON."),
        "unstorable": gettext_lazy("The message holds a NUL character or an unpaired surrogate."),
    },
    "notification": {
        "deep": "The notification is nested more than %(depth)s levels deep.",
        "not_json": "The notification is not valid JSON.",
        "unstorable": "The notification holds a NUL character or an unpaired surrogate.",
    },
}


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's json takes them, nothing else does


def load_json(text, noun="message"):
    """The JSON value in ``text``, or ``InvalidResult("malformed")`` with a sentence saying why.

    Beyond the JSON grammar it refuses what the kit could not store or read back: nesting
    deeper than ``MAX_DEPTH``, ``NaN``/``Infinity``, and strings holding a NUL or an unpaired
    surrogate. It never raises anything else (no ``RecursionError``). ``noun`` is ``message``
    or ``notification`` (``LOAD_ERRORS``).
    """
    sentences = LOAD_ERRORS[noun]
    too_deep = sentences["deep"] % {"depth": MAX_DEPTH}
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidResult("malformed", too_deep) from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, a refused constant
        raise InvalidResult("malformed", sentences["not_json"]) from None
    # Walked with a stack, not recursion: the check must not fail the way it guards against.
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                raise InvalidResult("malformed", sentences["unstorable"])
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise InvalidResult("malformed", too_deep)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
    return value


def parse_result_message(data):
    """``{"type": "result", "id": str, "result": {...}}`` from a frame's text or a body's bytes, or ``InvalidResult``.

    ``data`` over ``MAX_RESULT_BYTES`` (counted in UTF-8) is ``too_large``; bytes are decoded
    as UTF-8, with undecodable bytes replaced (the result's checks then refuse them).
    """
    limit = proxy_settings.MAX_RESULT_BYTES
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", errors="surrogatepass"))
    if size > limit:
        raise InvalidResult("too_large", _("The message is larger than %(limit)s bytes.") % {"limit": limit})
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    message = load_json(text)
    if not isinstance(message, dict) or message.get("type") != "result":
        raise InvalidResult("malformed", _('Expected a JSON object with "type": "result".'))
    message_id = message.get("id")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 64:
        raise InvalidResult("malformed", _('The message needs an "id" string of at most %(count)s characters.')
                            % {"count": 64})
    if not isinstance(message.get("result"), dict):
        raise InvalidResult("not_an_object", _('The message\'s "result" must be a JSON object.'))
    return message


# --- sending ---------------------------------------------------------------------------------------


def status_of(launch):
    """The launch's status word as every answer reports it (the ack, ``proxy:status``): ``expired`` for a launch
    still pending past its expiry, though no sweep has stored that yet; else its stored status."""
    return Launch.Status.EXPIRED if launch.is_expired else launch.status


def reason_of(launch):
    """Why the launch failed or expired, or why its result still waits, as ``{"code", "message"}``; else None.

    A launch still pending past its expiry has no failure stored yet: it gets the registry's
    ``expired`` and its sentence, so that the pages show the server's words, never their own. A
    ``received`` launch whose last verification attempt could not ask Cyclr has not failed: it gets
    ``verification_pending`` and the registry's sentence (Cyclr's own error is for the site's admin:
    ``Launch.last_attempt_error_message``).
    """
    if launch.failure_code:
        return {"code": launch.failure_code,
                "message": launch.failure_message or default_message(launch.failure_code)}
    if launch.is_expired:
        return {"code": "expired", "message": default_message("expired")}
    if launch.status == Launch.Status.RECEIVED and launch.last_attempt_error_code:
        return {"code": "verification_pending", "message": default_message("verification_pending")}
    return None


def ack(launch, message_id):
    """Server -> proxy page: the result is stored (and, if ``status`` says so, verified)."""
    return {
        "type": "ack",
        "id": message_id,
        "launch": str(launch.id),
        "status": status_of(launch),
        "result": launch.result,
        "reason": reason_of(launch),
    }


def error(exc, message_id=None):
    """Server -> page: the message was refused; ``code`` is stable, ``message`` is for people.

    ``code`` is one of ``proxy.errors.REGISTRY``. A result of the wrong shape has code
    ``invalid_result``, and ``detail`` says which rule it broke (``errors.INVALID_RESULT_DETAILS``).
    ``terminal`` is the registry's verdict on the code: true, sending the same message again cannot
    succeed (the page stops and shows ``message``); false, it may (the page retries later). The pages
    read it here, so no script keeps a list of codes of its own.
    """
    frame = {"type": "error", "id": message_id, "code": exc.code, "message": exc.message}
    if isinstance(exc, InvalidResult) and exc.code not in REGISTRY:
        frame.update(code="invalid_result", detail=exc.code)
    frame["terminal"] = lookup(frame["code"]).terminal
    return frame


def install_event(launch):
    """Proxy page -> host page, and server push on ws/proxy/events/."""
    if launch.status == Launch.Status.FAILED:
        return {"type": FAILED, "launch": str(launch.id), "result": launch.result, "error": reason_of(launch)}
    return {"type": COMPLETED, "launch": str(launch.id), "result": launch.result}


def refusal(code):
    """``{"code", "message"}`` for a refused claim: Cyclr's disagreement as the code, the registry's sentence for people."""
    return {"code": code, "message": default_message("claim_refused")}


def with_last_refusal(launches):
    """``launches`` (a queryset), each with ``last_refused_code``: the code of the last refusal of a claim for it, or
    None. Read in the launch's own statement, so that ``proxy:status``, which a page polls, is one query."""
    refused = Arrival.objects.filter(launch=OuterRef("pk")).exclude(refused_code="").order_by("-received_at", "-pk")
    return launches.annotate(last_refused_code=Subquery(refused.values("refused_code")[:1]))


def refusal_of(launch):
    """The last refusal of a claim for a ``pending`` launch (``refusal``), or None: what ``proxy:status`` says of it.
    ``launch`` is read through ``with_last_refusal``."""
    if launch.status != Launch.Status.PENDING or not launch.last_refused_code:
        return None
    return refusal(launch.last_refused_code)


def refusal_event(launch, reason):
    """Server push: the claim ``launch`` held was refused for ``reason`` and the launch waits again."""
    return {"type": REFUSED, "launch": str(launch.id), "error": refusal(reason.code)}


def user_group(user_id):
    """The channel-layer group of one user's event sockets."""
    return f"proxy.user.{user_id}"


def launch_group(launch_id):
    """The channel-layer group of one launch's ``ws/proxy/launches/<uuid>/`` sockets (the proxy page's)."""
    return f"proxy.launch.{launch_id}"
