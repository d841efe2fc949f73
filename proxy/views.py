"""HTTP views: the proxy page, a launch's status, the HTTP fallback and the redirect landing."""
import logging
import re
import secrets
import uuid

from django.contrib.auth.decorators import login_not_required, login_required
from django.http import JsonResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from . import errors, limits, premint, protocol, settlement
from .bodies import read_body, read_form
from .conf import proxy_settings
from .exceptions import InvalidResult, LaunchRejected, ProxyError, RateLimited
from .launches import (FRAMED_MODES, check_next_url, launch_for_completion, launch_preset, move_to_top_level,
                       open_launch)
from .logs import loggable
from .models import Launch
from .services import accept_result

logger = logging.getLogger(__name__)

MARKETPLACE_ID = re.compile(r"[0-9]{1,9}")


def page_csp(nonce, *, frame_src="'none'", connect_src="'none'", frame_ancestors="'none'", form_action="'none'"):
    """The kit's pages run only their own nonce'd script and style, and reach only what they name."""
    return "; ".join([
        "default-src 'none'",
        f"script-src 'nonce-{nonce}'",
        f"style-src 'nonce-{nonce}'",
        f"frame-src {frame_src}",
        f"connect-src {connect_src}",
        "img-src 'self' data:",
        "base-uri 'none'",
        f"form-action {form_action}",
        f"frame-ancestors {frame_ancestors}",
    ])


def private_page(request, template, context, csp, *, referrer_policy="no-referrer"):
    """Render one of the kit's pages with its CSP; they never send a Referer to another origin."""
    response = render(request, template, context)
    response["Content-Security-Policy"] = csp
    response["Referrer-Policy"] = referrer_policy
    return response


def error_page(request, title, message, *, code="", status=400, frame_ancestors="'none'", tell_host=False):
    """The kit's error page (a sentence, and ``data-code`` for scripts and tests), with the kit's CSP.

    ``tell_host``: the page is ``proxy:launch``'s refusal in the window or frame ``Hostkit.connect()`` opened, so
    it also runs ``refusal.js``, which posts ``proxy.install.failed`` with ``code`` and the sentence to the host
    page: its promise rejects instead of waiting for a launch that was never opened.
    """
    nonce = secrets.token_urlsafe(18)
    response = private_page(request, "proxy/launch_error.html", {
        "title": title, "message": message, "code": code, "csp_nonce": nonce, "tell_host": tell_host and bool(code),
    }, page_csp(nonce, frame_ancestors=frame_ancestors))
    response.status_code = status
    return response


def json_error(exc, message_id=None):
    """A refusal as the socket's error frame, with the registry's HTTP status for its code."""
    frame = protocol.error(exc, message_id)
    return JsonResponse(frame, status=errors.status_of(frame["code"]))


def method_not_allowed(allowed_methods):
    """405 ``method_not_allowed`` in the kit's JSON, with the ``Allow`` header naming ``allowed_methods``."""
    response = json_error(ProxyError("method_not_allowed"))
    response["Allow"] = ", ".join(allowed_methods)
    return response


