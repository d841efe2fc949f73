"""The one registry of the error codes the kit answers with.

Each code has the HTTP status the views and the webhook answer it with, whether it is
*terminal* for the page that sent the message (sending the same message again can never
succeed, so the page stops retrying and shows the sentence), and a default sentence for
people. The sockets close with ``4000 + status`` (``unauthenticated`` closes 4401).

Everything reads this table: ``proxy.exceptions.ProxyError`` takes its default sentence
from it, the views and the webhook their statuses, the consumers their close codes, and
every error frame its ``terminal`` flag (``proxy.protocol.error``), which is all the page
scripts know of a code: no script keeps a list of codes or a sentence of its own for one
(``tests/test_errors.py`` scans them). To add a code, call ``register()`` here, next to the
others; ``tests/test_errors.py`` fails for a code the kit raises that is not registered.

``invalid_result`` is one code with a ``detail`` saying which rule the result broke; the
details are listed in ``INVALID_RESULT_DETAILS`` (they are not codes of their own).

It also holds the reasons an *accepted* result later fails verification, or waits for it
(a launch's ``reason.code``, ``install_failed``'s): they are never HTTP answers, and their
status only says what kind of failure each is. Every code the kit emits is here, with its
sentence: ``tests/test_errors.py`` scans ``proxy/`` for them.

The sentences are translatable (``gettext_lazy``): each is rendered in the language active
where it is read (``default_message``, ``ProxyError``), so a request in French gets French.
``proxy/locale/`` holds the catalogues (docs/translations.md).
"""
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    terminal: bool
    message: str

    @property
    def close_code(self) -> int:
        """The WebSocket close code: 4000 plus the HTTP status (the 4000-4999 range is the application's)."""
        return 4000 + self.status


REGISTRY: dict[str, ErrorCode] = {}


def register(code, status, message, *, terminal):
    """Add ``code`` to the registry (once) and return its ``ErrorCode``."""
    if code in REGISTRY:
        raise ValueError(f"The error code {code!r} is registered twice.")
    REGISTRY[code] = ErrorCode(code, status, terminal, message)
    return REGISTRY[code]


# Refusals of a delivered message (socket, HTTP fallback, redirect landing): the page stops on these.
register("unauthenticated", 401, _("You are signed out. Sign in to the app again, then connect again."), terminal=True)
register("forbidden", 403, _("This launch belongs to another user."), terminal=True)
register("bad_origin", 403, _("This page's origin is not one of this site's origins."), terminal=True)
register("not_found", 404, _("There is no such launch. Start again from the Connect button."), terminal=True)
register("expired", 410, _("This launch has expired. Close the window and connect again."), terminal=True)
register("conflict", 409, _("This launch already has a different result."), terminal=True)
# Only Cyclr settles a launch (docs/verification.md): a claim it does not vouch for is refused and the launch stays open.
register("claim_refused", 409, _("Cyclr did not confirm this result, so it was not taken. If you are still installing, "
                                 "finish in Cyclr's window; the launch stays open for its result."), terminal=True)
register("claim_pending", 409, _("Another result for this launch is being checked with Cyclr. This one will be tried "
                                 "again shortly."), terminal=False)
register("replayed", 409, _("A cycle in this result was already recorded for another launch."), terminal=True)
register("malformed", 400, _("The message is not in the shape the kit expects."), terminal=True)
register("too_large", 413, _("The message is larger than the kit accepts."), terminal=True)
register("invalid_result", 400, _("The result is not in a shape Cyclr sends."), terminal=True)
register("bad_signature", 400, _("The launch reference is not one this site issued."), terminal=True)
register("account_mismatch", 409, _("The notification is for another Cyclr account than its launch."), terminal=True)
# proxy:complete is a page any site can send a signed-in browser to, so it binds a result only to what the kit
# started: a redirect- or direct-mode launch, named by its signed CompleteParameter or its window's nonce.
register("bad_nonce", 403,
         _("This result does not carry the launch's own reference. Start again from the Connect button."),
         terminal=True)
register("wrong_mode", 403, _("This launch was not opened in a mode that finishes on this page."), terminal=True)
register("bad_binding", 403, _("This result is not bound to a launch of yours. Start again from the Connect button."),
         terminal=True)
register("unbound", 400, _("This result does not say which launch it is for. Start again from the Connect button."),
         terminal=True)
register("next_not_allowed", 400, _("Only a redirect-mode launch goes back to a next page."), terminal=True)
register("unsafe_next", 400, _("The next page must be on this site."), terminal=True)
register("unknown_preset", 400, _("This integration is not offered here."), terminal=True)
# proxy:launch and proxy:orbit's GET cost a Cyclr call: only a browser navigating to them (a window or a frame) runs them.
register("not_a_navigation", 403,
         _("This page opens only in a window or a frame, not as an image, a script or a fetch. "
           "Open it from the site's Connect or Manage button."), terminal=True)
