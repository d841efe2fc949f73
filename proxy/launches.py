"""Opening a launch: the row, the signed CompleteParameter and the Marketplace URL."""
import uuid
from datetime import timedelta

from django.core import signing
from django.utils import timezone

from .accounts import resolve_account
from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import LaunchRejected
from .models import Launch
from .origins import origin_of

SALT = "proxy.launch"


def sign_launch_id(launch_id) -> str:
    """The ``CompleteParameter``: the launch id, signed so Cyclr's echo of it can be trusted."""
    return signing.dumps(str(launch_id), salt=SALT, compress=False)


def unsign_launch_id(value, max_age=None):
    """The launch id inside a ``CompleteParameter``; ``LaunchRejected`` if it was tampered with."""
    try:
        return uuid.UUID(signing.loads(value, salt=SALT, max_age=max_age))
    except (signing.BadSignature, ValueError, TypeError):
        raise LaunchRejected("bad_signature", "The launch reference is not one this site issued.") from None


def open_launch(request, *, mode=Launch.Mode.POPUP, marketplace_id=None, client=None):
    """Create a pending launch for the request's user and mint its Marketplace URL.

    Returns ``(launch, marketplace_url)``. The URL is minted now, as the proxy page loads,
    because Cyclr's URLs last five minutes and work once.
    """
    account = resolve_account(request)
    now = timezone.now()
    launch = Launch(
        id=uuid.uuid4(),
        user=request.user,
        account_api_id=account.api_id,
        marketplace_id=marketplace_id or proxy_settings.MARKETPLACE_ID,
        mode=mode,
        created_at=now,
        expires_at=now + timedelta(seconds=proxy_settings.LAUNCH_TTL),
    )
    minted = (client or CyclrClient()).mint_marketplace_url(
        account.api_id,
        marketplace_id=launch.marketplace_id,
        complete_parameter=sign_launch_id(launch.id),
        account_name=account.name,
        account_description=account.description,
    )
    launch.cyclr_account_id = minted.account_id.lower()
    launch.marketplace_origin = origin_of(minted.url)
    launch.save(force_insert=True)
    return launch, minted.url
