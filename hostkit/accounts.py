"""The example host's CYCLR_PROXY["ACCOUNT_RESOLVER"]: each user is their own Cyclr account."""
from proxy.accounts import CyclrAccount


def resolve_account(request):
    user = request.user
    return CyclrAccount(api_id=f"hostkit-user-{user.pk}", name=user.get_username(),
                        description="Created by the hostkit example app")
