"""``proxy:webhook``: Cyclr's Marketplace Notification URL, called server to server.

Cyclr documents no authentication for this call, so the secret travels in the URL
(``webhook/<secret>/``) and is compared in constant time with each of
``CYCLR_PROXY["WEBHOOK_SECRET"]`` (a string, or a list while rotating). With no secret set the
endpoint is disabled; disabled and wrong-secret calls get the same 404 and write nothing.

What is stored, and when (the dj-stripe habit: keep the arrival first, then process it):

- A caller without the secret writes nothing, whatever it sends: it is anyone on the internet.
- A caller with the secret whose body is over ``MAX_RESULT_BYTES`` (413 ``too_large``), is not
  a JSON object, or holds text no database can keep (400 ``malformed``) writes nothing either: such a body cannot be shown to an
  operator as a notification or reprocessed, and storing it would let a leaked secret fill the
  table. The refusal is logged (without the secret or the body).
- Any JSON object from a caller with the secret is stored as a ``WebhookDelivery`` *before* it
  is validated, exactly as received. Unlike the browser, this caller is authenticated, so a body
  of the wrong shape is kept (``valid=False``, ``error_code="invalid_result"``) for an operator
  to see what Cyclr sent; it is answered 400 ``invalid_result`` with the rule it broke in ``detail``.

Processing an ``installed`` notification converts Cyclr's PascalCase body into the browser's
camelCase result, finds its launch (the signed ``CompleteParameter``, else the Cyclr account)
and hands it to ``accept_result()`` with ``source="webhook"``, so the webhook and the browser's
result for one install make one record and one signal, in either order. Other statuses
(``uninstalled``, ``started``, ``stopped``) are recorded and change no launch.

Answers are JSON. Refusals are ``{"code", "message"}``; successes ``{"status": "accepted",
"launch", "duplicate"}`` or ``{"status": "recorded"}``. A notification that can never apply
(launch expired, unknown, or already settled with another install) is answered 200
``{"status": "ignored", "code", "message"}``: a 4xx or 5xx would only make Cyclr retry
something a retry cannot change. The delivery row keeps it for an operator.
"""
import ipaddress
import json
import logging
import re

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from .conf import proxy_settings
from .exceptions import InvalidResult, LaunchRejected
from .installations import IntegrationEvent, apply_event
from .launches import newest_open_launch, unsign_launch_id
from .models import Arrival, Installation, Launch, WebhookDelivery
from .results import InstallResult
from .services import accept_result
from .storable import refuse_unstorable_text

logger = logging.getLogger(__name__)

INSTALLED = "installed"
STATUSES = (INSTALLED, "uninstalled", "started", "stopped")
# How many of an account's settled launches are searched for the install a notification repeats.
SETTLED_LOOKBACK = 50
# Notifications Cyclr will not usefully retry: answered 200 "ignored", kept in the delivery row.
IGNORED = {"expired", "not_found", "conflict"}
HTTP_STATUS = {"bad_signature": 400, "account_mismatch": 409}


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


# --- Cyclr's notification as the browser's result -------------------------------------------------

_PASCAL = {
    "accountId": "AccountId", "accountApiId": "AccountApiId", "userId": "UserId",
    "marketplacePackageId": "MarketplaceIntegrationPackageId", "completeParameter": "CompleteParameter",
    "errors": "Errors", "cycles": "MarketplaceInstallDetails", "cycleId": "CycleId", "templateId": "TemplateId",
    "templateReleaseId": "TemplateReleaseId", "status": "CycleStatus", "webhooks": "Webhooks",
    "stepName": "StepName", "url": "Url",
}
# A field path in an InvalidResult message, such as "cycles[0].webhooks[1].url".
_PATH = re.compile(r"(?<![\w.])(?:" + "|".join(
    ("accountId", "accountApiId", "userId", "marketplacePackageId", "completeParameter", "errors", "cycles")
) + r")(?:\[\d+\]|\.[A-Za-z]+)*")


def _as_sent(exc):
    """``exc`` with its message naming the notification's own PascalCase fields."""
    message = _PATH.sub(lambda m: re.sub(r"[A-Za-z]+", lambda w: _PASCAL.get(w[0], w[0]), m[0]), exc.message)
    return InvalidResult(exc.code, message.replace("The result", "The notification"))


def notification_status(body):
    """Cyclr's ``Status``, lower-cased, or ``InvalidResult``."""
    status = body.get("Status")
    if status is None or status == "":
        raise InvalidResult("missing_field", "The notification has no Status.")
    if not isinstance(status, str):  # and no repr of it: it may be nested past the recursion limit
        raise InvalidResult("invalid_value", f"Status must be a string, one Cyclr sends ({', '.join(STATUSES)}).")
    if status.lower() not in STATUSES:
        raise InvalidResult("invalid_value", f"Status {status[:40]!r} is not one Cyclr sends ({', '.join(STATUSES)}).")
    return status.lower()


