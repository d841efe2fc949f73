"""``proxy:orbit``: Cyclr's ORBIT (manage installed integrations) for the person's account, framed.

GET mints a single-use ORBIT URL for the account ``ACCOUNT_RESOLVER`` names and renders a page that
frames it (its origin must be one of ``MARKETPLACE_ORIGINS``). When that page goes away it POSTs
here (a beacon); the POST reconciles the account with Cyclr's API, so every stop, start and
uninstall made in ORBIT reaches the installation records and the lifecycle signals even if Cyclr's
notifications are late or lost, and pushes ``{"type": "proxy.integrations.changed", "ok", "changes", "errors"}``
(``changes`` and ``errors`` are lists of sentences) to the person's pages over ``ws/proxy/events/``.

``Hostkit.manage()`` names each ORBIT window it opens with a ``session`` (``?session=`` on the GET, a field of
the beacon's form; 1 to 32 lowercase letters and digits, anything else is dropped). The answer carries it, and
is kept in the person's Django session, so that ``GET proxy/orbit/<session>/`` (``proxy:orbit_changes``) can
answer it again: the page asks there when the push does not come (a socket down, a push lost).

The POST is ``csrf_exempt`` and ``login_not_required`` and checks both itself (``read_close_notice``), like the
result doors: Django's ``CsrfViewMiddleware`` would parse the body as a form before the view, and a body it
cannot parse (too many fields, too large, a bad multipart boundary) got Django's HTML 400. The beacon's body
is a small form carrying only the CSRF token; it is read by the doors' one bounded reader (``proxy.bodies``), up
to ``CLOSE_NOTICE_MAX_BYTES``, and every refusal is the kit's JSON with a registered code.
"""
import logging
import re
import secrets

from django.contrib.auth.decorators import login_not_required, login_required
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from . import limits
from .accounts import resolve_account
from .bodies import read_form
from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import CyclrAPIError, ProxyError, RateLimited
from .logs import loggable
from .push import push_to_user
from .origins import origin_of
from .reconcile import reconcile
from .views import (csrf_rejected, error_page, json_error, limit_page, method_not_allowed, not_a_navigation_page,
                    page_csp, private_page, rate_limited_response)

logger = logging.getLogger(__name__)

CHANGED = "proxy.integrations.changed"
# Names one ORBIT window (Hostkit.manage's id()); the person's Django session keeps the last one's answer here.
SESSION = re.compile(r"[0-9a-z]{1,32}")
SESSION_KEY = "proxy_orbit"


# The close notice is one field, the CSRF token (64 characters): anything much larger is not the kit's page.
CLOSE_NOTICE_MAX_BYTES = 4096
METHODS = ("GET", "POST")


@csrf_exempt  # the POST checks CSRF in read_close_notice, reading the body within its own limit
@login_not_required  # the GET keeps login_required (orbit_page); the POST answers unauthenticated in JSON
@never_cache
@xframe_options_sameorigin
def orbit(request):
    """GET: the ORBIT page for the person's account. POST: it closed; reconcile the account and tell the pages."""
    if request.method == "POST":
        return orbit_closed(request)
    if request.method != "GET":
        return method_not_allowed(METHODS)
    return orbit_page(request)


def orbit_closed(request):
    """The ORBIT page went away: reconcile the person's account now and push what changed (JSON)."""
    try:
        form = read_close_notice(request)
    except ProxyError as exc:
        return json_error(exc)
    try:  # after the checks (a refused notice costs nothing), before the reconcile it would cost
        limits.count(limits.ORBIT_CLOSES, request.user)
    except RateLimited as exc:
        return rate_limited_response(exc)
    account = resolve_account(request)
    answer = reconcile_after_orbit(request.user, account.api_id, session_of(form.get("session")))
    if answer["session"]:
        request.session[SESSION_KEY] = answer  # for proxy:orbit_changes, if the push is lost
    return JsonResponse(answer)


@require_GET
@login_required
@never_cache
def orbit_changes(request, session):
    """The answer of the ORBIT window named ``session`` (its push, again); 404 ``orbit_unknown`` until it closed."""
    answer = request.session.get(SESSION_KEY)
    if not isinstance(answer, dict) or answer.get("session") != session:
        return json_error(ProxyError("orbit_unknown"))
    return JsonResponse(answer)


def session_of(value):
    """``value`` if it names an ORBIT window (``SESSION``), else ""."""
    return value if isinstance(value, str) and SESSION.fullmatch(value) else ""


def read_close_notice(request):
    """ORBIT's close notice as a form; raises the ``ProxyError`` refusing it.

    In order: the session (``unauthenticated``), the body's size (``too_large`` past
    ``CLOSE_NOTICE_MAX_BYTES``), its type (``unsupported_media_type``: a body, if any, is a form; the page's
    beacon sends one with the CSRF token, since ``sendBeacon`` cannot set a header), its fields (``malformed``
    past ``DATA_UPLOAD_MAX_NUMBER_FIELDS``), then Django's CSRF check (``csrf_failed``) with the form's token, or
    the ``X-CSRFToken`` header when the form has none.
    """
    if not request.user.is_authenticated:
        raise ProxyError("unauthenticated")
    form = read_form(request, CLOSE_NOTICE_MAX_BYTES, allow_empty=True)  # InvalidResult is a ProxyError
    if csrf_rejected(request, form_token=form.get("csrfmiddlewaretoken")):
        raise ProxyError("csrf_failed")
    return form


@login_required
def orbit_page(request):
    refused = not_a_navigation_page(request) or limit_page(request, limits.ORBITS, _("Too many openings of your integrations"))
    if refused is not None:  # before the ORBIT URL is minted: a refused load costs no Cyclr call
        return refused
    account = resolve_account(request)
    try:
        minted = CyclrClient().mint_orbit_url(account.api_id)
    except CyclrAPIError as exc:
        logger.error("Could not open ORBIT: %s", loggable(exc.message))  # may quote Cyclr's answer
        return _error_page(request, _("Cyclr did not give us a link to your integrations just now. Close this window "
                                      "and try again in a minute."), exc.code, 502)
    origin = origin_of(minted.url)
    if origin not in proxy_settings.MARKETPLACE_ORIGINS:
        logger.error('ORBIT is served from %s, which is not in CYCLR_PROXY["MARKETPLACE_ORIGINS"]', loggable(origin))
        return _error_page(request, _("This site is not set up to manage integrations yet. Please tell the site's "
                                      "administrator."), "origin_not_allowed", 500)
    nonce = secrets.token_urlsafe(18)
    config = {"closeUrl": reverse("proxy:orbit"), "csrfToken": get_token(request),
              "session": session_of(request.GET.get("session"))}
    csp = page_csp(nonce, frame_src=origin, connect_src="'self'", frame_ancestors="'self'")
    return private_page(request, "proxy/orbit.html",
                        {"csp_nonce": nonce, "orbit_url": minted.url, "orbit_config": config}, csp)


def reconcile_after_orbit(user, account_api_id, session=""):
    """Reconcile one account now and push what changed to the user's event sockets; the JSON answer.

    ``session`` names the ORBIT window that closed ("" if none), for the page that waits on it.
    """
    report = reconcile(account_api_id=account_api_id)
    # The errors' sentences, not a count: the page that asked (Hostkit.manage) shows them to the person.
    answer = {"type": CHANGED, "session": session, "ok": report.ok, "changes": report.lines,
              "errors": list(report.errors)}
    push_to_user(user.pk, answer)
    return answer


def _error_page(request, message, code, status):
    return error_page(request, _("Your integrations could not be opened"), message, code=code, status=status,
                      frame_ancestors="'self'")
