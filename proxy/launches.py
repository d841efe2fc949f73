"""Opening a launch (the row, the signed CompleteParameter, the nonce, the Marketplace URL), and binding a result
posted to ``proxy:complete`` back to the launch it completes."""
import hashlib
import re
import secrets
import uuid
from datetime import timedelta

from django.core import signing
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from .accounts import account_q, learned_guid, resolve_account
from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import InvalidResult, LaunchRejected, ProxyError
from .limits import limits_cache
from .models import Launch
from .origins import origin_of

SALT = "proxy.launch"
# The modes whose window may end on proxy:complete: the Marketplace runs at top level there, so a
# severed opener (COOP) leaves the snippet no window to post to. Popup and inline results never go there.
COMPLETABLE_MODES = (Launch.Mode.REDIRECT, Launch.Mode.DIRECT)
MAX_NEXT_LENGTH = 2048
MAX_NONCE_LENGTH = 128


def hash_nonce(nonce) -> str:
    """What is stored of a launch nonce: its SHA-256 (hex). The nonce is random, so no slow hash is needed."""
    return hashlib.sha256(nonce.encode("utf-8", "surrogatepass")).hexdigest()


def nonce_matches(launch, nonce) -> bool:
    """True if ``nonce`` is the one issued to ``launch``'s window (compared in constant time)."""
    if not launch.nonce_hash or not isinstance(nonce, str) or not nonce:
        return False
    return constant_time_compare(hash_nonce(nonce), launch.nonce_hash)


def check_next_url(request, next_url, mode):
    """``LaunchRejected`` unless ``next_url`` may be where ``proxy:complete`` sends a ``mode`` launch back to.

    Only same-tab redirect mode goes back anywhere, and only to this site: the request's own host,
    over https when the request is (Django's ``url_has_allowed_host_and_scheme``, which refuses
    other hosts, scheme-relative ``//host``, ``javascript:`` and backslash tricks). An open
    redirect here would let any site bounce a signed-in person through the kit to anywhere.
    """
    if mode != Launch.Mode.REDIRECT:
        raise LaunchRejected("next_not_allowed", _("Only mode=redirect goes back to a next page; leave next out of this link."))
    # Control characters (NUL among them, which PostgreSQL cannot even store) are no part of a page address.
    safe = len(next_url) <= MAX_NEXT_LENGTH and next_url.isprintable() and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    if not safe:
        raise LaunchRejected("unsafe_next", _("The next page must be a page of this site. "
                                              "Go back to the app and connect from there."))


def sign_launch_id(launch_id) -> str:
    """The ``CompleteParameter``: the launch id, signed so Cyclr's echo of it can be trusted."""
    return signing.dumps(str(launch_id), salt=SALT, compress=False)


def unsign_launch_id(value):
    """The launch id inside a ``CompleteParameter``; ``LaunchRejected`` if it was tampered with."""
    try:
        return uuid.UUID(signing.loads(value, salt=SALT))
    except (signing.BadSignature, ValueError, TypeError):
        raise LaunchRejected("bad_signature") from None


PRESET_NAME = re.compile(r"[A-Za-z0-9_-]{1,50}")
# A LAUNCH preset's keys and their types; the keys become mint_launch_url's keyword arguments.
PRESET_OPTIONS = {"tags": list, "start": bool, "run_once": bool, "auto_install": bool, "single_install": bool,
                  "wizard": bool, "display_descriptions": bool}


def launch_preset(name):
    """The ``CYCLR_PROXY["LAUNCHES"]`` preset called ``name``, or ``LaunchRejected("unknown_preset")``."""
    presets = proxy_settings.LAUNCHES if isinstance(proxy_settings.LAUNCHES, dict) else {}
    if not isinstance(name, str) or not PRESET_NAME.fullmatch(name) or not isinstance(presets.get(name), dict):
        raise LaunchRejected("unknown_preset", _("This integration is not offered here. Start again from the site's "
                                                 "Connect button."))
    return {key: value for key, value in presets[name].items() if key in PRESET_OPTIONS and value is not None}


