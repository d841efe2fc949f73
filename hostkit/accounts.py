"""The example host's CYCLR_PROXY["ACCOUNT_RESOLVER"]: each user is their own Cyclr account."""
from proxy.accounts import CyclrAccount


def account_api_id(user):
    """The host's own id for the user's Cyclr account."""
    return f"hostkit-user-{user.pk}"


def resolve_account(request):
    user = request.user
    return CyclrAccount(api_id=account_api_id(user), name=user.get_username(),
                        description="Created by the hostkit example app")