@require_GET
@login_required
@never_cache
@xframe_options_sameorigin  # inline mode frames the proxy page in the host's own page
def launch(request):
    """Create a launch, mint its Marketplace URL and render the proxy page that frames it."""
    # Every refusal with a code is told to the host page too (tell_host): no launch was opened, so nothing else
    # would ever settle its Hostkit.connect() call.
    refused = not_a_navigation_page(request, tell_host=True)  # before anything is read, counted or written
    if refused is not None:
        return refused
    if "premint" in request.GET:  # a launch minted before the click (proxy.premint), counted then
        claimed = premint.claim_ticket(request, request.GET["premint"])
        if claimed is not None:
            return proxy_page(request, *claimed)
        # Stale, taken or not this person's: the click mints anew, with the launch's own parameters (below).
    mode = request.GET.get("mode", Launch.Mode.POPUP)
    if mode not in Launch.Mode.values:
        return error_page(request, _("Unknown mode"),
                          _("Mode %(mode)s is not supported here; use one of: %(modes)s.")
                          % {"mode": repr(mode), "modes": ", ".join(Launch.Mode.values)},
                          frame_ancestors="'self'")
    marketplace_id = request.GET.get("marketplace") or None
    if marketplace_id is not None:
        # ASCII digits only: str.isdigit() also takes "²", on which int() raises.
        if not MARKETPLACE_ID.fullmatch(marketplace_id) or int(marketplace_id) == 0:
            return error_page(request, _("Unknown Marketplace"),
                              _("The marketplace parameter must be a Marketplace id (a number)."),
                              frame_ancestors="'self'")
        marketplace_id = int(marketplace_id)
        if marketplace_id not in offered_marketplace_ids():
            return marketplace_not_offered_page(request, marketplace_id, tell_host=True)
    next_url = request.GET.get("next") or ""
    if next_url:
        try:
            check_next_url(request, next_url, mode)
        except LaunchRejected as exc:
            return error_page(request, _("This link cannot be followed"), exc.message, code=exc.code, status=400,
                              frame_ancestors="'self'", tell_host=True)
    preset = request.GET.get("launch") or ""
    if preset:
        try:
            launch_preset(preset)
        except LaunchRejected as exc:
            return error_page(request, _("Unknown integration"), exc.message, code=exc.code, status=400,
                              frame_ancestors="'self'", tell_host=True)
    refused = launch_limit_page(request, tell_host=True)
    if refused is not None:
        return refused
    try:
        launch, marketplace_url = open_launch(request, mode=mode, marketplace_id=marketplace_id, next_url=next_url,
                                              preset=preset)
    except ProxyError as exc:  # Cyclr's API failed (CyclrAPIError), or the kit is misconfigured
        return mint_failure_page(request, exc, marketplace_id, tell_host=True)
    if launch.mode in (Launch.Mode.REDIRECT, Launch.Mode.DIRECT):
        return redirect_page(request, launch, marketplace_url, secrets.token_urlsafe(18))
    return proxy_page(request, launch, marketplace_url)


def proxy_page(request, launch, marketplace_url):
    """The proxy page of a popup or inline ``launch``: it frames ``marketplace_url`` and listens for its result."""
    nonce = secrets.token_urlsafe(18)
    # The proxy page frames the Marketplace only; inline mode frames the proxy page in the host's own page.
    # form-action: the top-level control posts to proxy:top_level (docs/framing.md).
    csp = page_csp(nonce, frame_src=launch.marketplace_origin, connect_src=f"'self' {socket_origin(request)}", frame_ancestors="'self'",
                   form_action="'self'")
    # Referrer-Policy same-origin, not no-referrer: under no-referrer a form's POST carries "Origin: null", which
    # Django's CSRF check refuses (and on https there is no Referer either), so the control could never post.
    # Nothing goes to another origin: the frame has referrerpolicy="no-referrer", and same-origin sends none there.
    return private_page(request, "proxy/launch.html", {
        "launch": launch,
        "marketplace_url": marketplace_url,
        "csp_nonce": nonce,
        "proxy_config": {
            "launch": str(launch.id),
            "marketplaceOrigins": list(proxy_settings.MARKETPLACE_ORIGINS),
            # The only origins the page's socket and the Marketplace's snippet answer: on another, it says so.
            "hostOrigins": list(proxy_settings.HOST_ORIGINS),
            "socketPath": f"/ws/proxy/launches/{launch.id}/",
            "resultUrl": reverse("proxy:result", args=[launch.id]),
            "statusUrl": reverse("proxy:status", args=[launch.id]),
            "topLevelUrl": reverse("proxy:top_level", args=[launch.id]),
            "mode": launch.mode,
            "maxResultBytes": proxy_settings.MAX_RESULT_BYTES,
            "csrfToken": get_token(request),
        },
    }, csp, referrer_policy="same-origin")


