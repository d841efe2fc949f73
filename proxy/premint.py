"""Pre-minting: a launch and its Marketplace URL made just before the click (``CYCLR_PROXY["PREMINT"]``).

Minting takes a Cyclr API call (hundreds of milliseconds on a real Cyclr), which ``proxy:launch`` otherwise makes
after the click, while the person watches an empty window. With ``PREMINT``, the Connect button asks
``proxy:premint`` (a POST with the CSRF token) when the person shows the intent to click ("intent": the pointer on
the button, a touch, its focus) or when the page loads ("load"); the click then opens ``proxy:launch?premint=<id>``,
which renders the URL minted already (docs/modes-and-windows.md, "Pre-minting").

What binds a launch is unchanged (docs/security.md): the launch row is the signed-in person's, for the account the
resolver names, made and counted (``limits.LAUNCHES``) when it is minted; the browser only names it back, and
``claim`` takes it only for the same person and account, once, while it is fresh. Cyclr's URL works for five
minutes and once (docs/cyclr-api.md): a pre-mint is offered for ``PREMINT_TTL`` seconds, then its launch expires
unopened (nothing can post a result for it: no window ever had its URL) and a click mints anew.
"""
import uuid
from datetime import timedelta

from django.utils import timezone

from .accounts import resolve_account
from .conf import proxy_settings
from .launches import FRAMED_MODES, open_launch, premint_key
from .limits import limits_cache
from .models import Launch

# What CYCLR_PROXY["PREMINT"] may say: None (mint on the click, as without it), "intent" or "load".
CHOICES = (None, "intent", "load")
# Seconds a pre-mint is offered: Cyclr's URL lasts 300, and the last minute is left for the click, the proxy
# page and the frame's load (hostkit.js offers it for 200 s from its request, so never past this).
PREMINT_TTL = 240


def premint(request, *, mode, marketplace_id=None, preset=""):
    """Open a launch for the request's user as ``proxy:launch`` would, and keep its URL to be claimed; the launch.

    The launch expires after ``PREMINT_TTL`` unless claimed. Errors as ``open_launch``'s.
    """
    launch, url = open_launch(request, mode=mode, marketplace_id=marketplace_id, preset=preset,
                              lifetime=min(PREMINT_TTL, proxy_settings.LAUNCH_TTL))
    limits_cache().set(premint_key(launch.id), url, PREMINT_TTL)
    return launch


def claim(request, launch_id):
    """``(launch, marketplace_url)`` of the request user's fresh pre-mint ``launch_id``, taken once; else None.

    None (and the caller mints anew) for an id that is not a pre-mint of this user, for the account the resolver
    names now, still pending and unexpired, or whose URL was taken already. A claimed launch lives ``LAUNCH_TTL``
    from now, as a launch opened by the click does.
    """
    try:
        launch_id = uuid.UUID(str(launch_id))
    except ValueError:
        return None
    now = timezone.now()
    launch = Launch.objects.filter(pk=launch_id, user=request.user, status=Launch.Status.PENDING,
                                   mode__in=FRAMED_MODES, expires_at__gt=now).first()
    if launch is None or resolve_account(request).api_id != launch.account_api_id:
        return None
    cache = limits_cache()
    url = cache.get(premint_key(launch_id))
    if not url or not cache.delete(premint_key(launch_id)):  # delete answers True once: one claim per pre-mint
        return None
    launch.expires_at = now + timedelta(seconds=proxy_settings.LAUNCH_TTL)
    Launch.objects.filter(pk=launch_id).update(expires_at=launch.expires_at)
    return launch, url