register("method_not_allowed", 405, _("This address does not take that method."), terminal=True)
# The result doors (proxy:result, proxy:complete) check CSRF and the content type themselves, in JSON.
register("csrf_failed", 403,
         _("This request did not carry this site's security token. Reload the page, then try again."),
         terminal=True)
register("unsupported_media_type", 415, _("The message must be sent as JSON (Content-Type: application/json)."),
         terminal=True)
# proxy:top_level moves a pending framed launch to top level (docs/framing.md).
register("not_pending", 409,
         _("This launch already has its result. Close this window and check your integrations in the app."),
         terminal=True)
# proxy:premint makes popup and inline launches only: the other modes' windows carry a nonce made with the launch.
register("premint_mode", 400,
         _("Only a popup or inline launch can be prepared before the click. Start again from the Connect button."),
         terminal=True)
register("premint_taken", 409,
         _("This launch was already opened by a click. Start again from the Connect button."), terminal=True)
register("marketplace_not_offered", 400,
         _("This site does not offer that Marketplace. Start again from the Connect button."),
         terminal=True)
# Failures on this side, or a limit: sending again later can succeed.
register("rate_limited", 429,
         _("Too many requests from you in a short while. Please wait, then try again."), terminal=False)
register("server_error", 500, _("The server could not take the message just now. It will be retried."), terminal=False)
register("origin_not_allowed", 500,
         _("This site is not set up for the Marketplace yet. Please tell the site's administrator."),
         terminal=False)
# proxy:orbit_changes before the ORBIT window it names has closed (or after its answer was lost): Hostkit.manage()
# asks again, then rejects with it.
register("orbit_unknown", 404,
         _("The site has not learned yet what changed in your integrations: reload the page in a minute to see them."),
         terminal=False)
register("cyclr_api_error", 502, _("Cyclr's API answered with an error. Try again in a minute."), terminal=False)
register("cyclr_bad_response", 502, _("Cyclr's API answered in a way the kit could not read. Try again in a minute."),
         terminal=False)
register("marketplace_not_found", 502,
         _("Cyclr does not know the Marketplace in this site's settings. Please tell the site's administrator."),
         terminal=False)
# CyclrClient's cycle calls (activate, deactivate) for the host's own views: the cycle is not there to act on.
register("cycle_not_found", 404, _("Cyclr does not know this cycle in this account: it may have been uninstalled."),
         terminal=True)
register("cyclr_unauthorized", 502,
         _("Cyclr refused this site's API credentials. Please tell the site's administrator."),
         terminal=False)
# X-Cyclr-Account named an account Cyclr does not know: it wants the account's other id (CYCLR_PROXY["ACCOUNT_HEADER"]).
register("account_not_found", 502,
         _("Cyclr does not know this site's account under the id the kit sent. Please tell the site's administrator."),
         terminal=False)
register("too_many_cycles", 502, _("Cyclr listed more cycles for this account than the kit reads at once."),
         terminal=False)
register("cyclr_timeout", 502, _("Cyclr's API did not answer in time. Try again in a minute."), terminal=False)
register("cyclr_unreachable", 502, _("Cyclr's API could not be reached. Try again in a minute."), terminal=False)
# The kit's test helpers (proxy.testing): the site's URLconf does not include proxy.urls.
register("urls_not_included", 500,
         _("This site is not set up for the Marketplace yet. Please tell the site's administrator."), terminal=False)

# Reasons a received result fails verification with Cyclr, or waits for it (proxy.verification, proxy.settle): a
# launch's reason, never an HTTP answer (account_mismatch and replayed, above, are reasons too).
register("install_errors", 422, _("Cyclr reported that the install failed."), terminal=True)
register("unknown_cycle", 409, _("Cyclr has no such cycle in this launch's account."), terminal=True)
register("claim_mismatch", 409, _("The result disagrees with what Cyclr has."), terminal=True)
register("verification_pending", 502, _("The result could not be verified with Cyclr yet. It will be retried."),
         terminal=False)

# What ``detail`` can say on an ``invalid_result`` answer.
INVALID_RESULT_DETAILS = ("missing_field", "wrong_type", "too_long", "too_many", "invalid_value", "not_an_object")

SERVER_ERROR = REGISTRY["server_error"]


def lookup(code) -> ErrorCode:
    """The registered ``ErrorCode``; an unregistered code (a bug) is answered as a server error."""
    return REGISTRY.get(code, SERVER_ERROR)


def status_of(code) -> int:
    return lookup(code).status


def close_code_of(code) -> int:
    return lookup(code).close_code


def default_message(code) -> str:
    """``code``'s sentence in the active language ("" for a code nobody registered)."""
    return str(REGISTRY[code].message) if code in REGISTRY else ""