@csrf_exempt  # checked in premint_refusal, with the X-CSRFToken header (the body is never read)
@login_not_required  # checked in premint_refusal: 401 unauthenticated in JSON, not a redirect
@never_cache
def premint_view(request):
    """POST: open a launch and mint its Marketplace URL before the click (``CYCLR_PROXY["PREMINT"]``, ``proxy.premint``).

    The query is ``proxy:launch``'s (``mode`` popup or inline, ``marketplace``, ``launch``); the header
    ``X-Premint`` names the pre-mint (a ticket, ``proxy.premint``; one is made up without it). The answer is
    ``{"launch", "url", "expires_in"}``, ``url`` being the ``proxy:launch`` address the click opens
    (``?premint=<ticket>``), which the page knows before the answer. Counted as a launch. Refusals are the kit's
    JSON error with a registered code, nothing written; ``premint_taken`` when a click opened the ticket first.
    """
    refusal = premint_refusal(request)
    if refusal is not None:
        return refusal
    # The page names its pre-mint (hostkit.js: X-Premint), so its click can open it before the mint is done.
    ticket = request.headers.get("X-Premint") or secrets.token_urlsafe(12)
    if not premint.begin(request, ticket):
        return json_error(LaunchRejected("premint_taken"))
    try:
        launch, offered_for = premint.premint(request, ticket, mode=request.GET.get("mode", Launch.Mode.POPUP),
                                              marketplace_id=int(request.GET.get("marketplace") or 0) or None,
                                              preset=request.GET.get("launch") or "")
    except RateLimited as exc:
        return rate_limited_response(exc)
    except ProxyError as exc:  # Cyclr's API failed, or the kit is misconfigured
        if errors.status_of(exc.code) >= 500:
            logger.error("Could not pre-mint a Marketplace URL: %s", loggable(exc.message))
        return json_error(exc)
    # The launch's own query too: should the pre-mint be stale by the click, the click mints with it anew.
    query = request.GET.copy()
    query["premint"] = ticket
    return JsonResponse({"launch": str(launch.id), "url": f"{reverse('proxy:launch')}?{query.urlencode()}",
                         "expires_in": offered_for})


def premint_refusal(request):
    """The JSON refusal of a pre-mint before anything is counted or written, or None to go on.

    In order: the method (405), the session (401), CSRF (403 ``csrf_failed``), the ``X-Premint`` header's ticket
    (``malformed``), then the query: ``mode`` must be
    popup or inline (``premint_mode``: the other modes' windows carry a nonce made with the launch), ``marketplace``
    one this site offers (``marketplace_not_offered``), ``launch`` a preset's name (``unknown_preset``), and no
    ``next`` (``next_not_allowed``: only redirect mode goes back to a page).
    """
    if request.method != "POST":
        return method_not_allowed(("POST",))
    if not request.user.is_authenticated:
        return json_error(ProxyError("unauthenticated"))
    if csrf_rejected(request):
        return json_error(ProxyError("csrf_failed"))
    ticket = request.headers.get("X-Premint")
    if ticket is not None and not premint.TICKET.fullmatch(ticket):
        return json_error(ProxyError("malformed", _("The X-Premint header must be 1-64 letters, digits, '-' or '_'.")))
    query = request.GET
    if query.get("mode", Launch.Mode.POPUP) not in FRAMED_MODES:
        return json_error(LaunchRejected("premint_mode"))
    marketplace = query.get("marketplace") or None
    if marketplace is not None and not (MARKETPLACE_ID.fullmatch(marketplace)
                                        and int(marketplace) in offered_marketplace_ids()):
        return json_error(LaunchRejected("marketplace_not_offered"))
    try:
        if query.get("next"):
            check_next_url(request, query["next"], query.get("mode", Launch.Mode.POPUP))
        if query.get("launch"):
            launch_preset(query["launch"])
    except LaunchRejected as exc:
        return json_error(exc)
    return None


