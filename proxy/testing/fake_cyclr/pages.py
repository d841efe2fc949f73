"""HTML of the fake Marketplace UI.

Every value that reaches a page goes through `html.escape`, except the Launch Complete HTML, which is
trusted console content and is inserted verbatim, as Cyclr does. Links and form actions carry the
session id in the query string (the pages run in a cross-site iframe, where cookies cannot be relied on),
unless the fake signs in as Cyclr does (`FakeCyclr(session_cookie=True)`): then the session is a cookie and
the links carry none (`session_id=None`).
"""

from __future__ import annotations

import json
import math
from html import escape
from urllib.parse import urlencode

from .state import Package

DEFAULT_COMPLETE_HTML = (
    '<div id="no-complete-html" role="alert"><p><strong>No Launch Complete HTML is configured</strong>, so this '
    "page cannot hand the result to your site, and your site will keep waiting for it.</p>"
    "<p>In your Django project, run <code>python manage.py proxy_fake_cyclr</code> (it configures the kit's "
    "snippet for your site), or start this fake with <code>--complete-html-file</code> holding the output of "
    "<code>python manage.py proxy_snippet</code>. With Cyclr itself, paste that output into the console: "
    "Settings, Appearance Settings, Launch Complete HTML.</p></div>"
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 0; color: #1d2733; background: #f5f7fa; }
main { max-width: 40rem; margin: 0 auto; padding: 1rem 1.5rem; }
.banner { background: #243b53; color: #fff; padding: .4rem 1.5rem; font-size: .85rem; }
.package { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px;
           padding: .75rem 1rem; margin: .75rem 0; list-style: none; }
#packages { padding: 0; }
.error { color: #a61b1b; font-weight: 600; }
label { display: block; margin: .75rem 0 .25rem; }
.checkbox label { display: inline; }
"""


def link(path: str, **query: str | None) -> str:
    """A same-origin URL: the path plus its query string (not yet escaped for HTML); None values are left out."""
    query = {name: value for name, value in query.items() if value is not None}
    return f"{path}?{urlencode(query)}" if query else path


def embed_json(value: object) -> str:
    """JSON that is safe inside a <script> element: no `</script>`, no `<!--`, no JS line terminators."""
    return (
        json.dumps(value)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _page(title: str, body: str, head: str = "") -> str:
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{head}<style>{_STYLE}</style>\n</head>\n<body>\n"
        '<div class="banner">Fake Cyclr Marketplace (a test double, not Cyclr)</div>\n'
        f"<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _problem_page(title: str, heading_id: str, heading: str, advice: str) -> str:
    return _page(title, f'<h1 id="{escape(heading_id)}">{escape(heading)}</h1>\n<p>{escape(advice)}</p>')


def link_expired_page() -> str:
    """403: the sign-in token is unknown, already used or expired."""
    return _problem_page(
        "Link expired",
        "link-expired",
        "This Marketplace link has expired or was already used",
        "Marketplace links work once and for a few minutes only. "
        "Close this window and start again from the app.",
    )


def session_invalid_page() -> str:
    """403: no valid Marketplace session in the URL."""
    return _problem_page(
        "Session not valid",
        "session-invalid",
        "Your Marketplace session is not valid",
        "Close this window and start again from the app.",
    )


def session_expired_page() -> str:
    """403: no Marketplace session cookie came with the request (what a framed Marketplace shows where the
    browser blocks third-party cookies: the sign-in set the cookie, the next page never got it back)."""
    return _problem_page(
        "Session expired",
        "session-expired",
        "Your session has expired",
        "Close this window and start again from the app.",
    )


def not_found_page(what: str) -> str:
    """404 in the Marketplace UI."""
    advice = "Go back to the Marketplace and try again."
    return _problem_page("Not found", "not-found", f"{what} was not found", advice)


def bad_request_page(message: str) -> str:
    """400 in the Marketplace UI."""
    return _problem_page("Bad request", "bad-request", "This request cannot be handled", message)


def marketplace_page(*, marketplace_id: int, account_name: str, packages: list[Package], session_id: str | None) -> str:
    """The Marketplace: the integration packages, each with its install link."""
    items = []
    for package in packages:
        install_path = f"/launch/marketplace/{marketplace_id}/packages/{package.id}/install"
        install_url = link(install_path, session=session_id)
        items.append(
            f'<li class="package" data-package-id="{package.id}">\n'
            f'  <h2 class="package-name">{escape(package.name)}</h2>\n'
            f'  <p class="package-description">{escape(package.description)}</p>\n'
            f'  <a class="install" href="{escape(install_url)}">Install</a>\n'
            "</li>"
        )
    body = (
        '<h1 id="marketplace-title">Integrations Marketplace</h1>\n'
        f'<p>Account: <strong id="account-name">{escape(account_name)}</strong></p>\n'
        f'<ul id="packages">\n{chr(10).join(items)}\n</ul>'
    )
    return _page("Marketplace", body)


def install_form_page(
    *, marketplace_id: int, package: Package, session_id: str | None, error: str | None = None, start_checked: bool = True
) -> str:
    """The connector-authentication form of one package."""
    action = link(f"/launch/marketplace/{marketplace_id}/packages/{package.id}/install", session=session_id)
    back = link(f"/launch/marketplace/{marketplace_id}", session=session_id)
    error_html = f'<p class="error" id="auth-error">{escape(error)}</p>\n' if error else ""
    checked = " checked" if start_checked else ""
    body = (
        f'<h1 id="install-title">Install {escape(package.name)}</h1>\n'
        f"<p>{escape(package.description)}</p>\n"
        f"{error_html}"
        f'<form id="connector-auth" method="post" action="{escape(action)}">\n'
        f'  <label for="api_key">API key for {escape(package.connector)}</label>\n'
        '  <input type="text" name="api_key" id="api_key" autocomplete="off" required>\n'
        '  <p class="checkbox">\n'
        f'    <input type="checkbox" name="start_cycles" id="start_cycles" value="1"{checked}>\n'
        '    <label for="start_cycles">Start the integration after installing</label>\n'
        "  </p>\n"
        '  <button type="submit" id="install-button">Install</button>\n'
        "</form>\n"
        f'<p><a id="back-to-marketplace" href="{escape(back)}">Back to the Marketplace</a></p>'
    )
    return _page(f"Install {package.name}", body)


def finishing_page(*, next_url: str, delay: float) -> str:
    """The interstitial of a slow Marketplace: moves on to `next_url` (same origin) after `delay` seconds.

    A script does the waiting (a meta refresh counts whole seconds only); without scripts the meta
    refresh does it, and the link lets a person (or a test over plain HTTP) go on at once.
    """
    milliseconds = round(delay * 1000)
    head = (
        f'<noscript><meta http-equiv="refresh" content="{math.ceil(delay)};url={escape(next_url)}"></noscript>\n'
        f"<script>setTimeout(function () {{ location.replace({embed_json(next_url)}); }}, {milliseconds});</script>\n"
    )
    body = (
        '<h1 id="finishing-install">Finishing the installation</h1>\n'
        f'<p>This takes a few seconds. <a id="continue" href="{escape(next_url)}" '
        f'data-delay-ms="{milliseconds}">Continue</a></p>'
    )
    return _page("Finishing the installation", body, head=head)


def complete_page(*, result: dict, complete_html: str | None) -> str:
    """The Launch Complete page: the global `result`, the message, then the console's HTML verbatim."""
    message = result["installCompleteMessage"]
    configured = DEFAULT_COMPLETE_HTML if complete_html is None else complete_html
    # Cyclr's one documented merge field.
    configured = configured.replace("{{InstallCompleteMessage}}", escape(message))
    # `result` is defined in <head>, so it exists before any script of the configured HTML runs.
    head = f"<script>var result = {embed_json(result)};</script>\n"
    body = f'<h1 id="install-complete">{escape(message)}</h1>\n{configured}'
    return _page("Installation complete", body, head=head)


# --- LAUNCH and ORBIT ---------------------------------------------------------------------------------


def launch_page(*, templates: list, tags: list[str], session_id: str | None, error: str | None = None) -> str:
    """LAUNCH: the cycle templates the minted tags chose, installed with one click."""
    action = link("/launch/cycles", session=session_id)
    items = "\n".join(
        f'<li class="package launch-template" data-template-id="{escape(t.template_id)}">{escape(t.name)}</li>'
        for t in templates
    )
    if not templates:
        body = (f'<h1 id="launch-title">Nothing to install</h1>\n<p id="no-templates">No template has the tags '
                f'{escape(", ".join(tags))}.</p>')
        return _page("LAUNCH", body)
    error_html = f'<p class="error" id="auth-error">{escape(error)}</p>\n' if error else ""
    body = (
        '<h1 id="launch-title">Set up your integration</h1>\n'
        f'<ul id="templates">\n{items}\n</ul>\n{error_html}'
        f'<form id="connector-auth" method="post" action="{escape(action)}">\n'
        '  <label for="api_key">API key</label>\n'
        '  <input type="text" name="api_key" id="api_key" autocomplete="off" required>\n'
        '  <button type="submit" id="install-button">Install</button>\n'
        "</form>"
    )
    return _page("LAUNCH", body)


def orbit_page(*, account_name: str, installs: list[dict], packages: dict, session_id: str | None) -> str:
    """ORBIT: the account's installed integrations, each with Stop, Start and Uninstall."""
    rows = []
    for install in installs:
        package = packages.get(install["package_id"])
        name = package.name if package else f"Integration {install['package_id']}"
        status = "Active" if all(c["status"] == "Active" for c in install["cycles"]) else "Stopped"
        base = f"/orbit/installs/{install['id']}"
        buttons = "".join(
            f'<form method="post" action="{escape(link(f"{base}/{action}", session=session_id))}">'
            f'<button type="submit" class="orbit-{action}" data-install-id="{escape(install["id"])}">{label}</button></form>'
            for action, label in (("stop", "Stop"), ("start", "Start"), ("uninstall", "Uninstall"))
        )
        rows.append(
            f'<li class="package orbit-install" data-install-id="{escape(install["id"])}" data-status="{status}">'
            f'<h2 class="package-name">{escape(name)}</h2><p class="orbit-status">{status}</p>{buttons}</li>'
        )
    listing = "\n".join(rows) or '<li id="no-installs">Nothing is installed.</li>'
    body = (
        '<h1 id="orbit-title">Your integrations</h1>\n'
        f'<p>Account: <strong id="account-name">{escape(account_name)}</strong></p>\n'
        f'<ul id="installs">\n{listing}\n</ul>'
    )
    return _page("ORBIT", body)
