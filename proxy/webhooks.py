"""``proxy:webhook``: Cyclr's Marketplace Notification URL, called server to server (the request side).

Cyclr documents no authentication for this call, so the secret travels in the URL
(``webhook/<secret>/``) and is compared in constant time with each of
``CYCLR_PROXY["WEBHOOK_SECRET"]`` (a string, or a list while rotating). With no secret set the
endpoint is disabled; disabled and wrong-secret calls get the same 404 and write nothing.

The secret must never reach a log line or another URL: the view is login-free (so
``LoginRequiredMiddleware`` cannot redirect it to the login page with the path in ``next``),
answers with and without the trailing slash (so ``APPEND_SLASH`` never redirects it, and no
404 page echoes it), and writes its own log lines, which name the caller's address, never the
path. Django's request log, which quotes the path, leaves these answers out (``proxy.logs.RequestLogFilter``,
on ``django.request``: this view marks its request as logged by the kit). The servers'
access logs show the path as ``/webhook/…``: ``python -m proxy.server`` (daphne) and, for ``runserver``,
``proxy.logs.WebhookSecretFilter`` in ``LOGGING`` (``proxy.W008``).

What is stored, and when (the dj-stripe habit: keep the arrival first, then process it):

- A caller without the secret writes nothing, whatever it sends: it is anyone on the internet.
- A caller with the secret whose body is over ``MAX_RESULT_BYTES`` (413 ``too_large``) or is not
  a JSON object (400 ``malformed``) writes nothing either: such a body cannot be shown to an
  operator as a notification or reprocessed, and storing it would let a leaked secret fill the
  table. The refusal is logged (without the secret or the body).
- Any JSON object from a caller with the secret is stored as a ``WebhookDelivery`` *before* it
  is validated, exactly as received, then processed by ``proxy.notifications.process_delivery``.

Answers are JSON: refusals ``{"code", "message"}`` with the status ``proxy.errors`` gives the
code; successes ``{"status": "accepted", "launch", "duplicate"}``, ``{"status": "recorded"}`` or
``{"status": "ignored", "code", "message"}`` (see ``proxy.notifications``).
"""
import ipaddress
import logging

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import errors
from .bodies import read_body
from .conf import proxy_settings
from .exceptions import InvalidResult
from .logs import LOGGED_BY_THE_KIT, loggable
from .models import WebhookDelivery
from .notifications import process_delivery
from .protocol import load_json

logger = logging.getLogger(__name__)


# --- the secret -----------------------------------------------------------------------------------


def configured_secrets():
    """The webhook secrets in force: ``WEBHOOK_SECRET`` as a list, empty values dropped."""
    value = proxy_settings.WEBHOOK_SECRET
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):  # misconfigured (proxy.E009): stay disabled
        return []
    return [secret for secret in value if isinstance(secret, str) and secret]


def secret_matches(given):
    """True if ``given`` is one of the configured secrets; every one is compared, in constant time."""
    matched = False
    for secret in configured_secrets():
        matched |= constant_time_compare(given, secret)
    return matched


# --- the view -------------------------------------------------------------------------------------------


@login_not_required  # Cyclr has no session; LoginRequiredMiddleware would put the secret in a redirect
@csrf_exempt  # server to server: the secret in the URL stands in for the CSRF token
@transaction.non_atomic_requests  # the delivery row must survive whatever processing does
@never_cache
def webhook(request, secret):
    """The Marketplace Notification URL: ``POST webhook/<secret>/`` with Cyclr's JSON notification.

    ``secret`` may come with its trailing slash, or with more path after it (which then matches
    no secret): every path under ``webhook/`` is answered here, so none is logged by Django.
    """
    setattr(request, LOGGED_BY_THE_KIT, True)  # Django's request log leaves its answer out (proxy.logs)
    try:
        return _receive(request, secret.removesuffix("/"))
    except Exception:  # Django's own report would quote the path, secret included
        logger.exception("Could not take a Marketplace webhook from %s", loggable(request.META.get("REMOTE_ADDR")))
        return _refuse("server_error", "The notification could not be stored; send it again.")


def _receive(request, secret):
    # The address may come from a header (daphne --proxy-headers): escaped, like everything from a request.
    remote_addr = request.META.get("REMOTE_ADDR")
    logged_addr = loggable(remote_addr)
    if not secret_matches(secret):
        if configured_secrets():
            logger.warning("Refused a Marketplace webhook from %s: wrong secret.", logged_addr)
        else:
            logger.warning("Refused a Marketplace webhook from %s: the webhook is disabled "
                           '(CYCLR_PROXY["WEBHOOK_SECRET"] is empty).', logged_addr)
        return _refuse("not_found", "Not found.")
    if request.method != "POST":
        response = _refuse("method_not_allowed", "Send Marketplace notifications with POST.")
        response["Allow"] = "POST"
        return response
    try:
        text = _read_body(request)
        body = load_json(text, "notification")
        if not isinstance(body, dict):
            raise InvalidResult("malformed", "The notification must be a JSON object.")
    except InvalidResult as exc:
        logger.warning("Refused a Marketplace webhook from %s: [%s] %s", logged_addr, exc.code, loggable(exc.message))
        return _refuse(exc.code, exc.message)
    delivery = WebhookDelivery.objects.create(
        status=body["Status"][:32] if isinstance(body.get("Status"), str) else "",
        body=text,
        remote_addr=_ip_address(remote_addr),
    )
    return _answer(*process_delivery(delivery))


def _read_body(request):
    """The body as text, read within ``MAX_RESULT_BYTES`` (``proxy.bodies``), or ``InvalidResult`` (``malformed``
    if it is not UTF-8)."""
    raw = read_body(request, proxy_settings.MAX_RESULT_BYTES)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidResult("malformed", "The notification is not UTF-8 text.") from None


def _ip_address(value):
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _refuse(code, message):
    return _answer(errors.status_of(code), {"code": code, "message": message})


def _answer(status, payload):
    # Django would log each 4xx/5xx with the request path, which holds the secret: this module logs its
    # own line instead, and proxy.logs.RequestLogFilter leaves Django's out.
    return JsonResponse(payload, status=status)