def mint_failure_page(request, exc, marketplace_id=None, *, tell_host=False):
    """The error page for a launch whose Marketplace URL could not be minted (Cyclr's API, or the settings)."""
    logger.error("Could not open the Marketplace: %s", loggable(exc.message))  # may quote Cyclr's answer
    status = errors.status_of(exc.code)  # 502: Cyclr's API failed; 500: the kit is misconfigured
    if exc.code == "marketplace_not_found":  # a wrong id in the settings: waiting will not fix it
        message = (_("Cyclr does not know Marketplace %(marketplace)s. Please tell the site's administrator: the "
                     "Marketplace id in its settings is wrong.")
                   % {"marketplace": marketplace_id or proxy_settings.MARKETPLACE_ID})
    elif status == 502:
        message = _("Cyclr did not give us a Marketplace link just now. Close this window and try again in a minute.")
    else:  # the details are in the server log, for the administrator
        message = errors.default_message("origin_not_allowed")
    return error_page(request, _("The Marketplace could not be opened"), message, code=exc.code, status=status,
                      frame_ancestors="'self'", tell_host=tell_host)


def socket_origin(request):
    """The origin of the page's own WebSocket: this request's host, over ``wss`` when it came over https, else ``ws``.

    The proxy page opens its socket on its own origin (``location.origin`` with ``ws`` for ``http``); ``'self'``
    does not cover ``ws:`` in every browser, and ``ws: wss:`` would let the page reach any host.
    ``get_host()`` is checked against ``ALLOWED_HOSTS``, so it is a bare host and port.
    """
    return f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"


def offered_marketplace_ids():
    """The Marketplace ids ``?marketplace=`` may name: ``MARKETPLACE_IDS`` and always ``MARKETPLACE_ID``."""
    return {*(proxy_settings.MARKETPLACE_IDS or ()), proxy_settings.MARKETPLACE_ID}


def marketplace_not_offered_page(request, marketplace_id, *, tell_host=False):
    """400 for a Marketplace id off the allow-list, before any call to Cyclr."""
    return error_page(request, _("This Marketplace is not offered here"),
                      _("Marketplace %(marketplace)s is not one this site offers. Start again from the site's Connect "
                        "button.") % {"marketplace": marketplace_id},
                      code="marketplace_not_offered", status=errors.status_of("marketplace_not_offered"),
                      frame_ancestors="'self'", tell_host=tell_host)


# Fetch Metadata (https://www.w3.org/TR/fetch-metadata/): what a browser says it is loading the page as.
NAVIGATION_DESTINATIONS = ("document", "iframe")


def not_a_navigation_page(request, *, tell_host=False):
    """The 403 page (``not_a_navigation``) for a request a browser says is not a navigation to a page, else None.

    ``proxy:launch`` and ``proxy:orbit`` create a row and call Cyclr on a GET, so an ``<img>``, a ``<script>`` or a
    ``fetch()`` on any same-site page could run them with the person's cookies. A request whose ``Sec-Fetch-Dest``
    is present and is not ``document`` or ``iframe``, or whose ``Sec-Fetch-Mode`` is present and is not
    ``navigate``, is refused before anything is written or counted. Without those headers (browsers without
    Fetch Metadata, scripts, tests) the request is taken: a missing header proves nothing either way.
    """
    dest = request.headers.get("Sec-Fetch-Dest")
    mode = request.headers.get("Sec-Fetch-Mode")
    if (dest is None or dest in NAVIGATION_DESTINATIONS) and (mode is None or mode == "navigate"):
        return None
    return error_page(request, _("This page cannot be loaded this way"), errors.default_message("not_a_navigation"),
                      code="not_a_navigation", status=errors.status_of("not_a_navigation"), frame_ancestors="'self'",
                      tell_host=tell_host)