def open_launch(request, *, mode=Launch.Mode.POPUP, marketplace_id=None, next_url="", preset="", lifetime=None):
    """Create a pending launch for the request's user and mint its Marketplace URL.

    Returns ``(launch, marketplace_url)``. The URL is minted now, as the proxy page loads,
    because Cyclr's URLs last five minutes and work once. A redirect- or direct-mode launch
    also gets a nonce for its window, as ``launch.nonce`` (only its hash is stored: this is the
    one time it can be read). ``next_url`` (redirect mode only, see ``check_next_url``) is where
    ``proxy:complete`` sends the window back to; a bad one raises ``LaunchRejected`` before
    anything is minted or written. ``preset`` names a LAUNCH preset (``CYCLR_PROXY["LAUNCHES"]``):
    the URL is then minted with Cyclr's LAUNCH call, which installs the templates its tags choose.
    ``lifetime``: seconds until the launch expires (default ``LAUNCH_TTL``; a pre-mint's is shorter, ``proxy.premint``).
    When Cyclr says the URL expires (``ExpiresAtUtc``) is ``launch.url_expires_at``, not stored (None if it did not say).
    """
    if next_url:
        check_next_url(request, next_url, mode)
    options = launch_preset(preset) if preset else None
    account = resolve_account(request)
    now = timezone.now()
    nonce = secrets.token_urlsafe(32) if mode in COMPLETABLE_MODES else None
    launch = Launch(
        id=uuid.uuid4(),
        user=request.user,
        account_api_id=account.api_id,
        marketplace_id=marketplace_id or proxy_settings.MARKETPLACE_ID,
        mode=mode,
        created_at=now,
        expires_at=now + timedelta(seconds=lifetime or proxy_settings.LAUNCH_TTL),
        nonce_hash=hash_nonce(nonce) if nonce else "",
        next_url=next_url or "",
        preset=preset or "",
    )
    common = dict(
        complete_parameter=sign_launch_id(launch.id),
        account_name=account.name,
        account_description=account.description,
        inline_oauth=mode in COMPLETABLE_MODES,  # at top level; framed otherwise, where OAuth needs its own window
    )
    minted = _mint(launch, account, options, **common)
    apply_minted(launch, minted)
    launch.save(force_insert=True)
    launch.nonce, launch.url_expires_at = nonce, minted.expires()
    return launch, minted.url


def _mint(launch, account, options, **common):
    """Mint ``launch``'s URL: Cyclr's LAUNCH call for a preset's ``options``, else the Marketplace call."""
    client = CyclrClient()
    if options is not None:
        return client.mint_launch_url(account.api_id, **options, **common)
    return client.mint_marketplace_url(account.api_id, marketplace_id=launch.marketplace_id, **common)


def apply_minted(launch, minted):
    """Take what a mint answer says into ``launch`` (not saved): Cyclr's account id and the Marketplace's origin.

    ``ProxyError("origin_not_allowed")`` if that origin is not in ``MARKETPLACE_ORIGINS``.
    """
    # Documented as the API id, once shown as the GUID (docs/cyclr-api.md): only a GUID teaches anything.
    launch.cyclr_account_id = learned_guid(minted.account_id, launch.account_api_id) or launch.cyclr_account_id
    launch.marketplace_origin = origin_of(minted.url)
    if launch.marketplace_origin not in proxy_settings.MARKETPLACE_ORIGINS:
        # Framing it would be pointless: the proxy page would refuse every result it posts.
        raise ProxyError(
            "origin_not_allowed",
            f"Cyclr's Marketplace is served from {launch.marketplace_origin}, which is not in "
            'CYCLR_PROXY["MARKETPLACE_ORIGINS"]: add it there, exactly as written here.',
        )


# The modes whose Marketplace is framed: where the frame cannot work (third-party cookies blocked, framing
# refused), the same launch goes on at top level (docs/framing.md).
FRAMED_MODES = (Launch.Mode.POPUP, Launch.Mode.INLINE)


def move_to_top_level(request, launch_id):
    """Carry the request user's pending, framed launch to the Marketplace at top level; ``(launch, url)``.

    Cyclr's URL works once and for five minutes, and the framed one was spent: so mint a new one, for the
    same account, Marketplace or preset and the same signed ``CompleteParameter`` (one launch, one record),
    with ``InlineOAuth`` (at top level, OAuth runs in place). The launch becomes a redirect-mode launch
    with a nonce for its window (``launch.nonce``), so its result ends on ``proxy:complete`` as redirect
    mode's does. ``LaunchRejected`` (nothing written): ``not_found`` (no such launch of this user),
    ``expired``, ``not_pending`` (it has its result), ``wrong_mode`` (already at top level),
    ``account_mismatch`` (the resolver now names another account). Cyclr's errors raise as for
    ``open_launch``.
    """
    launch = Launch.objects.filter(pk=launch_id, user=request.user).first()
    if launch is None:
        raise LaunchRejected("not_found", _("There is no such launch of yours. Start again from the Connect button."))
    launch.nonce = None
    _check_movable(launch)
    account = resolve_account(request)
    if account.api_id != launch.account_api_id:
        raise LaunchRejected("account_mismatch", _("This launch was opened for another Cyclr account than yours now. "
                                                   "Start again from the Connect button."))
    options = launch_preset(launch.preset) if launch.preset else None
    minted = _mint(launch, account, options, complete_parameter=sign_launch_id(launch.id),
                   account_name=account.name, account_description=account.description, inline_oauth=True)
    apply_minted(launch, minted)
    nonce = secrets.token_urlsafe(32)
    # Only a launch that is still pending and framed moves: a result (or another move) that came meanwhile wins.
    moved = Launch.objects.filter(pk=launch.pk, status=Launch.Status.PENDING, mode__in=FRAMED_MODES,
                                  expires_at__gt=timezone.now()).update(
        mode=Launch.Mode.REDIRECT, nonce_hash=hash_nonce(nonce), cyclr_account_id=launch.cyclr_account_id,
        marketplace_origin=launch.marketplace_origin)
    if not moved:
        launch.refresh_from_db()
        _check_movable(launch)
    launch.mode, launch.nonce_hash, launch.nonce = Launch.Mode.REDIRECT, hash_nonce(nonce), nonce
    return launch, minted.url


