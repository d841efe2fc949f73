"""Opening a launch: the row, the signed CompleteParameter and the Marketplace URL."""
import uuid
from datetime import timedelta

from django.core import signing
from django.utils import timezone

from .accounts import resolve_account
from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import LaunchRejected, ProxyError
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
        inline_oauth=mode == Launch.Mode.REDIRECT,  # framed otherwise: OAuth needs its own window
    )
    launch.cyclr_account_id = minted.account_id.lower()
    launch.marketplace_origin = origin_of(minted.url)
    if launch.marketplace_origin not in proxy_settings.MARKETPLACE_ORIGINS:
        # Framing it would be pointless: the proxy page would refuse every result it posts.
        raise ProxyError(
            "origin_not_allowed",
            f"Cyclr's Marketplace is served from {launch.marketplace_origin}, which is not in "
            'CYCLR_PROXY["MARKETPLACE_ORIGINS"]: add it there, exactly as written here.',
        )
    launch.save(force_insert=True)
    return launch, minted.url


def launch_for_result(user, data):
    """The launch a result found without one (redirect mode) belongs to, or ``LaunchRejected``.

    A signed ``completeParameter`` names it exactly; otherwise it is the user's newest open
    launch minted for the Cyclr account the result names. Either way ``accept_result`` still
    checks owner, expiry and shape.
    """
    parameter = data.get("completeParameter") if isinstance(data, dict) else None
    if isinstance(parameter, str) and parameter:
        return Launch.objects.filter(pk=unsign_launch_id(parameter)).first() or _no_launch()
    account_id = data.get("accountId") if isinstance(data, dict) else None
    if not isinstance(account_id, str) or not account_id:
        raise LaunchRejected("not_found", "The result does not say which Cyclr account it is for.")
    return newest_open_launch(account_id.lower(), user=user) or _no_launch()


def newest_open_launch(cyclr_account_id, *, user=None):
    """The newest pending, unexpired launch minted for a Cyclr account (and ``user``, if given), or None."""
    launches = Launch.objects.filter(cyclr_account_id=cyclr_account_id, status=Launch.Status.PENDING,
                                     expires_at__gt=timezone.now())
    if user is not None:
        launches = launches.filter(user=user)
    return launches.order_by("-created_at").first()


def _no_launch():
    raise LaunchRejected("not_found", "No open launch of yours matches this result. Start again from the Connect button.")