def launch_limit_page(request, *, tell_host=False):
    """The 429 page when the user has launched too often (each launch is a Cyclr API call), else None."""
    return limit_page(request, limits.LAUNCHES, _("Too many launches"), tell_host=tell_host)


def limit_page(request, kind, title, *, tell_host=False):
    """Count one of the user's ``kind``: the 429 page with ``Retry-After`` past its limit, else None."""
    try:
        limits.count(kind, request.user)
    except RateLimited as exc:
        response = error_page(request, title, exc.message, code=exc.code, status=errors.status_of(exc.code),
                              frame_ancestors="'self'", tell_host=tell_host)
        response["Retry-After"] = str(exc.retry_after)
        return response
    return None


def rate_limited_response(exc, message_id=None):
    """429 JSON for the delivery doors, with ``Retry-After``."""
    response = json_error(exc, message_id)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


def redirect_page(request, launch, marketplace_url, csp_nonce):
    """Redirect and direct modes: send this window to the Marketplace at top level.

    Redirect mode cuts ``window.opener`` first (``cutOpener``); direct mode keeps it, so the
    Launch Complete snippet can post to the host page as in Cyclr's own pattern. Either way,
    with no parent and no opener the snippet sends the window to ``proxy:complete``, and the
    page keeps ``launch`` and ``nonce`` (sessionStorage) to bind the result it posts there.
    """
    config = {
        "url": marketplace_url,
        "launch": str(launch.id),
        "nonce": launch.nonce,
        "cutOpener": launch.mode == Launch.Mode.REDIRECT,
    }
    response = private_page(request, "proxy/redirect.html", {"csp_nonce": csp_nonce, "redirect_config": config},
                            page_csp(csp_nonce))
    if launch.mode == Launch.Mode.DIRECT:
        # Leaving for the Marketplace from a page under COOP same-origin (Django's default) would cut the
        # opener the snippet posts to; the host page itself needs same-origin-allow-popups
        # (docs/modes-and-windows.md).
        response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response


# A top-level move's body is one field, the CSRF token: anything much larger is not the kit's page.
TOP_LEVEL_FORM_MAX_BYTES = 4096


@csrf_exempt  # checked in top_level_refusal, reading the small form within its own limit (proxy.bodies)
@login_not_required  # checked in top_level_refusal: a sentence and a code, not a redirect that loses the POST
@never_cache
@xframe_options_sameorigin  # the refusal pages may show in an inline proxy page's own window
def top_level(request, launch_id):
    """POST (the proxy page's control, a form with the CSRF token): carry a pending framed launch to top level.

    Where the framed Marketplace cannot work (third-party cookies blocked, framing refused: docs/framing.md),
    the proxy page posts here; the launch is re-minted (Cyclr's URLs work once), becomes a redirect-mode
    launch with a nonce, and this window goes on to the Marketplace as redirect mode's does, its result
    ending on ``proxy:complete``. Every refusal is the kit's error page with a registered code.
    """
    refusal = top_level_refusal(request)
    if refusal is not None:
        response = error_page(request, _("The Marketplace could not be opened here"), refusal.message, code=refusal.code,
                              status=errors.status_of(refusal.code), frame_ancestors="'self'")
        if refusal.code == "method_not_allowed":
            response["Allow"] = "POST"
        return response
    refused = launch_limit_page(request)  # each move mints a URL through Cyclr's API, as a launch does
    if refused is not None:
        return refused
    try:
        launch, marketplace_url = move_to_top_level(request, launch_id)
    except LaunchRejected as exc:
        return error_page(request, _("The Marketplace could not be opened here"), exc.message, code=exc.code,
                          status=errors.status_of(exc.code), frame_ancestors="'self'")
    except ProxyError as exc:  # Cyclr's API failed, or the kit is misconfigured
        return mint_failure_page(request, exc)
    return redirect_page(request, launch, marketplace_url, secrets.token_urlsafe(18))