def browser_result(body):
    """The notification's install as the browser's camelCase result (what ``InstallResult.parse`` takes).

    Only the containers are reshaped here; values pass through as sent, so that ``parse``
    checks types, lengths and counts exactly as it does for the browser.
    """
    details = body.get("MarketplaceInstallDetails")
    cycles = [_cycle(item, i) for i, item in enumerate(details)] if isinstance(details, list) else details
    return {
        "accountId": body.get("AccountId"),
        "accountApiId": body.get("AccountApiId"),
        "userId": body.get("UserId"),
        "marketplacePackageId": body.get("MarketplaceIntegrationPackageId"),
        "cycles": [] if cycles is None else cycles,
        "errors": body.get("Errors"),
        "completeParameter": body.get("CompleteParameter"),
    }


def _cycle(item, index):
    if not isinstance(item, dict):
        return item  # parse() refuses it, naming the item
    webhooks = item.get("Webhooks")
    if isinstance(webhooks, list):
        for i, hook in enumerate(webhooks):
            if not isinstance(hook, dict):
                raise InvalidResult("wrong_type", f"MarketplaceInstallDetails[{index}].Webhooks[{i}] must be an object with Url and StepName.")
        webhooks = [{"stepName": hook.get("StepName"), "url": hook.get("Url")} for hook in webhooks]
    return {
        "cycleId": item.get("CycleId"),
        "templateId": item.get("TemplateId"),
        "templateReleaseId": item.get("TemplateReleaseId"),
        "status": item.get("CycleStatus"),
        "webhooks": webhooks,
    }


def parse_notification(body):
    """``(status, data, result)`` for a notification body, or ``InvalidResult`` naming its fields."""
    status = notification_status(body)
    try:
        data = browser_result(body)
        return status, data, InstallResult.parse(data)
    except InvalidResult as exc:
        raise _as_sent(exc) from None


# --- which launch -----------------------------------------------------------------------------------


def launch_for_notification(result):
    """The launch an ``installed`` notification is about, or ``LaunchRejected``.

    The signed ``CompleteParameter`` names it exactly (``bad_signature`` if it was not issued
    here). Without one, the Cyclr account decides: first a settled launch that already holds this
    very install (the browser was faster, so this is a duplicate), then the account's newest
    pending, unexpired launch. Looking for the duplicate first keeps a late notification from
    binding an earlier install to a launch the user opened since.
    """
    if result.complete_parameter:
        launch = Launch.objects.filter(pk=unsign_launch_id(result.complete_parameter)).first()
        if launch is None:
            raise LaunchRejected("not_found", "The launch this notification names no longer exists.")
        return launch
    if result.cycles:  # an install with no cycle cannot be told from another one
        settled = (Launch.objects.filter(cyclr_account_id=result.account_id, result__isnull=False)
                   .exclude(status=Launch.Status.PENDING).order_by("-created_at")[:SETTLED_LOOKBACK])
        for launch in settled:
            if result.same_install(launch.install_result()):
                return launch
    launch = newest_open_launch(result.account_id)
    if launch is None:
        raise LaunchRejected("not_found", "No open launch was minted for this Cyclr account.")
    return launch


# --- processing a stored delivery ---------------------------------------------------------------------


def process_delivery(delivery):
    """Validate and act on a stored delivery, record the outcome on its row; return ``(http_status, answer)``.

    Safe to run again (the admin's *Reprocess* action does): ``accept_result`` counts a repeat
    as a duplicate arrival and sends no second signal.
    """
    delivery.valid, delivery.processed, delivery.launch = False, False, None
    delivery.error_code = delivery.error_message = ""
    try:
        http_status, answer = _process(delivery)
    except InvalidResult as exc:
        _refuse(delivery, "invalid_result", f"{exc.code}: {exc.message}")
        return 400, {"code": "invalid_result", "detail": exc.code, "message": exc.message}
    except LaunchRejected as exc:
        _refuse(delivery, exc.code, exc.message)
        if exc.code in IGNORED:
            return 200, {"status": "ignored", "code": exc.code, "message": exc.message}
        return HTTP_STATUS.get(exc.code, 400), exc.as_dict()
    except Exception as exc:  # kept on the row, to reprocess once the cause is fixed
        logger.exception("Marketplace webhook delivery %s could not be processed", delivery.pk)
        _refuse(delivery, "server_error", repr(exc))
        return 500, {"code": "server_error", "message": "The notification is stored but could not be processed."}
    delivery.processed = True
    _save(delivery)
    return http_status, answer


