"""Cyclr's Marketplace notification: read as the browser's result, matched to its launch, processed.

``proxy.webhooks`` receives the call and stores it as a ``WebhookDelivery``; this module does
the rest, for the view and for the admin's *Reprocess* action alike.

Processing an ``installed`` notification converts Cyclr's PascalCase body into the browser's
camelCase result, finds its launch (the signed ``CompleteParameter``, else the Cyclr account)
and hands it to ``accept_result()`` with ``source="webhook"``, so the webhook and the browser's
result for one install make one record and one signal, in either order. Other statuses
(``uninstalled``, ``started``, ``stopped``), and an install of a known account that no open
launch explains (or whose launch expired), update the installation records
(``proxy.installations``) and change no launch.

A body of the wrong shape is kept on its row (``valid=False``, ``error_code="invalid_result"``)
for an operator to see what Cyclr sent, and answered 400 ``invalid_result`` with the rule it
broke in ``detail``, in the notification's own field names. A notification that can never
apply (launch unknown, or already settled with another install) is answered 200
``{"status": "ignored", "code", "message"}``: a 4xx or 5xx would only make Cyclr retry
something a retry cannot change. Other refusals take their status from ``proxy.errors``.
"""
import logging
import re

from django.utils import translation

from . import errors
from .accounts import account_q, names_account
from .exceptions import InvalidResult, LaunchRejected
from .installations import IntegrationEvent, apply_event
from .launches import newest_open_launch, unsign_launch_id
from .models import Arrival, Installation, Launch
from .protocol import load_json
from .results import InstallResult
from .services import accept_result

logger = logging.getLogger(__name__)

INSTALLED = "installed"
STATUSES = (INSTALLED, "uninstalled", "started", "stopped")
# How many of an account's settled launches are searched for the install a notification repeats.
SETTLED_LOOKBACK = 50
# Notifications that do not apply to any launch, and never will: answered 200 "ignored" so that
# Cyclr stops retrying, and kept in the delivery row.
IGNORED = {"expired", "not_found", "conflict"}


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
        # Cyclr reads the answer, not a person: the result's checks speak English here, which _as_sent rewords.
        with translation.override("en"):
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
    account = dict(account_id=result.account_id, account_api_id=result.account_api_id)
    if result.cycles:  # an install with no cycle cannot be told from another one
        settled = (Launch.objects.filter(account_q(**account), result__isnull=False)
                   .exclude(status=Launch.Status.PENDING).order_by("-created_at")[:SETTLED_LOOKBACK])
        for launch in settled:
            if result.same_install(launch.install_result()):
                return launch
    launch = newest_open_launch(**account)
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
        return errors.status_of("invalid_result"), {"code": "invalid_result", "detail": exc.code, "message": exc.message}
    except LaunchRejected as exc:
        _refuse(delivery, exc.code, exc.message)
        if exc.code in IGNORED:
            return 200, {"status": "ignored", "code": exc.code, "message": exc.message}
        return errors.status_of(exc.code), exc.as_dict()
    except Exception as exc:  # kept on the row, to reprocess once the cause is fixed
        logger.exception("Marketplace webhook delivery %s could not be processed", delivery.pk)
        _refuse(delivery, "server_error", repr(exc))
        return errors.status_of("server_error"), {
            "code": "server_error", "message": "The notification is stored but could not be processed."}
    delivery.processed = True
    _save(delivery)
    return http_status, answer


def _process(delivery):
    status, data, result = parse_notification(load_json(delivery.body, "notification"))
    delivery.valid = True
    if status != INSTALLED:
        return _record_change(delivery, status, result)
    try:
        launch = launch_for_notification(result)
    except LaunchRejected as exc:
        # An install of a known account that no open launch explains (Cyclr's console, ORBIT, a launch
        # that expired): Cyclr vouches for it, so the installation records are updated all the same.
        if exc.code != "not_found" or not _known_account(result):
            raise
        return _record_change(delivery, status, result)
    delivery.launch = launch
    if not notification_names(launch, result):
        raise LaunchRejected("account_mismatch", "The notification's AccountApiId or AccountId is not the Cyclr account "
                                                 "its launch was minted for.")
    try:
        outcome = accept_result(launch.pk, data, source=Arrival.Source.WEBHOOK, user=None)
    except LaunchRejected as exc:
        if exc.code != "expired":
            raise
        # The launch expired before Cyclr's word came: it stays as it is (no install signal), but Cyclr
        # vouches for the install, so the installation records follow it, as without a CompleteParameter.
        return _record_change(delivery, status, result)
    logger.info("Marketplace webhook delivery %s accepted for launch %s%s", delivery.pk, launch.pk,
                " (duplicate)" if outcome.duplicate else "")
    return 200, {"status": "accepted", "launch": str(launch.pk), "duplicate": outcome.duplicate}


def notification_names(launch, result):
    """True if a notification is about ``launch``'s account: its ``AccountApiId`` is the launch's API id, and
    its ``AccountId`` is either of the account's ids (``proxy.accounts.names_account``: the pages disagree on
    which one Cyclr sends where)."""
    if result.account_api_id and result.account_api_id != launch.account_api_id:
        return False
    return names_account(result.account_id, account_api_id=launch.account_api_id, cyclr_account_id=launch.cyclr_account_id)


def _known_account(result):
    account = account_q(account_id=result.account_id, account_api_id=result.account_api_id)
    return Launch.objects.filter(account).exists() or Installation.objects.filter(account).exists()


def _record_change(delivery, status, result):
    """Apply a notification to the installation records (``proxy.installations``); say what changed."""
    if not _known_account(result):
        raise LaunchRejected("not_found", "This Cyclr account is not one this site opened the Marketplace for.")
    event = IntegrationEvent.from_result(status, result, raw=load_json(delivery.body, "notification"))
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