def top_level_refusal(request):
    """The ``ProxyError`` refusing a move to top level before anything is read, or None to go on.

    In order: the method (``method_not_allowed``), the session (``unauthenticated``), the body's size
    (``too_large``), its type and fields (``unsupported_media_type``, ``malformed``), then Django's CSRF
    check with the form's token (``csrf_failed``).
    """
    if request.method != "POST":
        return ProxyError("method_not_allowed")
    if not request.user.is_authenticated:
        return ProxyError("unauthenticated")
    try:
        form = read_form(request, TOP_LEVEL_FORM_MAX_BYTES)
    except InvalidResult as exc:
        return exc
    if csrf_rejected(request, form_token=form.get("csrfmiddlewaretoken")):
        return ProxyError("csrf_failed")
    return None


@require_GET
@login_required
@never_cache
def status(request, launch_id):
    """The launch's status and normalized result, for its owner (anyone else: 404 ``not_found``)."""
    launch = protocol.with_last_refusal(Launch.objects.filter(pk=launch_id, user=request.user)).first()
    if launch is None:
        return json_error(LaunchRejected("not_found"))
    return JsonResponse({
        "launch": str(launch.id),
        "status": protocol.status_of(launch),  # as the ack says it
        "result": launch.result,
        "reason": protocol.reason_of(launch),
        "refusal": protocol.refusal_of(launch),
        "created_at": launch.created_at.isoformat(),
        "expires_at": launch.expires_at.isoformat(),
        "completed_at": launch.completed_at.isoformat() if launch.completed_at else None,
    })


def read_result_message(request):
    """The ``{"type": "result", ...}`` message in a POST body (read within ``MAX_RESULT_BYTES``), or ``InvalidResult``."""
    return protocol.parse_result_message(read_body(request, proxy_settings.MAX_RESULT_BYTES))


# --- the result doors: proxy:result and proxy:complete's POST --------------------------------------------
#
# Both are csrf_exempt and login_not_required, and do those checks themselves (door_refusal): Django's
# CsrfViewMiddleware reads request.POST before the view, so a form body it cannot parse (too many fields,
# past DATA_UPLOAD_MAX_MEMORY_SIZE, a bad multipart boundary, a charset other than UTF-8) made it raise before
# the view: an HTML 400 with a traceback in the log, or a 500 once Django's error handler read the body again.
# LoginRequiredMiddleware would answer a signed-out page with a redirect to the login page, not the kit's JSON.

JSON_MEDIA_TYPE = "application/json"


def csrf_rejected(request, form_token=None) -> bool:
    """True if ``request`` fails Django's CSRF check (Origin, Referer on https, the token), run without a form.

    The form data is set first (``request.POST``, which every request class lets one assign), so the check
    never parses the body: the token counts from the ``X-CSRFToken`` header, which is how the kit's pages send
    it (a JSON body has no form field anyway), or from ``form_token``, a ``csrfmiddlewaretoken`` the caller read
    from the body itself (ORBIT's beacon).
    """
    form = QueryDict(mutable=True)
    if form_token is not None:
        form["csrfmiddlewaretoken"] = form_token
    request.POST = form
    return CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {}) is not None


def door_refusal(request, allowed_methods):
    """The kit's JSON refusal for a request a result door must not read, or None to go on.

    In order: the method (405 ``method_not_allowed``), the session (401 ``unauthenticated``: a signed-out
    page learns that, whatever else is wrong), CSRF (403 ``csrf_failed``), the content type (415
    ``unsupported_media_type``: the message is JSON; a form or multipart body is never parsed).
    """
    if request.method != "POST":
        return method_not_allowed(allowed_methods)
    if not request.user.is_authenticated:
        return json_error(ProxyError("unauthenticated"))
    if csrf_rejected(request):
        return json_error(ProxyError("csrf_failed"))
    if request.content_type != JSON_MEDIA_TYPE:
        return json_error(ProxyError("unsupported_media_type"))
    return None


