"""The fake Cyclr's HTTP side: the Partner API, the Marketplace UI, and the `FakeCyclr` service object.

Standard library only, and no Django: it runs in the pytest process beside Django and as a standalone
process for demos. By default it sets no cookies and no framing restrictions, so the Marketplace works inside a
cross-site iframe; `session_cookie=True` and `refuse_framing=True` make it sign in and refuse frames as Cyclr can.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable
from urllib.parse import parse_qs, unquote, urlencode

from . import pages
from .notifications import NotificationSender
from .state import (
    CYCLE_API_FIELDS,
    NOTIFICATION_STATUSES,
    PACKAGES,
    FakeCyclrState,
    Package,
    Session,
    format_utc,
    launch_result,
    marketplace_notification,
    marketplace_result,
    templates_tagged,
)

logger = logging.getLogger("proxy.testing.fake_cyclr")

MAX_BODY_BYTES = 1024 * 1024
# A client that sends more than this after a 413 is cut off rather than drained.
_MAX_DRAIN_BYTES = 8 * MAX_BODY_BYTES
DENIED = "Authorization has been denied for this request."
ACCOUNT_NOT_FOUND = "Account not found."
# Which id an answer carries where Cyclr's pages disagree (see `FakeCyclr`'s docstring): the documented one first.
ACCOUNT_ID_KINDS = ("api", "guid")
ACCOUNT_HEADER_KINDS = ("api_id", "id", "either")
# Exactly a Marketplace page path: no scheme, no host, no `//`, no dot segments, no query.
_RETURN_URL = re.compile(r"/launch/marketplace/([0-9]{1,9})|/launch/cycles|/orbit")
# Where each kind of minted link signs in to.
_LANDING = {"launch": "/launch/cycles", "orbit": "/orbit"}
# An account-level path: `/v1.0/accounts/{id}` and what is under it.
_ACCOUNT_PATH = re.compile(r"/v1\.0/accounts/([^/]+)")
# The calls that mint a signed-in link (mint_gate holds them).
_MINT_PATH = re.compile(r"/v1\.0/accounts/[^/]+/(?:marketplace|launch|orbit)$")
# What `instant_complete` installs: the first package, started.
INSTANT_PACKAGE_ID = 1
# The Marketplace session cookie of `FakeCyclr(session_cookie=True)`.
SESSION_COOKIE = "cyclr_session"


# --- requests and responses -----------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


class HttpError(Exception):
    """Raised by an endpoint to answer with `response` instead."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(status: int, value: object) -> Response:
    return Response(status, json.dumps(value).encode(), "application/json; charset=utf-8")


def api_error(status: int, message: str) -> HttpError:
    """A Cyclr-style error: `{"Message": "<sentence>"}`."""
    return HttpError(json_response(status, {"Message": message}))


