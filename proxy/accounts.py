"""Which Cyclr account a request's user installs into, and how the kit names an account to Cyclr.

``CYCLR_PROXY["ACCOUNT_RESOLVER"]`` names a ``callable(request)`` returning the account's API
id (the host's own id for it, a string) or a ``CyclrAccount``. The default gives each user
their own account, ``user-<pk>``; a multi-tenant host returns its tenant's id instead.

An account has two ids (docs/cyclr-api.md, "Account identity"): the **API id** the host chose, which
names the account in every mint call's path and is how the kit identifies it, and Cyclr's internal
**GUID**, which some answers carry instead. The pages disagree on which one the mint answers'
``AccountId`` holds and which one ``X-Cyclr-Account`` takes, so the kit takes either where it reads one
(``learned_guid``, ``names_account``) and sends the one ``CYCLR_PROXY["ACCOUNT_HEADER"]`` says
(``account_header``).
"""
import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

from .conf import proxy_settings


@dataclass(frozen=True)
class CyclrAccount:
    api_id: str
    name: str = ""
    description: str = ""


def user_account(request) -> CyclrAccount:
    """The default resolver: one Cyclr account per user."""
    user = request.user
    return CyclrAccount(api_id=f"user-{user.pk}", name=user.get_username())


def resolve_account(request) -> CyclrAccount:
    value = proxy_settings.ACCOUNT_RESOLVER(request)
    if isinstance(value, str):
        value = CyclrAccount(api_id=value)
    if not isinstance(value, CyclrAccount) or not value.api_id or len(value.api_id) > 255:
        raise ImproperlyConfigured(
            "CYCLR_PROXY['ACCOUNT_RESOLVER'] must return a non-empty account API id (at most 255 characters) "
            f"or a proxy.accounts.CyclrAccount; it returned {value!r}."
        )
    return value


# Cyclr's internal ids are GUIDs; matched whole (a trailing newline is no part of an id).
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What CYCLR_PROXY["ACCOUNT_HEADER"] may say X-Cyclr-Account holds.
HEADER_API_ID, HEADER_GUID = "api_id", "id"
ACCOUNT_HEADERS = (HEADER_API_ID, HEADER_GUID)


def is_guid(value) -> bool:
    return isinstance(value, str) and GUID.fullmatch(value) is not None


def learned_guid(account_id, account_api_id) -> str:
    """Cyclr's GUID for the account, if ``account_id`` (an answer's ``AccountId``) is one; else "".

    Current pages document the mint answers' ``AccountId`` as the API id, older ones as the GUID: an
    ``AccountId`` that is the API id (or anything but a GUID) teaches nothing. An API id the host chose to
    be a GUID is told apart by being equal to the API id.
    """
    if not is_guid(account_id) or account_id.lower() == (account_api_id or "").lower():
        return ""
    return account_id.lower()


def names_account(value, *, account_api_id, cyclr_account_id="") -> bool:
    """True if ``value`` (an id some answer or claim carries) names this account: its API id or its GUID.

    With the GUID not learned yet, any GUID could be it: that is for Cyclr to vouch for (the cycles it
    lists under the API id), so it is not a disagreement here.
    """
    if not isinstance(value, str) or not value:
        return True  # an answer that names no account does not name another one
    if value == account_api_id:
        return True
    if is_guid(value):
        return not cyclr_account_id or value.lower() == cyclr_account_id.lower()
    return False


def account_header(account_api_id, cyclr_account_id="") -> str:
    """The ``X-Cyclr-Account`` value for an account, as ``CYCLR_PROXY["ACCOUNT_HEADER"]`` says.

    ``"api_id"`` (the default): the API id, as Cyclr's current pages say (docs.cyclr.com, Authentication:
    "provide the account's API ID as an HTTP header"). ``"id"``: the GUID, as the 2023 v1 page said, once
    the kit knows it; until then the API id, which is all it has (Cyclr's 404 then names the account:
    ``CyclrAPIError`` ``account_not_found``).
    """
    if proxy_settings.ACCOUNT_HEADER == HEADER_GUID and cyclr_account_id:
        return cyclr_account_id
    return account_api_id


def account_q(*, account_id="", account_api_id="") -> Q:
    """A filter for the rows (launches, installations: both have ``account_api_id`` and ``cyclr_account_id``)
    of the account an answer names: by its API id when it gives one, else by its ``account_id`` as either id."""
    if account_api_id:
        return Q(account_api_id=account_api_id)
    if not account_id:
        return Q(pk__in=[])
    q = Q(account_api_id=account_id)
    if is_guid(account_id):
        q |= Q(cyclr_account_id=account_id.lower())
    return q
