"""Pre-minting: a launch and its Marketplace URL made just before the click (``CYCLR_PROXY["PREMINT"]``).

Minting takes a Cyclr API call (hundreds of milliseconds on a real Cyclr), which ``proxy:launch`` otherwise makes
after the click, while the person watches an empty window. With ``PREMINT``, the Connect button asks
``proxy:premint`` (a POST with the CSRF token) when the person shows the intent to click ("intent": the pointer on
the button, a touch, its focus) or when the page loads ("load"), naming it with a ticket; the click then opens
``proxy:launch?premint=<ticket>``, which renders the URL minted already, or waits for the mint under way
(docs/modes-and-windows.md, "Pre-minting").

What binds a launch is unchanged (docs/security.md): the launch row is the signed-in person's, for the account the
resolver names, made and counted (``limits.LAUNCHES``) when it is minted; the browser only names it back, and
``claim`` takes it only for the same person and account, once, while it is fresh. Cyclr's URL works for five
minutes and once (docs/cyclr-api.md): a pre-mint is offered for ``PREMINT_TTL`` seconds, or less where Cyclr's
``ExpiresAtUtc`` leaves less (``offer_seconds``), then its launch expires unopened (nothing can post a result for
it: no window ever had its URL) and a click mints anew.
"""
import logging
import re
import time
import uuid
from datetime import timedelta

from django.utils import timezone

from . import limits
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
# Seconds of a URL's life kept back for the click, the proxy page and the frame's load, where Cyclr says when it expires.
LOAD_MARGIN = 60

logger = logging.getLogger(__name__)


# A ticket names a pre-mint before its launch exists: the page's own random name for it, in the person's own
# namespace (the cache key holds the user's pk), so a click can open proxy:launch?premint=<ticket> at once, even
# while the mint is under way. Whoever takes a ticket first owns it (cache.add): the pre-mint, or a click that came
# before it (which then mints itself, and the late pre-mint is refused: one launch per click).
TICKET = re.compile(r"[A-Za-z0-9_-]{1,64}")
PENDING, CLICKED = "pending", "clicked"
# Seconds a click waits for its pre-mint's mint under way: past Cyclr's own timeouts (API_TIMEOUT, 5 + 15 s).
WAIT = 30
POLL = 0.01


def ticket_key(user, ticket) -> str:
    return f"proxy.premint.ticket.{user.pk}.{ticket}"


def begin(request, ticket) -> bool:
    """Take ``ticket`` for a pre-mint of the request's user; False if it was taken already (by a click, or twice)."""
    return limits_cache().add(ticket_key(request.user, ticket), PENDING, WAIT * 2)


def offer_seconds(expires_at, now):
    """Seconds a URL that Cyclr says expires at ``expires_at`` (None: it did not say) may be offered from ``now``:
    ``PREMINT_TTL`` at most, and ``LOAD_MARGIN`` short of its expiry; 0 for a URL that leaves no time to offer it."""
    if expires_at is None:
        return PREMINT_TTL
    try:
        left = (expires_at - now).total_seconds()
    except (OverflowError, TypeError):
        return PREMINT_TTL
    return max(0, min(PREMINT_TTL, int(left) - LOAD_MARGIN))


def premint(request, ticket, *, mode, marketplace_id=None, preset=""):
    """Open a launch for the request's user as ``proxy:launch`` would, and keep its URL for ``ticket``; ``(launch,
    seconds it is offered)``.

    Counted by the launches limit (``RateLimited``). The launch expires after ``PREMINT_TTL`` (or the shorter time
    Cyclr's ``ExpiresAtUtc`` leaves, ``offer_seconds``) unless claimed; a URL with no time left is not offered, and the
    click mints anew. Errors as ``open_launch``'s. On any error the ticket is let go, so a click waiting on it mints itself.
    """
    cache = limits_cache()
    lifetime = min(PREMINT_TTL, proxy_settings.LAUNCH_TTL)
    try:
        limits.count(limits.LAUNCHES, request.user)
        launch, url = open_launch(request, mode=mode, marketplace_id=marketplace_id, preset=preset, lifetime=lifetime)
    except BaseException:
        cache.set(ticket_key(request.user, ticket), CLICKED, PREMINT_TTL)
        raise
    offer = min(lifetime, offer_seconds(launch.url_expires_at, launch.created_at))
    if offer < lifetime:
        # Cyclr's URL expires sooner than a pre-mint is kept: the launch expires with its offer, so that no
        # notification is bound to a launch no window can open (proxy.launches.newest_open_launch).
        launch.expires_at = launch.created_at + timedelta(seconds=offer)
        Launch.objects.filter(pk=launch.pk).update(expires_at=launch.expires_at)
    if offer:
        cache.set(premint_key(launch.id), url, offer)
    else:
        logger.warning("Cyclr's URL for launch %s expires at %s, less than %s s from now by this server's clock: it is "
                       "not offered before the click, which mints anew. Is this server's clock right?",
                       launch.pk, launch.url_expires_at, LOAD_MARGIN)
    cache.set(ticket_key(request.user, ticket), str(launch.id), PREMINT_TTL)
    return launch, offer


def claim_ticket(request, ticket):
    """``claim`` the pre-mint ``ticket`` names, once its mint is done (waiting up to ``WAIT`` for one under way); None
    for a ticket with no pre-mint, which this click then owns (a pre-mint that comes later is refused)."""
    if not isinstance(ticket, str) or not TICKET.fullmatch(ticket):
        return None
    cache = limits_cache()
    key = ticket_key(request.user, ticket)
    if cache.add(key, CLICKED, PREMINT_TTL):
        return None
    deadline = time.monotonic() + WAIT
    value = cache.get(key)
    while value == PENDING and time.monotonic() < deadline:
        time.sleep(POLL)  # the pre-mint's request, in another thread or process, is still waiting for Cyclr
        value = cache.get(key)
    return claim(request, value) if value not in (None, PENDING, CLICKED) else None


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