def _check_movable(launch):
    if launch.is_expired:
        raise LaunchRejected("expired")
    if launch.status != Launch.Status.PENDING:
        raise LaunchRejected("not_pending", _("This launch already has its result: there is nothing left to open. "
                                              "Close this window and check your integrations in the app."))
    if launch.mode not in FRAMED_MODES:
        raise LaunchRejected("wrong_mode", _("This launch already runs the Marketplace at top level. "
                                             "Close this window and connect again."))


def launch_for_completion(user, message):
    """The launch a result posted to ``proxy:complete`` completes, or ``LaunchRejected`` (nothing written).

    ``proxy:complete`` is a page any site can send a signed-in person's browser to, so it takes
    only what the kit itself started: a redirect- or direct-mode launch of ``user``, named by
    the signed ``completeParameter`` in the result (LAUNCH flow) or by the message's ``launch``
    and ``nonce`` (the pair the opening window kept). When both are there they must agree.
    Nothing is guessed: a result that names no launch is ``unbound``.
    """
    result = message["result"]
    parameter = result.get("completeParameter")
    named, nonce = message.get("launch"), message.get("nonce")
    if named is not None and not _is_uuid(named):
        raise InvalidResult("malformed", _('The message\'s "launch" must be a launch id.'))
    if nonce is not None and (not isinstance(nonce, str) or not 0 < len(nonce) <= MAX_NONCE_LENGTH):
        raise InvalidResult("malformed", _('The message\'s "nonce" must be a string of at most %(count)s characters.')
                            % {"count": MAX_NONCE_LENGTH})
    launch_id = None
    if isinstance(parameter, str) and parameter:
        launch_id = unsign_launch_id(parameter)
    if named is not None:
        if launch_id is not None and uuid.UUID(named) != launch_id:
            raise LaunchRejected("bad_binding", _("This result belongs to another launch than the one this window opened. "
                                                  "Start again from the Connect button."))
        launch_id = uuid.UUID(named)
    elif launch_id is None:
        raise LaunchRejected("unbound", _("This result does not say which of your launches it completes, so it was not "
                                          "saved. Start again from the Connect button, in this browser."))
    launch = Launch.objects.filter(pk=launch_id).first() or _no_launch()
    if launch.user_id != user.pk:
        raise LaunchRejected("forbidden")
    if launch.mode not in COMPLETABLE_MODES:
        raise LaunchRejected("wrong_mode", _("This launch does not finish on this page: its result goes to the window "
                                             "that opened it. Close this window and check your integrations in the app."))
    if named is not None and not nonce_matches(launch, nonce):
        raise LaunchRejected("bad_nonce", _("This window is not the one that opened the launch, so the result was not "
                                            "saved. Start again from the Connect button."))
    return launch


def _is_uuid(value):
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def premint_key(launch_id) -> str:
    """The cache key (in ``LIMITS_CACHE``) of a pre-minted launch's URL while no window has opened it (``proxy.premint``)."""
    return f"proxy.premint.{launch_id}"


# How many of an account's newest pending launches newest_open_launch looks through for one a window opened.
OPEN_LOOKBACK = 20


def newest_open_launch(*, account_id="", account_api_id=""):
    """The newest pending, unexpired launch minted for an account (named by either id, see ``account_q``), or None.

    A pre-mint that no window has opened (its URL still in the cache, ``proxy.premint``) is skipped: nobody can
    be installing through it, so a notification without a ``CompleteParameter`` is not bound to it.
    """
    launches = Launch.objects.filter(account_q(account_id=account_id, account_api_id=account_api_id),
                                     status=Launch.Status.PENDING, expires_at__gt=timezone.now())
    cache = limits_cache()
    for launch in launches.order_by("-created_at")[:OPEN_LOOKBACK]:
        if not cache.has_key(premint_key(launch.pk)):
            return launch
    return None


def _no_launch():
    raise LaunchRejected("not_found", _("No launch of yours matches this result. Start again from the Connect button."))
