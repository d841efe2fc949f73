"""Checking a claimed result against the launch it was delivered for and Cyclr's API."""
from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import ProxyError


def verify_result(launch, result, *, client=None):
    """Return a ``ProxyError`` saying why the result fails, or None when it holds.

    Raises ``CyclrAPIError`` if Cyclr cannot be asked (the result then stays unverified
    and can be retried). Cycles are looked up under the account the launch was minted
    for, never the one the browser claims.
    """
    if launch.cyclr_account_id and result.account_id != launch.cyclr_account_id:
        return ProxyError("account_mismatch", "The result names a different Cyclr account from the one this launch opened.")
    if result.account_api_id and result.account_api_id != launch.account_api_id:
        return ProxyError("account_mismatch", "The result names a different account from the one this launch opened.")
    if not result.cycles:
        detail = "; ".join(result.errors) or "no integration was installed"
        return ProxyError("install_errors", f"Cyclr reported the install failed: {detail}")
    if proxy_settings.VERIFY_WITH_API:
        client = client or CyclrClient()
        account = launch.cyclr_account_id or launch.account_api_id
        for cycle in result.cycles:
            if client.get_cycle(cycle.cycle_id, account=account) is None:
                return ProxyError("unknown_cycle", f"Cyclr has no cycle {cycle.cycle_id} in this launch's account.")
    return None
