"""``proxy:orbit``: Cyclr's ORBIT (manage installed integrations) for the person's account, framed.

GET mints a single-use ORBIT URL for the account ``ACCOUNT_RESOLVER`` names and renders a page that
frames it (its origin must be one of ``MARKETPLACE_ORIGINS``). When that page goes away it POSTs
here (a beacon); the POST reconciles the account with Cyclr's API, so every stop, start and
uninstall made in ORBIT reaches the installation records and the lifecycle signals even if Cyclr's
notifications are late or lost, and pushes ``{"type": "proxy.integrations.changed", "changes"}``
to the person's pages over ``ws/proxy/events/``.
"""
import logging
import secrets

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods

from .accounts import resolve_account
from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import CyclrAPIError
from .notify import push_to_user
from .origins import origin_of
from .reconcile import reconcile

logger = logging.getLogger(__name__)

CHANGED = "proxy.integrations.changed"


@require_http_methods(["GET", "POST"])
@login_required
@never_cache
@xframe_options_sameorigin
def orbit(request):
    """GET: the ORBIT page for the person's account. POST: it closed; reconcile the account and tell the pages."""
    from .views import page_csp, private_page  # the kit's one CSP builder and page renderer

    account = resolve_account(request)
    if request.method == "POST":
        return JsonResponse(reconcile_after_orbit(request.user, account.api_id))
    try:
        minted = CyclrClient().mint_orbit_url(account.api_id)
    except CyclrAPIError as exc:
        logger.error("Could not open ORBIT: %s", exc.message)
        return _error_page(request, "Cyclr did not give us a link to your integrations just now. Close this window "
                                    "and try again in a minute.", exc.code, 502)
    origin = origin_of(minted.url)
    if origin not in proxy_settings.MARKETPLACE_ORIGINS:
        logger.error('ORBIT is served from %s, which is not in CYCLR_PROXY["MARKETPLACE_ORIGINS"]', origin)
        return _error_page(request, "This site is not set up to manage integrations yet. Please tell the site's "
                                    "administrator.", "origin_not_allowed", 500)
    nonce = secrets.token_urlsafe(18)
    config = {"closeUrl": reverse("proxy:orbit"), "csrfToken": get_token(request)}
    csp = page_csp(nonce, frame_src=origin, connect_src="'self'", frame_ancestors="'self'")
    return private_page(request, "proxy/orbit.html",
                        {"csp_nonce": nonce, "orbit_url": minted.url, "orbit_config": config}, csp)


def reconcile_after_orbit(user, account_api_id):
    """Reconcile one account now and push what changed to the user's event sockets; the JSON answer."""
    report = reconcile(account_api_id=account_api_id)
    answer = {"type": CHANGED, "ok": report.ok, "changes": report.lines, "errors": len(report.errors)}
    push_to_user(user.pk, answer)
    return answer


def _error_page(request, message, code, status):
    from .views import error_page  # the kit's error page, with the kit's CSP

    return error_page(request, "Your integrations could not be opened", message, code=code, status=status,
                      frame_ancestors="'self'")