def deliver_over_http(request, find_launch, *, allowed_methods=("POST",), with_next=False):
    """Check the request, read the message, find its launch with ``find_launch(message)``, accept it; answer as the socket does.

    ``with_next`` adds ``"next"`` to the ack: where the window goes back to (None: close it).
    """
    refusal = door_refusal(request, allowed_methods)
    if refusal is not None:
        return refusal
    message_id = None
    try:
        limits.count(limits.DELIVERIES, request.user)  # before the body is read: every POST costs
        message = read_result_message(request)
        message_id = message["id"]
        launch_id = find_launch(message)
        with settlement.holding() as held:
            outcome = accept_result(launch_id, message["result"], source="http", user=request.user,
                                    message_id=message_id)
    except RateLimited as exc:
        return rate_limited_response(exc, message_id)
    except ProxyError as exc:  # InvalidResult, LaunchRejected: their codes' statuses (proxy.errors)
        return json_error(exc, message_id)
    ack = protocol.ack(outcome.launch, message_id)
    if with_next:
        ack["next"] = outcome.launch.next_url or None
    return Ack(ack, held)


class Ack(JsonResponse):
    """An HTTP door's ack: the settlement its arrival scheduled starts once the server has sent it.

    Servers call ``close()`` after the last byte (WSGI and ASGI alike; Django's test client at once);
    a middleware that swaps the response for another leaves this one to the garbage collector, which
    releases it too (``settlement.Held``).
    """

    def __init__(self, data, held):
        super().__init__(data)
        self.held = held

    def close(self):
        try:
            super().close()
        finally:
            self.held.release()


@csrf_exempt  # checked in door_refusal, without parsing the body as a form
@login_not_required  # checked in door_refusal: 401 unauthenticated in JSON, not a redirect
@never_cache
def result(request, launch_id):
    """HTTP fallback: the same message as the socket's, answered with the same ack or error."""
    return deliver_over_http(request, lambda message: launch_id)


@csrf_exempt  # the POST is checked in door_refusal, without parsing the body as a form
@login_not_required  # the GET page keeps login_required; the POST answers unauthenticated in JSON
@never_cache
def complete(request):
    """Redirect and direct modes: the Launch Complete snippet sends a window with neither parent nor opener here.

    The result travels in the URL fragment (never sent to a server); the page's script posts it
    back here as ``{"type": "result", "id", "result", "launch", "nonce"}``. Any site can send a
    browser here, so only a launch the kit started is taken (see ``launch_for_completion``):
    a redirect- or direct-mode launch of this user, bound by the signed ``completeParameter`` or
    by ``launch`` + ``nonce``. A result the server already holds for that launch (Cyclr's
    webhook came first) is the same install: acked as a duplicate with the stored status.
    The ack carries ``next``: the page to go back to in same-tab redirect mode, else None.
    """
    if request.method == "GET":
        return complete_page(request)
    return deliver_over_http(request, lambda message: launch_for_completion(request.user, message).pk,
                             allowed_methods=("GET", "POST"), with_next=True)


@login_required
def complete_page(request):
    """The page proxy:complete shows: its script posts the result in the fragment back to proxy:complete."""
    nonce = secrets.token_urlsafe(18)
    return private_page(request, "proxy/complete.html", {
        "csp_nonce": nonce,
        "complete_config": {"csrfToken": get_token(request), "maxResultBytes": proxy_settings.MAX_RESULT_BYTES,
                            # proxy:status for a launch, once the ack names it: the page puts its id in.
                            "statusUrl": reverse("proxy:status", args=[uuid.UUID(int=0)])},
    }, page_csp(nonce, connect_src="'self'"))