def html_response(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/html; charset=utf-8")


def page_error(status: int, text: str) -> HttpError:
    return HttpError(html_response(status, text))


def redirect(status: int, location: str) -> Response:
    return Response(status, headers=[("Location", location)])


def _first_values(pairs: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in pairs.items()}


def parse_form(request: Request) -> dict[str, str]:
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise api_error(400, "The request body is not valid UTF-8.") from None
    return _first_values(parse_qs(text, keep_blank_values=True))


def parse_json_object(request: Request) -> dict:
    content_type = request.headers.get("Content-Type", "")
    if "json" not in content_type.lower():
        raise api_error(415, f"The request entity's media type '{content_type}' is not supported; send JSON.")
    try:
        value = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise api_error(400, "The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise api_error(400, "The request body must be a JSON object.")
    return value


# --- Partner API ------------------------------------------------------------------------------------


def issue_token(fake: FakeCyclr, request: Request) -> Response:
    form = parse_form(request)
    token = fake.state.issue_access_token(
        grant_type=form.get("grant_type", ""),
        client_id=form.get("client_id", ""),
        client_secret=form.get("client_secret", ""),
    )
    if token is None:
        raise api_error(401, "The client credentials are not valid. Check the client ID, secret and grant type.")
    return json_response(
        200, {"token_type": "bearer", "access_token": token, "expires_in": fake.state.token_expires_in}
    )


def _optional(body: dict, name: str, kind: type, kind_name: str) -> object:
    value = body.get(name)
    if value is not None and not isinstance(value, kind):
        raise api_error(400, f"{name} must be {kind_name}.")
    return value


def mint_marketplace_url(fake: FakeCyclr, request: Request) -> Response:
    account_api_id = request.params["account"]
    body = parse_json_object(request)
    marketplace_id = body.get("MarketplaceId")
    if marketplace_id is None:
        raise api_error(400, "The MarketplaceId field is required.")
    if not isinstance(marketplace_id, int) or isinstance(marketplace_id, bool):
        raise api_error(400, "MarketplaceId must be a whole number.")
    account_name = _optional(body, "AccountName", str, "a string")
    account_description = _optional(body, "AccountDescription", str, "a string")
    complete_parameter = _optional(body, "CompleteParameter", str, "a string")
    _optional(body, "ConnectorAuthentications", list, "an array")
    _optional(body, "InlineOAuth", bool, "true or false")
    if marketplace_id not in fake.state.marketplace_ids:
        raise api_error(404, f"Marketplace {marketplace_id} was not found.")
    account, token, expires_at = fake.state.mint_marketplace_token(
        account_api_id=account_api_id,
        marketplace_id=marketplace_id,
        account_name=account_name,
        account_description=account_description,
        complete_parameter=complete_parameter,
        body=body,
        headers=dict(request.headers.items()),
    )
    query = urlencode({"token": token, "returnUrl": f"/launch/marketplace/{marketplace_id}"})
    return json_response(
        200,
        {
            "MarketplaceUrl": f"{fake.url}/account/signinwithtoken?{query}",
            "AccountId": fake.minted_account_id(account),
            "Token": token,
            "ExpiresAtUtc": format_utc(expires_at),
        },
    )


LAUNCH_FLAGS = ("Start", "RunOnce", "AutoInstall", "SingleInstall", "Wizard", "DisplayDescriptions", "InlineOAuth")


def mint_launch_url(fake: FakeCyclr, request: Request) -> Response:
    """LAUNCH: a 5-minute, single-use link that installs the templates the Tags choose."""
    body = parse_json_object(request)
    tags = body.get("Tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t for t in tags):
        raise api_error(400, "Tags must be a non-empty array of strings.")
    options = {"Tags": tuple(tags)}
    for flag in LAUNCH_FLAGS:
        value = _optional(body, flag, bool, "true or false")
        if value is not None:
            options[flag] = value
    complete_parameter = _optional(body, "CompleteParameter", str, "a string")
    account, token, expires_at = _mint(fake, request, body, complete_parameter, "launch", tuple(sorted(options.items())))
    return json_response(200, {"AccountId": fake.minted_account_id(account), "ExpiresAtUtc": format_utc(expires_at),
                               "LaunchUrl": _signin_url(fake, token, "/launch/cycles"), "Token": token})


def mint_orbit_url(fake: FakeCyclr, request: Request) -> Response:
    """ORBIT: a 5-minute, single-use link to manage the account's installed integrations."""
    body = parse_json_object(request) if request.body else {}
    account, token, expires_at = _mint(fake, request, body, None, "orbit", ())
    return json_response(200, {"AccountId": fake.minted_account_id(account), "ExpiresAtUtc": format_utc(expires_at),
                               "OrbitUrl": _signin_url(fake, token, "/orbit"), "Token": token})


def _mint(fake: FakeCyclr, request: Request, body: dict, complete_parameter, kind: str, options: tuple):
    return fake.state.mint_marketplace_token(
        account_api_id=request.params["account"], marketplace_id=0,
        account_name=_optional(body, "AccountName", str, "a string"),
        account_description=_optional(body, "AccountDescription", str, "a string"),
        complete_parameter=complete_parameter, body=body, headers=dict(request.headers.items()),
        kind=kind, options=options,
    )


def _signin_url(fake: FakeCyclr, token: str, return_url: str) -> str:
    return f"{fake.url}/account/signinwithtoken?{urlencode({'token': token, 'returnUrl': return_url})}"


def get_account(fake: FakeCyclr, request: Request) -> Response:
    account = fake.state.find_account(request.params["account"])
    if account is None:
        raise api_error(404, ACCOUNT_NOT_FOUND)
    return json_response(200, fake.account_resource(account))


def _account_header(fake: FakeCyclr, request: Request) -> str:
    """The account `X-Cyclr-Account` names, as the reference the state looks accounts up by.

    Which id the header must hold is `fake.account_header`'s: a reference of the other kind is an account
    Cyclr does not know (404 "Account not found."), which is how a Cyclr that wants the other id answers.
    """
    reference = request.headers.get("X-Cyclr-Account", "").strip()
    if not reference:
        raise api_error(400, "The X-Cyclr-Account header is required for account-level calls.")
    account = fake.state.find_account(reference)
    if account is None or not fake.header_accepts(account, reference):
        raise api_error(404, ACCOUNT_NOT_FOUND)
    return account["ApiId"]


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise api_error(400, f"The {name} parameter must be a whole number of at least 1.")
    return int(raw)


def list_cycles(fake: FakeCyclr, request: Request) -> Response:
    reference = _account_header(fake, request)
    page = _positive_int(request, "page", 1)
    page_size = _positive_int(request, "pageSize", 50)
    if fake.max_page_size:  # a Cyclr that caps pages lower than asked, which no page documents against
        page_size = min(page_size, fake.max_page_size)
    cycles = fake.state.account_cycles(reference)
    if cycles is None:
        raise api_error(404, ACCOUNT_NOT_FOUND)
    start = (page - 1) * page_size
    return json_response(200, [fake.public_cycle(c) for c in cycles[start : start + page_size]])


def get_cycle(fake: FakeCyclr, request: Request) -> Response:
    reference = _account_header(fake, request)
    cycle = fake.state.account_cycle(reference, request.params["cycle"])
    if cycle is None:
        raise api_error(404, "Cycle not found.")
    return json_response(200, fake.public_cycle(cycle))


def activate_cycle(fake: FakeCyclr, request: Request) -> Response:
    return _change_cycle(fake, request, "Active")


def deactivate_cycle(fake: FakeCyclr, request: Request) -> Response:
    return _change_cycle(fake, request, "Stopped")


def _change_cycle(fake: FakeCyclr, request: Request, status: str) -> Response:
    reference = _account_header(fake, request)
    activation = None
    if status == "Active":
        activation = parse_json_object(request) if request.body else {}
        interval = activation.get("Interval")
        if interval is not None and (not isinstance(interval, int) or isinstance(interval, bool) or interval < 1):
            raise api_error(400, "Interval must be a whole number of minutes of at least 1.")
    changed = fake.state.set_cycle_status(reference, request.params["cycle"], status, activation)
    if changed is None:
        raise api_error(404, "Cycle not found.")
    install, did_change = changed
    if did_change and install is not None:
        fake.notify_in_background(install, "started" if status == "Active" else "stopped")
    return json_response(200, {"Message": f"Cycle is now {status}."})


def delete_cycle(fake: FakeCyclr, request: Request) -> Response:
    reference = _account_header(fake, request)
    install = fake.state.delete_cycle(reference, request.params["cycle"])
    if install is None:
        raise api_error(404, "Cycle not found.")
    if install.get("uninstalled"):
        fake.notify_in_background(install, "uninstalled")
    return json_response(200, {"Message": "Cycle deleted."})


def trigger_webhook(fake: FakeCyclr, request: Request) -> Response:
    if not fake.state.webhook_exists(request.params["key"]):
        raise api_error(404, "Webhook not found.")
    return json_response(202, {"Message": "Queued"})


# --- Marketplace UI ---------------------------------------------------------------------------------


def sign_in_with_token(fake: FakeCyclr, request: Request) -> Response:
    return_url = request.query.get("returnUrl", "")
    # Checked before the token is spent, so a bad link does not burn a good token.
    if not _RETURN_URL.fullmatch(return_url):
        advice = "The returnUrl must be a Marketplace page such as /launch/marketplace/1."
        raise page_error(400, pages.bad_request_page(advice))
    session = fake.state.redeem_marketplace_token(request.query.get("token", ""))
    if session is None:
        raise page_error(403, pages.link_expired_page())
    if session.kind in _LANDING:  # a LAUNCH or ORBIT link lands on its own page, whatever returnUrl says
        response = redirect(302, pages.link(_LANDING[session.kind], session=_carried(fake, session)))
    elif fake.instant_complete:
        # A Marketplace that completes at once: the Launch Complete page is the first page the window shows.
        response = _finish_install(fake, session, PACKAGES[INSTANT_PACKAGE_ID], start=True, status=302)
    else:
        response = redirect(302, pages.link(return_url, session=_carried(fake, session)))
    if fake.session_cookie:
        # As Cyclr does: the token is spent, the session goes on in a cookie. SameSite=None (Cyclr's "Enable
        # iframe Embedding") needs Secure, which a browser takes only from a secure origin (https, loopback).
        same_site = "None; Secure" if _secure_origin(fake.url) else "Lax"
        response.headers.append(("Set-Cookie", f"{SESSION_COOKIE}={session.id}; Path=/; HttpOnly; SameSite={same_site}"))
    return response


def _secure_origin(url: str) -> bool:
    """True for an origin a browser counts as secure without flags: https, or http on a loopback host."""
    scheme, _, rest = url.partition("://")
    host = rest.rsplit(":", 1)[0].strip("[]").lower()
    return scheme == "https" or host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def _carried(fake: FakeCyclr, session: Session) -> str | None:
    """The session id for a page's links and redirects; None when the session travels in the cookie."""
    return None if fake.session_cookie else session.id


def _session_id(fake: FakeCyclr, request: Request) -> str:
    if not fake.session_cookie:
        return request.query.get("session", "")
    cookies = SimpleCookie()
    try:
        cookies.load(request.headers.get("Cookie", ""))
    except CookieError:
        return ""
    morsel = cookies.get(SESSION_COOKIE)
    return morsel.value if morsel else ""


def _no_session(fake: FakeCyclr) -> HttpError:
    # Cyclr's answer to a request without its session cookie; a bad session= in the URL is "not valid".
    return page_error(403, pages.session_expired_page() if fake.session_cookie else pages.session_invalid_page())


def _session(fake: FakeCyclr, request: Request) -> Session:
    session = fake.state.get_session(_session_id(fake, request))
    if session is None or session.kind != "marketplace" or session.marketplace_id != int(request.params["marketplace"]):
        raise _no_session(fake)
    return session


def _kind_session(fake: FakeCyclr, request: Request, kind: str) -> Session:
    session = fake.state.get_session(_session_id(fake, request))
    if session is None or session.kind != kind:
        raise _no_session(fake)
    return session


def _launch_choice(session: Session) -> tuple[Package | None, tuple]:
    tags = session.option("Tags", ())
    chosen = templates_tagged(tags)
    return (chosen[0], chosen[1]) if chosen else (None, ())


def show_launch(fake: FakeCyclr, request: Request) -> Response:
    session = _kind_session(fake, request, "launch")
    _, templates = _launch_choice(session)
    return html_response(200, pages.launch_page(templates=list(templates), tags=list(session.option("Tags", ())),
                                                session_id=_carried(fake, session)))


def install_launch(fake: FakeCyclr, request: Request) -> Response:
    session = _kind_session(fake, request, "launch")
    package, templates = _launch_choice(session)
    if package is None:
        raise page_error(404, pages.not_found_page("A template with these tags"))
    if not parse_form(request).get("api_key", "").strip():
        return html_response(400, pages.launch_page(templates=list(templates), tags=list(session.option("Tags", ())),
                                                    session_id=_carried(fake, session), error="Enter the API key to connect it."))
    install = fake.state.install_package(session=session, package=package, start=bool(session.option("Start", True)),
                                         base_url=fake.url, templates=templates, flow="launch")
    if fake.notification_url:
        fake.notifier.send_in_background(marketplace_notification(install))
    return redirect(303, pages.link("/launch/cycles/complete", session=_carried(fake, session), install=install["id"]))


def show_launch_complete(fake: FakeCyclr, request: Request) -> Response:
    session = _kind_session(fake, request, "launch")
    install = fake.state.get_install(request.query.get("install", ""))
    if install is None or install["session_id"] != session.id:
        raise page_error(404, pages.not_found_page("This installation"))
    return html_response(200, pages.complete_page(result=launch_result(install), complete_html=fake.state.complete_html))


def show_orbit(fake: FakeCyclr, request: Request) -> Response:
    session = _kind_session(fake, request, "orbit")
    account = fake.state.find_account(session.account_api_id) or {}
    return html_response(200, pages.orbit_page(account_name=account.get("Name", session.account_api_id),
                                               installs=fake.state.account_installs(session.account_api_id),
                                               packages=PACKAGES, session_id=_carried(fake, session)))


def change_in_orbit(fake: FakeCyclr, request: Request) -> Response:
    session = _kind_session(fake, request, "orbit")
    install_id, action = request.params["install"], request.params["action"]
    install = fake.state.get_install(install_id)
    if install is None or install["account_api_id"] != session.account_api_id or install.get("uninstalled"):
        raise page_error(404, pages.not_found_page("This integration"))
    if action == "uninstall":
        changed = fake.state.uninstall(install_id)
        fake.notify_in_background(changed, "uninstalled")
    else:
        changed, cycle_ids = fake.state.set_install_status(install_id, "Active" if action == "start" else "Stopped")
        if cycle_ids:
            fake.notify_in_background(changed, "started" if action == "start" else "stopped")
    return redirect(303, pages.link("/orbit", session=_carried(fake, session)))


def _package(request: Request) -> Package:
    package = PACKAGES.get(int(request.params["package"]))
    if package is None:
        raise page_error(404, pages.not_found_page("This integration package"))
    return package


def show_marketplace(fake: FakeCyclr, request: Request) -> Response:
    session = _session(fake, request)
    account = fake.state.find_account(session.account_api_id) or {}
    return html_response(
        200,
        pages.marketplace_page(
            marketplace_id=session.marketplace_id,
            account_name=account.get("Name", session.account_api_id),
            packages=list(PACKAGES.values()),
            session_id=_carried(fake, session),
        ),
    )


def show_install_form(fake: FakeCyclr, request: Request) -> Response:
    session = _session(fake, request)
    package = _package(request)
    return html_response(
        200, pages.install_form_page(marketplace_id=session.marketplace_id, package=package, session_id=_carried(fake, session))
    )


def install_package(fake: FakeCyclr, request: Request) -> Response:
    session = _session(fake, request)
    package = _package(request)
    form = parse_form(request)
    start = bool(form.get("start_cycles"))
    if not form.get("api_key", "").strip():
        return html_response(
            400,
            pages.install_form_page(
                marketplace_id=session.marketplace_id,
                package=package,
                session_id=_carried(fake, session),
                error=f"Enter the API key for {package.connector} to connect it.",
                start_checked=start,
            ),
        )
    # The API key itself is not kept: it stands for a connector secret.
    return _finish_install(fake, session, package, start=start, status=303)


def _finish_install(fake: FakeCyclr, session: Session, package: Package, *, start: bool, status: int) -> Response:
    """Record the install, notify the host in the background, and send the window on to Launch Complete.

    With a `complete_delay`, the window goes to the "finishing" page first, which moves on by itself:
    the delay passes in the browser, never in a server thread.
    """
    install = fake.state.install_package(session=session, package=package, start=start, base_url=fake.url)
    if fake.notification_url:
        fake.notifier.send_in_background(marketplace_notification(install))
    step = "finishing" if fake.complete_delay > 0 else "complete"
    return redirect(
        status,
        pages.link(f"/launch/marketplace/{session.marketplace_id}/{step}", session=_carried(fake, session), install=install["id"]),
    )


def _own_install(fake: FakeCyclr, request: Request, session: Session) -> dict:
    install = fake.state.get_install(request.query.get("install", ""))
    if install is None or install["session_id"] != session.id:
        raise page_error(404, pages.not_found_page("This installation"))
    return install


def show_finishing(fake: FakeCyclr, request: Request) -> Response:
    """The interstitial of a slow Marketplace: it moves on to Launch Complete after `complete_delay` seconds."""
    session = _session(fake, request)
    install = _own_install(fake, request, session)
    complete = pages.link(
        f"/launch/marketplace/{session.marketplace_id}/complete", session=_carried(fake, session), install=install["id"]
    )
    return html_response(200, pages.finishing_page(next_url=complete, delay=fake.complete_delay))


def show_complete(fake: FakeCyclr, request: Request) -> Response:
    session = _session(fake, request)
    install = _own_install(fake, request, session)
    return html_response(
        200, pages.complete_page(result=marketplace_result(install), complete_html=fake.state.complete_html)
    )


# --- routing ----------------------------------------------------------------------------------------

Endpoint = Callable[["FakeCyclr", Request], Response]
_SEGMENT = r"[^/]+"
_MARKETPLACE = r"/launch/marketplace/(?P<marketplace>[0-9]{1,9})"
_INSTALL = _MARKETPLACE + r"/packages/(?P<package>[0-9]{1,9})/install"
ROUTES: list[tuple[str, re.Pattern[str], Endpoint]] = [
    (method, re.compile(pattern), endpoint)
    for method, pattern, endpoint in (
        ("POST", r"/oauth/token", issue_token),
        ("POST", rf"/v1\.0/accounts/(?P<account>{_SEGMENT})/marketplace", mint_marketplace_url),
        ("POST", rf"/v1\.0/accounts/(?P<account>{_SEGMENT})/launch", mint_launch_url),
        ("POST", rf"/v1\.0/accounts/(?P<account>{_SEGMENT})/orbit", mint_orbit_url),
        ("GET", rf"/v1\.0/accounts/(?P<account>{_SEGMENT})", get_account),
        ("GET", r"/v1\.0/cycles", list_cycles),
        ("GET", rf"/v1\.0/cycles/(?P<cycle>{_SEGMENT})", get_cycle),
        ("DELETE", rf"/v1\.0/cycles/(?P<cycle>{_SEGMENT})", delete_cycle),
        ("PUT", rf"/v1\.0/cycles/(?P<cycle>{_SEGMENT})/activate", activate_cycle),
        ("PUT", rf"/v1\.0/cycles/(?P<cycle>{_SEGMENT})/deactivate", deactivate_cycle),
        ("GET", rf"/api/webhook/(?P<key>{_SEGMENT})", trigger_webhook),
        ("POST", rf"/api/webhook/(?P<key>{_SEGMENT})", trigger_webhook),
        ("GET", r"/account/signinwithtoken", sign_in_with_token),
        ("GET", _MARKETPLACE, show_marketplace),
        ("GET", _INSTALL, show_install_form),
        ("POST", _INSTALL, install_package),
        ("GET", _MARKETPLACE + "/finishing", show_finishing),
        ("GET", _MARKETPLACE + "/complete", show_complete),
        ("GET", r"/launch/cycles", show_launch),
        ("POST", r"/launch/cycles", install_launch),
        ("GET", r"/launch/cycles/complete", show_launch_complete),
        ("GET", r"/orbit", show_orbit),
        ("POST", r"/orbit/installs/(?P<install>[0-9a-f-]{36})/(?P<action>stop|start|uninstall)", change_in_orbit),
    )
]


def route(method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
    allowed = []
    for route_method, pattern, endpoint in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            if route_method == method:
                return endpoint, {name: unquote(value) for name, value in match.groupdict().items()}
            allowed.append(route_method)
    if allowed:
        error = api_error(405, f"The {method} method is not allowed here.")
        error.response.headers.append(("Allow", ", ".join(allowed)))
        raise error
    raise api_error(404, "No resource was found that matches the request URI.")


class FakeCyclrHandler(BaseHTTPRequestHandler):
    """Parses each request, checks the bearer token on `/v1.0/`, routes it, and writes the response."""

    server: _FakeCyclrHTTPServer
    server_version = "FakeCyclr/1.0"
    sys_version = ""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        fake = self.server.fake
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
            if path.startswith("/v1.0/") or path == "/v1.0":
                fake.state.record_api_call(self.command, path)
            if fake.api_down and (path.startswith("/v1.0/") or path in ("/v1.0", "/oauth/token")):
                raise api_error(503, "The service is unavailable. Try again later.")
            if fake.page_delay > 0 and not path.startswith(("/v1.0", "/oauth/", "/api/")):
                time.sleep(fake.page_delay)  # a Marketplace page, from a Cyclr that far away
            if path.startswith("/v1.0/") or path == "/v1.0":
                if fake.failing_account(self.headers.get("X-Cyclr-Account", ""), path):
                    raise api_error(500, "An error has occurred.")
                if fake.api_delay > 0:  # each request has its own thread: delays overlap, as over a network
                    time.sleep(fake.api_delay)
                if self.command == "GET" and path.startswith("/v1.0/cycles/"):
                    fake.cycle_gate.pass_through()  # held here while a test keeps the gate closed
                if self.command == "POST" and _MINT_PATH.match(path):
                    fake.mint_gate.pass_through()
                self._require_bearer(fake)
            endpoint, params = route(self.command, path)
            request = Request(
                method=self.command,
                path=path,
                query=_first_values(parse_qs(query, keep_blank_values=True)),
                headers=self.headers,
                body=body,
                params=params,
            )
            response = endpoint(fake, request)
        except HttpError as error:
            response = error.response
        # The policy covers the Marketplace's own navigations too (the sign-in and install redirects), as a
        # COOP-sending Marketplace does; never the Partner API or webhook calls, which no window loads.
        marketplace_ui = not path.startswith(("/v1.0", "/oauth/", "/api/"))
        if marketplace_ui and fake.refuse_framing:  # as an account without "Enable iframe Embedding"
            response.headers += [("X-Frame-Options", "DENY"), ("Content-Security-Policy", "frame-ancestors 'none'")]
        self._send(response, fake.opener_policy, marketplace_ui)

    def _read_body(self) -> bytes:
        raw_length = self.headers.get("Content-Length", "0").strip() or "0"
        if not raw_length.isascii() or not raw_length.isdigit():
            self.close_connection = True
            raise api_error(400, "The Content-Length header is not valid.")
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            self._discard(length)
            raise api_error(413, "The request body is larger than 1 MiB.")
        return self.rfile.read(length)

    def _discard(self, length: int) -> None:
        # Reading what the client already sent lets it see the 413 instead of a reset connection.
        self.close_connection = True
        remaining = min(length, _MAX_DRAIN_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)

    def _require_bearer(self, fake: FakeCyclr) -> None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not fake.state.access_token_is_valid(token.strip()):
            raise api_error(401, DENIED)

    def _send(self, response: Response, opener_policy: str | None, marketplace_ui: bool) -> None:
        self.send_response(response.status)
        is_html = (response.content_type or "").startswith("text/html")
        if opener_policy and (is_html or marketplace_ui):
            self.send_header("Cross-Origin-Opener-Policy", opener_policy)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(response.body)

    # Query strings carry sign-in tokens and session ids: log the method and the path only.
    def _safe_target(self) -> str:
        return f"{getattr(self, 'command', None) or '-'} {(getattr(self, 'path', None) or '-').partition('?')[0]}"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.info("%s %s %s", self.client_address[0], self._safe_target(), getattr(code, "value", code))

    def log_error(self, format: str, *args: object) -> None:
        # http.server's own messages can quote the raw request line, query string included.
        logger.warning("%s %s could not be handled", self.client_address[0], self._safe_target())

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.client_address[0], self._safe_target())


class Gate:
    """Holds requests while closed, and counts the ones it holds: a test's handle on "Cyclr is answering now".

    ``close()``, then ``wait_for_held(n)`` (True once ``n`` requests are waiting at the gate), then ``open()``
    lets them (and every later one) through. Open by default. A request held longer than ``max_hold``
    seconds goes through anyway, so a test that forgets to open it cannot hang the server forever.
    """

    def __init__(self, max_hold: float = 120) -> None:
        self.max_hold = max_hold
        self._condition = threading.Condition()
        self._closed = False
        self._held = 0
        self.passed = 0  # requests that went through while the gate had held them

    def close(self) -> None:
        with self._condition:
            self._closed = True

    def open(self) -> None:
        with self._condition:
            self._closed = False
            self._condition.notify_all()

    @property
    def held(self) -> int:
        """Requests waiting at the gate now."""
        with self._condition:
            return self._held

    def wait_for_held(self, count: int = 1, timeout: float = 30) -> bool:
        """Wait until at least ``count`` requests wait at the gate; False on time-out."""
        with self._condition:
            return self._condition.wait_for(lambda: self._held >= count, timeout=timeout)

    def pass_through(self) -> None:
        with self._condition:
            if not self._closed:
                return
            self._held += 1
            self._condition.notify_all()
            try:
                self._condition.wait_for(lambda: not self._closed, timeout=self.max_hold)
            finally:
                self._held -= 1
                self.passed += 1
                self._condition.notify_all()


class _FakeCyclrHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeCyclr) -> None:
        self.fake = fake
        super().__init__(address, FakeCyclrHandler)

    def handle_error(self, request, client_address) -> None:
        """A browser that closed a window mid-answer is not the fake's error: only a real one prints its traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
            super().handle_error(request, client_address)


# --- the command line's knobs for the shapes Cyclr's pages disagree on ----------------------------------


def add_shape_arguments(parser) -> None:
    """Add `FakeCyclr`'s knobs for how Cyclr answers (the shapes its pages disagree on, how it signs in and
    whether it may be framed) to an argparse parser: the fake's own command line's and manage.py's."""
    parser.add_argument("--session-cookie", action="store_true",
                        help="sign in as Cyclr does: the session goes on in a SameSite=None cookie (lost when framed "
                             "in a browser that blocks third-party cookies; docs/framing.md)")
    parser.add_argument("--refuse-framing", action="store_true",
                        help="answer every Marketplace page with X-Frame-Options: DENY and frame-ancestors 'none', "
                             "as an account without iframe embedding")
    parser.add_argument("--account-ids", choices=ACCOUNT_ID_KINDS, default="api",
                        help="which id the mint answers' AccountId and the account resource's Id hold: the API id "
                             "(default, as Cyclr's current pages show) or Cyclr's GUID (older pages)")
    parser.add_argument("--account-header", choices=ACCOUNT_HEADER_KINDS, default="api_id",
                        help="which id X-Cyclr-Account must hold (default: the API id, as Cyclr's current pages say)")
    parser.add_argument("--stopped-status", choices=("Paused", "Stopped"), default="Paused",
                        help="the API's word for an installed cycle that is not running (default: Paused)")
    parser.add_argument("--cycle-webhooks", action="store_true",
                        help="show the cycle's Webhooks on GET /v1.0/cycles/{id} (undocumented there; off by default)")
    parser.add_argument("--max-page-size", type=int, default=None, metavar="N",
                        help="cap every GET /v1.0/cycles page at N cycles, whatever pageSize asks")


def shape_options(args) -> dict:
    """`FakeCyclr`'s keyword arguments from a namespace parsed with `add_shape_arguments`."""
    return {"account_ids": args.account_ids, "account_header": args.account_header,
            "stopped_status": args.stopped_status, "cycle_webhooks": args.cycle_webhooks,
            "max_page_size": args.max_page_size, "session_cookie": args.session_cookie,
            "refuse_framing": args.refuse_framing}


# --- the service ------------------------------------------------------------------------------------


class FakeCyclr:
    """A stand-in for Cyclr's Partner API and Marketplace UI, served over real HTTP.

    `start()` serves in a daemon thread (port 0 picks a free port) and `stop()` shuts it down; it is
    also a context manager. `clock` is a zero-argument callable returning an aware UTC datetime, so
    tests can move time forward to expire tokens and Marketplace URLs. `opener_policy` (such as
    `"same-origin"`) is sent as `Cross-Origin-Opener-Policy` on every HTML page. `public_host`, if
    given, replaces `host` in the URLs the fake hands out (`url`, Marketplace URLs, webhook URLs), for
    tests that reach it under a name such as `acme-h.cyclr.test` mapped to 127.0.0.1.

    `notification_url`, if given (or set later with `set_notification_url`), is the host's "Marketplace
    Notification URL": after each install the fake POSTs Cyclr's PascalCase webhook body there from a
    background thread, as Cyclr does, racing the browser's result. `send_notification` sends one on
    demand; `notifications` records every attempt.

    Knobs for the timing of the Marketplace window (constructor options, also settable at any time as
    attributes, and `--coop`, `--complete-delay`, `--instant-complete` on the command line):

    - `coop=True`: the Marketplace pages (sign-in, Marketplace, install form, Launch Complete, their
      redirects) send `Cross-Origin-Opener-Policy: same-origin`, which severs a popup from its opener.
      The same as `opener_policy="same-origin"`.
    - `complete_delay=<seconds>`: after the install (or the instant sign-in) the window shows a
      "finishing" page that moves on to Launch Complete after that many seconds (in the browser; no
      server thread waits). 0, the default, goes straight there.
    - `instant_complete=True`: signing in with the token installs package 1 (started) at once and goes
      straight to its Launch Complete page, so its snippet posts as early as a page can.

    Knobs for how the Marketplace signs in and whether it may be framed (constructor options and attributes,
    `--session-cookie` and `--refuse-framing` on the command line; docs/framing.md):

    - `session_cookie=True`: signs in as Cyclr does. The sign-in link spends its token and sets the session
      cookie `cyclr_session` (`SameSite=None; Secure` on a secure origin: https, or http on a loopback host
      such as 127.0.0.1; `SameSite=Lax` elsewhere, since a browser drops a Secure cookie from another plain-http
      origin unless it runs with `--unsafely-treat-insecure-origin-as-secure`); the pages after it read the
      session from that cookie alone and answer 403 "Your session has expired" (`#session-expired`) without it.
      Framed in a browser that blocks third-party cookies (Debian's headless Chromium by default), the
      Marketplace then shows that page and never installs; at top level it works. False, the default, carries
      the session in a `session=` query parameter instead, which works framed in any browser.
    - `refuse_framing=True`: every Marketplace page (the sign-in and its redirects included) answers
      `X-Frame-Options: DENY` and `Content-Security-Policy: frame-ancestors 'none'`, as Cyclr does for an
      account without iframe embedding enabled: a browser shows nothing in the frame.

    `api_delay=<seconds>` (also an attribute) makes every Partner API call (`/v1.0/...`) answer that much
    later, as a real Cyclr's distance does (the benchmark's 150 ms figure); the Marketplace pages, the
    token endpoint and webhooks stay immediate. 0, the default, answers at once.
    `page_delay=<seconds>` (also an attribute) does the same for the Marketplace's pages (every request a window
    loads: the sign-in, its redirect, the Marketplace, the install pages), as the benchmark's 50 ms pages.

    `api_down=True` (also an attribute) makes the Partner API and the token endpoint answer 503, as during
    an outage of Cyclr's API, while the Marketplace pages keep working: a result that arrives meanwhile
    cannot be verified (the launch stays `received`, `verification_pending`, its `last_attempt_error_code`
    `cyclr_api_error`). Set it back to False
    and settle the launch (`proxy.services.settle_launch`, `manage.py proxy_replay`) to finish it.

    `cycle_gate` (an attribute): a `Gate` on `GET /v1.0/cycles/{id}` (the kit's verification call), for tests of
    a slow Cyclr. `cycle_gate.close()` holds every such request until `cycle_gate.open()`;
    `cycle_gate.wait_for_held(n)` waits until `n` are held, which proves the kit is in the middle of asking
    without timing anything.

    `mint_gate` (an attribute): the same, on the mint calls (`POST /v1.0/accounts/{id}/marketplace`, `/launch`,
    `/orbit`): it holds the kit between its checks of a launch and the mint's answer.

    `failing_accounts` (a set, also an attribute): account references (API ids or Cyclr account ids) whose
    Partner API calls (named by `X-Cyclr-Account` or in the path) answer 500, as Cyclr does when one
    account's data cannot be read while the others' can.

    Where Cyclr's published pages disagree with each other or are silent, the fake answers as the current
    pages show by default, and a knob gives the other shape (constructor options, also attributes; each
    has a `--flag` on the command line):

    - `account_ids="api"` (default): the mint answers' `AccountId` (Marketplace, LAUNCH, ORBIT) and
      `GET /v1.0/accounts/{id}`'s `Id` are the account's API id: cyclr/docs
      `pages/marketplaces/marketplace-deployment.md` shows `"AccountId": "CYCLR_ACCOUNT_API_ID"` ("the ID
      of the newly created account, or the existing account you provided in your Request"), and Create an
      account calls `Id` "The External Account ID". `"guid"`: both are Cyclr's internal GUID, as older pages
      suggest.
    - `account_header="api_id"` (default): `X-Cyclr-Account` must hold the API id (docs.cyclr.com
      Authentication: "provide the account's API ID as an HTTP header"); a GUID there is an account Cyclr
      does not know, answered 404 "Account not found.". `"id"`: the GUID only (the 2023 v1 page's "Account
      ID"). `"either"`: both.
    - `stopped_status="Paused"` (default): the API's word for a cycle that is installed and not running
      (Install a cycle; Activate a cycle), while the Launch Complete result and the notification say
      `Stopped`. `"Stopped"`: the API says `Stopped` too.
    - `cycle_webhooks=False` (default): the cycle resource has no `Webhooks` (none is documented on it);
      True adds `[{"StepName", "Url"}]`, the shape of the notification's.
    - `max_page_size=None` (default): `GET /v1.0/cycles` gives the `pageSize` asked for; a number caps it
      lower, as no page documents Cyclr not doing.

    `state_file=<path>` (`--state-file`): the accounts, cycles and installs are read from that JSON file at
    start (if it exists) and written back on every change, so a restarted fake still knows them, as a real
    Cyclr does; without it the fake forgets everything when it stops.

    For assertions: `api_calls` lists every Partner API request (`(method, path)`, oldest first, query
    strings left out), and `activations` every activate call on a known cycle with the body it carried
    (`{"cycle_id", "account_id", "body"}`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",
        marketplace_ids: tuple[int, ...] = (1,),
        complete_html: str | None = None,
        token_expires_in: int = 1209599,
        marketplace_url_ttl: int = 300,
        opener_policy: str | None = None,
        clock: Callable[[], datetime] | None = None,
        public_host: str | None = None,
        notification_url: str | None = None,
        coop: bool = False,
        complete_delay: float = 0,
        instant_complete: bool = False,
        api_delay: float = 0,
        page_delay: float = 0,
        api_down: bool = False,
        failing_accounts: Iterable[str] = (),
        state_file: str | None = None,
        account_ids: str = "api",
        account_header: str = "api_id",
        stopped_status: str = "Paused",
        cycle_webhooks: bool = False,
        max_page_size: int | None = None,
        session_cookie: bool = False,
        refuse_framing: bool = False,
    ) -> None:
        if coop and opener_policy not in (None, "same-origin"):
            raise ValueError(f"coop=True means opener_policy='same-origin', not {opener_policy!r}.")
        self.host = host
        self.port = port
        self.public_host = public_host
        self.opener_policy = "same-origin" if coop else opener_policy
        self.complete_delay = complete_delay
        self.instant_complete = bool(instant_complete)
        self.api_delay = api_delay
        self.page_delay = page_delay
        self.api_down = bool(api_down)
        self.failing_accounts = set(failing_accounts)
        if account_ids not in ACCOUNT_ID_KINDS:
            raise ValueError(f"account_ids must be one of {ACCOUNT_ID_KINDS}, not {account_ids!r}.")
        if account_header not in ACCOUNT_HEADER_KINDS:
            raise ValueError(f"account_header must be one of {ACCOUNT_HEADER_KINDS}, not {account_header!r}.")
        if stopped_status not in ("Paused", "Stopped"):
            raise ValueError(f"stopped_status must be 'Paused' or 'Stopped', not {stopped_status!r}.")
        self.account_ids = account_ids
        self.account_header = account_header
        self.stopped_status = stopped_status
        self.cycle_webhooks = bool(cycle_webhooks)
        self.max_page_size = max_page_size
        self.session_cookie = bool(session_cookie)
        self.refuse_framing = bool(refuse_framing)
        self.cycle_gate = Gate()
        self.mint_gate = Gate()
        self.state = FakeCyclrState(
            client_id=client_id,
            client_secret=client_secret,
            marketplace_ids=marketplace_ids,
            token_expires_in=token_expires_in,
            marketplace_url_ttl=marketplace_url_ttl,
            complete_html=complete_html,
            clock=clock,
        )
        if state_file:  # accounts, cycles and installs kept across restarts, as a real Cyclr keeps them
            self.state.keep_in(state_file)
        self.notifier = NotificationSender(notification_url)
        self._server: _FakeCyclrHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> FakeCyclr:
        """Take the port (so ``url`` is known) without starting the serving thread; returns self.

        For tests that fork a server process next: forking while a thread runs can deadlock
        the child, so they bind, fork, then ``start()``.
        """
        if self._server is not None:
            raise RuntimeError("The fake Cyclr is already bound.")
        self._server = _FakeCyclrHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        return self

    def start(self) -> FakeCyclr:
        """Bind (unless ``bind()`` did) and serve in a daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("The fake Cyclr is already running.")
        if self._server is None:
            self.bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # keeps stop() quick
            name=f"fake-cyclr-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        if self._server is None:
            return
        self.cycle_gate.open()  # held requests finish; shutdown() waits for none of them
        self.mint_gate.open()
        if self._thread is not None:  # shutdown() would wait forever on a server that never served
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self._server = None
        self._thread = None
        self.notifier.join(timeout=15)  # no notification should land after the test that caused it

    def __enter__(self) -> FakeCyclr:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The fake's origin, such as `http://127.0.0.1:54321` (known once started)."""
        if self._server is None:
            raise RuntimeError("Start the fake Cyclr before asking for its URL.")
        host = self.public_host or self.host
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def origin(self) -> str:
        """Same as `url`: the Marketplace origin a host must allow."""
        return self.url

    @property
    def coop(self) -> bool:
        """True when the Marketplace pages send `Cross-Origin-Opener-Policy: same-origin`."""
        return self.opener_policy == "same-origin"

    @coop.setter
    def coop(self, value: bool) -> None:
        self.opener_policy = "same-origin" if value else None

    @property
    def complete_delay(self) -> float:
        """Seconds the "finishing" page waits before Launch Complete (0: none)."""
        return self._complete_delay

    @complete_delay.setter
    def complete_delay(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"complete_delay must be a number of seconds, 0 or more, not {seconds!r}.")
        self._complete_delay = float(seconds)

    def set_complete_html(self, html: str | None) -> None:
        """Set the console's Launch Complete HTML (None: the built-in placeholder)."""
        self.state.set_complete_html(html)

    @property
    def notification_url(self) -> str | None:
        """The Marketplace Notification URL (None: no webhook is sent after installs)."""
        return self.notifier.url

    def set_notification_url(self, url: str | None) -> None:
        """Set the Marketplace Notification URL, e.g. once a live test server knows its port."""
        self.notifier.set_url(url)

    def send_notification(self, install_id: str, status: str = "installed", url: str | None = None) -> int | None:
        """POST the webhook for an install now (synchronously); return the HTTP status, None if unanswered."""
        if status not in NOTIFICATION_STATUSES:
            raise ValueError(f"Cyclr sends no {status!r} notification; use one of {', '.join(NOTIFICATION_STATUSES)}.")
        install = self.state.get_install(install_id)
        if install is None:
            raise KeyError(f"No install {install_id!r}.")
        return self.notifier.send(marketplace_notification(install, status), url)

    # --- after the install: what ORBIT, the console or Cyclr itself do -----------------------------------

    def stop_install(self, install_id: str) -> int | None:
        """Stop every cycle of an install; if anything changed and a Notification URL is set, send
        the `stopped` notification now. Returns the host's HTTP status (None: nothing was sent)."""
        return self._change_install(install_id, "Stopped", "stopped")

    def start_install(self, install_id: str) -> int | None:
        """Start every cycle of an install; sends `started` as `stop_install()` sends `stopped`."""
        return self._change_install(install_id, "Active", "started")

    def uninstall(self, install_id: str) -> int | None:
        """Remove an install's cycles (the API answers 404 for them from now on) and send `uninstalled`."""
        install = self.state.uninstall(install_id)
        if install is None:
            raise KeyError(f"No installed install {install_id!r}.")
        return self._notify_now(install, "uninstalled")

    def _change_install(self, install_id: str, cycle_status: str, notification: str) -> int | None:
        changed = self.state.set_install_status(install_id, cycle_status)
        if changed is None:
            raise KeyError(f"No installed install {install_id!r}.")
        install, cycle_ids = changed
        return self._notify_now(install, notification) if cycle_ids else None

    def _notify_now(self, install: dict, status: str) -> int | None:
        if not self.notification_url:
            return None
        return self.notifier.send(marketplace_notification(install, status))

    def notify_in_background(self, install: dict, status: str) -> None:
        """Send a notification about `install` from a background thread, if a Notification URL is set."""
        if self.notification_url:
            self.notifier.send_in_background(marketplace_notification(install, status))

    @property
    def notifications(self) -> list[dict]:
        """Every notification attempt, oldest first: `{"url", "status", "body", "response", "error"}`."""
        return self.notifier.attempts

    def wait_for_notifications(self, count: int, timeout: float = 10) -> bool:
        """Wait until `count` notifications were attempted (background ones included); False on time-out."""
        return self.notifier.wait_for(count, timeout)

    def revoke_tokens(self) -> None:
        """Invalidate every access token issued so far (to test 401 -> refresh)."""
        self.state.revoke_tokens()

    @property
    def issued_tokens(self) -> list[str]:
        """Every secret this fake gave out, oldest first: access tokens and minted links' sign-in tokens (a test
        looks for them where they must not be, such as logs and reports)."""
        return self.state.issued_tokens

    @property
    def token_requests(self) -> int:
        """How many `POST /oauth/token` calls succeeded."""
        return self.state.token_requests

    @property
    def api_calls(self) -> list[tuple[str, str]]:
        """Every Partner API request (`/v1.0/...`) as `(method, path)`, oldest first; answered or not."""
        return self.state.api_calls

    @property
    def activations(self) -> list[dict]:
        """Every `PUT /v1.0/cycles/{id}/activate` on a known cycle: `{"cycle_id", "account_id", "body"}`."""
        return self.state.activations

    # --- the shapes that follow the knobs -------------------------------------------------------------

    def minted_account_id(self, account: dict) -> str:
        """The `AccountId` a mint answer carries for `account` (see `account_ids`)."""
        return account["ApiId"] if self.account_ids == "api" else account["Id"]

    def account_resource(self, account: dict) -> dict:
        """`GET /v1.0/accounts/{id}`'s answer: `Id` is the API id or the GUID (see `account_ids`)."""
        answer = {"Id": self.minted_account_id(account), "Name": account["Name"], "Description": account["Description"]}
        if self.account_ids == "guid":
            answer["ApiId"] = account["ApiId"]
        return answer

    def header_accepts(self, account: dict, reference: str) -> bool:
        """True if `X-Cyclr-Account: reference` names `account` in this fake's mode (see `account_header`)."""
        by_api_id = reference == account["ApiId"]
        by_guid = reference.lower() == account["Id"].lower()
        return {"api_id": by_api_id, "id": by_guid, "either": by_api_id or by_guid}[self.account_header]

    def public_cycle(self, cycle: dict) -> dict:
        """A cycle as the Partner API shows it (see `stopped_status` and `cycle_webhooks`)."""
        answer = {name: cycle[name] for name in CYCLE_API_FIELDS}
        if answer["Status"] == "Stopped":
            answer["Status"] = self.stopped_status
        if self.cycle_webhooks:
            answer["Webhooks"] = copy.deepcopy(cycle["Webhooks"])
        return answer

    def failing_account(self, header: str, path: str) -> bool:
        """True if a Partner API call naming this account (its `X-Cyclr-Account`, or `/v1.0/accounts/{id}/...`)
        must fail because the account is in `failing_accounts`."""
        if not self.failing_accounts:
            return False
        named = _ACCOUNT_PATH.match(path)
        reference = header.strip() or (unquote(named.group(1)) if named else "")
        account = self.state.find_account(reference) if reference else None
        names = {reference} | ({account["Id"], account["ApiId"]} if account else set())
        return bool(names & set(self.failing_accounts))

    @property
    def marketplace_requests(self) -> list[dict]:
        """One `{"account_api_id", "body", "headers"}` per successfully minted Marketplace URL."""
        return self.state.marketplace_requests

    @property
    def accounts(self) -> dict[str, dict]:
        """Accounts by API id: `{"Id", "ApiId", "Name", "Description"}`."""
        return self.state.accounts

    @property
    def cycles(self) -> dict[str, dict]:
        """Cycles by id: the API fields (`Webhooks` included) plus `AccountId` and `AccountApiId`."""
        return self.state.cycles

    @property
    def installs(self) -> list[dict]:
        """Install records, oldest first (see `FakeCyclrState.install_package`)."""
        return self.state.installs