def _process(delivery):
    status, data, result = parse_notification(json.loads(delivery.body))
    delivery.valid = True
    if status != INSTALLED:
        return _record_change(delivery, status, result)
    try:
        launch = launch_for_notification(result)
    except LaunchRejected as exc:
        # An install of a known account that no open launch explains (Cyclr's console, ORBIT, a launch
        # that expired): Cyclr vouches for it, so the installation records are updated all the same.
        if exc.code != "not_found" or not _known_account(result.account_id):
            raise
        return _record_change(delivery, status, result)
    delivery.launch = launch
    if launch.cyclr_account_id != result.account_id:
        raise LaunchRejected("account_mismatch", "The notification's AccountId is not the Cyclr account its launch was minted for.")
    outcome = accept_result(launch.pk, data, source=Arrival.Source.WEBHOOK, user=None)
    logger.info("Marketplace webhook delivery %s accepted for launch %s%s", delivery.pk, launch.pk,
                " (duplicate)" if outcome.duplicate else "")
    return 200, {"status": "accepted", "launch": str(launch.pk), "duplicate": outcome.duplicate}


def _known_account(cyclr_account_id):
    return (Launch.objects.filter(cyclr_account_id=cyclr_account_id).exists()
            or Installation.objects.filter(cyclr_account_id=cyclr_account_id).exists())


def _record_change(delivery, status, result):
    """Apply a notification to the installation records (``proxy.installations``); say what changed."""
    if not _known_account(result.account_id):
        raise LaunchRejected("not_found", "This Cyclr account is not one this site opened the Marketplace for.")
    event = IntegrationEvent.from_result(status, result, raw=json.loads(delivery.body))
    changes = apply_event(event, source="webhook")
    kinds = [change.kind for change in changes]
    logger.info("Marketplace webhook delivery %s recorded (%s): %s", delivery.pk, status, ", ".join(kinds) or "no change")
    return 200, {"status": "recorded", "changes": kinds}


def _refuse(delivery, code, message):
    logger.warning("Marketplace webhook delivery %s not applied: [%s] %s", delivery.pk, code, message)
    delivery.error_code, delivery.error_message = code, message
    _save(delivery)


def _save(delivery):
    delivery.save(update_fields=["valid", "processed", "launch", "error_code", "error_message"])


# --- the view -------------------------------------------------------------------------------------------


@csrf_exempt  # server to server: the secret in the URL stands in for the CSRF token
@transaction.non_atomic_requests  # the delivery row must survive whatever processing does
@never_cache
def webhook(request, secret):
    """The Marketplace Notification URL: ``POST webhook/<secret>/`` with Cyclr's JSON notification."""
    if not secret_matches(secret):
        if configured_secrets():
            logger.warning("Refused a Marketplace webhook from %s: wrong secret.", request.META.get("REMOTE_ADDR"))
        else:
            logger.warning("Refused a Marketplace webhook from %s: the webhook is disabled "
                           '(CYCLR_PROXY["WEBHOOK_SECRET"] is empty).', request.META.get("REMOTE_ADDR"))
        return _answer(404, {"code": "not_found", "message": "Not found."})
    if request.method != "POST":
        response = _answer(405, {"code": "method_not_allowed", "message": "Send Marketplace notifications with POST."})
        response["Allow"] = "POST"
        return response
    try:
        text = _read_body(request)
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError
        refuse_unstorable_text(body, "notification")
    except InvalidResult as exc:
        logger.warning("Refused a Marketplace webhook from %s: [%s] %s", request.META.get("REMOTE_ADDR"), exc.code, exc.message)
        return _answer(413 if exc.code == "too_large" else 400, exc.as_dict())
    except (ValueError, RecursionError):  # UnicodeDecodeError, JSONDecodeError, absurd nesting
        logger.warning("Refused a Marketplace webhook from %s: the body is not a JSON object.", request.META.get("REMOTE_ADDR"))
        return _answer(400, {"code": "malformed", "message": "The notification must be a JSON object."})
    try:
        delivery = WebhookDelivery.objects.create(
            status=body["Status"][:32] if isinstance(body.get("Status"), str) else "",
            body=text,
            remote_addr=_ip_address(request.META.get("REMOTE_ADDR")),
        )
    except Exception:  # Django's own report would quote the path, secret included
        logger.exception("Could not store a Marketplace webhook delivery")
        return _answer(500, {"code": "server_error", "message": "The notification could not be stored; send it again."})
    return _answer(*process_delivery(delivery))


def _read_body(request):
    # The declared length first: past DATA_UPLOAD_MAX_MEMORY_SIZE, reading request.body raises.
    limit = proxy_settings.MAX_RESULT_BYTES
    too_large = InvalidResult("too_large", f"The notification is larger than {limit} bytes.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(raw) > limit:
        raise too_large
    return raw.decode("utf-8")


def _ip_address(value):
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _answer(status, payload):
    response = JsonResponse(payload, status=status)
    # Django would log each 4xx/5xx with the request path, which holds the secret: this module
    # logs its own line instead.
    response._has_been_logged = True
    return response
