"""Which Cyclr account a request's user installs into.

``CYCLR_PROXY["ACCOUNT_RESOLVER"]`` names a ``callable(request)`` returning the account's API
id (the host's own id for it, a string) or a ``CyclrAccount``. The default gives each user
their own account, ``user-<pk>``; a multi-tenant host returns its tenant's id instead.
"""
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

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
