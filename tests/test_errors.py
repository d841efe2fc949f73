"""The one registry of error codes (proxy/errors.py), and that every door answers from it."""
import json
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

import proxy
from proxy import errors, protocol
from proxy.exceptions import InvalidResult, LaunchRejected, ProxyError

pytestmark = pytest.mark.django_db(transaction=True)

PROXY_DIR = Path(proxy.__file__).parent
# A code raised or answered with, stored as a launch's reason (verification's verdicts, settle's failure_code), or
# reported as one (protocol.reason_of's {"code": ...}).
RAISED = re.compile(r"\b(?:InvalidResult|LaunchRejected|ProxyError|CyclrAPIError|_refuse)\(\s*\"([a-z_]+)\"")
STORED = re.compile(r"\bfailure_code\s*=\s*\"([a-z_]+)\"")
REPORTED = re.compile(r"\{\"code\":\s*\"([a-z_]+)\"")
# Codes chosen by an expression (cyclr.py: "cyclr_unauthorized" if ... else "cyclr_api_error").
CHOSEN = re.compile(r"\"(cyclr_[a-z_]+)\"")


def codes_raised():
    """``{code: [file, ...]}`` for every literal code the kit's modules (its test helpers too) emit."""
    found = {}
    for path in PROXY_DIR.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text()
        codes = RAISED.findall(text) + STORED.findall(text) + REPORTED.findall(text) + (CHOSEN.findall(text) if path.name == "cyclr.py" else [])
        for code in codes:
            found.setdefault(code, []).append(str(path.relative_to(PROXY_DIR)))
    return found


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def page_config(response, element_id):
    html = response.content.decode()
    return json.loads(re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S).group(1))


def test_every_code_the_kit_answers_with_is_registered():
    raised = codes_raised()
    assert {"unauthenticated", "forbidden", "not_found", "too_large", "malformed", "server_error"} <= set(raised)
    # The verdicts a launch fails or waits with, and the test helpers' own: the registry holds every code.
    assert {"install_errors", "unknown_cycle", "claim_mismatch", "verification_pending", "urls_not_included"} <= set(raised)
    unregistered = {code: files for code, files in raised.items()
                    if code not in errors.REGISTRY and code not in errors.INVALID_RESULT_DETAILS}
    assert unregistered == {}, "register these in proxy/errors.py"


def test_each_code_has_a_status_a_sentence_and_a_close_code():
    for code, error in errors.REGISTRY.items():
        assert 400 <= error.status <= 599, code
        assert error.message[0].isupper() and error.message.endswith("."), code
        assert error.close_code == 4000 + error.status
    assert errors.close_code_of("unauthenticated") == 4401 and errors.close_code_of("forbidden") == 4403
    assert errors.lookup("no_such_code") is errors.REGISTRY["server_error"]


def test_a_code_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="twice"):
        errors.register("malformed", 400, "Again.", terminal=True)


def test_only_failures_on_this_side_are_retried():
    terminal = {code for code, error in errors.REGISTRY.items() if error.terminal}
    assert {"unauthenticated", "forbidden", "not_found", "expired", "invalid_result", "too_large", "malformed",
            "conflict"} <= terminal
    assert not terminal & {"server_error", "cyclr_timeout", "cyclr_unreachable"}


def test_an_exception_without_a_sentence_takes_the_registrys():
    assert LaunchRejected("expired").message == errors.REGISTRY["expired"].message


def test_every_error_frame_says_whether_its_code_is_terminal():
    for code, error in errors.REGISTRY.items():
        assert protocol.error(ProxyError(code))["terminal"] is error.terminal, code
    # A shape rule's detail answers as invalid_result; a code nobody registered (a bug) as a server error.
    assert protocol.error(InvalidResult("too_long", "Too long."))["terminal"] is True
    assert protocol.error(ProxyError("no_such_code", "A bug."))["terminal"] is False


# What a page script may still name that the registry also names: its own checks, never a server's verdict.
CLIENT_SIDE_NAMES = {
    # Hostkit.connect() rejects with its own codes (docs/urls-sockets-messages.md: popup_blocked, closed, timeout,
    # install_failed, expired); "expired" is also a launch status it reads from proxy:status. origin_not_allowed: the proxy
    # page's own finding below, passed on as the rejection's code. orbit_unknown: Hostkit.manage() rejects with it once
    # proxy:orbit_changes has answered it ten times, with the registry's sentence from #hostkit-text.
    "hostkit.js": {"expired", "origin_not_allowed", "orbit_unknown"},
    # The proxy page's own refusals of a message from the Marketplace frame (window.proxyTest.lastRejection,
    # docs/troubleshooting.md): it never sends them to the server, nor shows them. origin_not_allowed: its own
    # check of location.origin against HOST_ORIGINS, with its sentence in launch.html.
    "proxy.js": {"malformed", "too_large", "origin_not_allowed"},
}
# Hostkit's sentences are only for what the host page alone can know (and its "Still connecting?" prompt); verdicts
# carry the server's sentence. They come from the server (proxy.templatetags.proxy.HOSTKIT_TEXT), translated;
# orbit_unknown's is the registry's own (the host page gives up asking proxy:orbit_changes with it).
HOSTKIT_OWN_SENTENCES = {"popup_blocked", "closed", "cancelled", "timeout", "again", "asking", "reopen", "cancel",
                         "orbit_unknown"}
JS_DIR = PROXY_DIR / "static/proxy/js"


def names_in_script(text):
    """Every quoted lowercase name and every object key in a script's source."""
    return set(re.findall(r"""["'`]([a-z_]+)["'`]""", text)) | set(re.findall(r"\b([a-z_]+)\s*:", text))


@pytest.mark.parametrize("name", sorted(path.name for path in JS_DIR.glob("*.js") if not path.name.endswith(".min.js")))
def test_no_page_script_keeps_a_server_error_code_or_sentence_of_its_own(name):
    # The registry is the one list: the pages learn whether a refusal is final from the frame's "terminal",
    # and show the frame's "message". A code or a registry sentence copied into a script goes stale.
    text = (JS_DIR / name).read_text()
    server_codes = set(errors.REGISTRY) | set(errors.INVALID_RESULT_DETAILS)
    copied = names_in_script(text) & server_codes - CLIENT_SIDE_NAMES.get(name, set())
    assert copied == set(), f"{name} names the server's error codes {sorted(copied)}: read the frame's terminal and message"
    for error in errors.REGISTRY.values():
        first_sentence = error.message.split(". ")[0]
        assert first_sentence.lower() not in text.lower(), f"{name} keeps a copy of {error.code}'s sentence"


def test_no_kit_template_keeps_a_copy_of_a_registry_sentence():
    templates = {path.name: path.read_text().lower() for path in (PROXY_DIR / "templates/proxy").glob("*.html")}
    for error in errors.REGISTRY.values():
        first_sentence = error.message.split(". ")[0].lower()
        assert [name for name, text in templates.items() if first_sentence in text] == [], error.code


def test_hostkit_keeps_sentences_only_for_what_the_host_page_alone_knows():
    from proxy.templatetags.proxy import HOSTKIT_TEXT

    assert set(HOSTKIT_TEXT) == HOSTKIT_OWN_SENTENCES
    text = (JS_DIR / "hostkit.js").read_text()
    assert {key for key in HOSTKIT_OWN_SENTENCES if f'text("{key}")' in text} == HOSTKIT_OWN_SENTENCES - {
        "popup_blocked", "closed", "timeout", "orbit_unknown"}  # named by their error code: text(code)
    for sentence in HOSTKIT_TEXT.values():  # the one source is the catalogue: no copy in the script's strings
        assert f'"{sentence}"' not in text and f"'{sentence}'" not in text, sentence


@pytest.mark.parametrize("query", ["?mode=bogus", "?marketplace=abc", "?marketplace=99"])
def test_the_error_page_carries_the_kits_csp(cyclr, user, query):
    response = logged_in(user).get(reverse("proxy:launch") + query)
    assert response.status_code in (400, 502)
    csp = {d.split()[0]: d.split()[1:] for d in response["Content-Security-Policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9_-]{16,}'", csp["script-src"][0])
    assert csp["frame-src"] == ["'none'"] and csp["connect-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'self'"]  # inline mode frames proxy:launch in the host's page
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_orbit_error_page_carries_the_kits_csp(cyclr, user, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "API_URL": "http://127.0.0.1:9", "API_TIMEOUT": (2, 2)}
    response = logged_in(user).get(reverse("proxy:orbit"))
    assert response.status_code == 502
    csp = {d.split()[0]: d.split()[1:] for d in response["Content-Security-Policy"].split("; ")}
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'self'"]
    assert 'data-code="cyclr_unreachable"' in response.content.decode()


def test_the_status_of_a_launch_you_cannot_see_is_a_404_error_in_json(user):
    response = logged_in(user).get(reverse("proxy:status", args=["7c9e6679-7425-40de-944b-e07fc1f90ae7"]))
    assert response.status_code == 404
    assert response.json() == {"type": "error", "id": None, "code": "not_found", "terminal": True,
                               "message": errors.REGISTRY["not_found"].message}


def test_a_proxy_error_without_a_sentence_says_the_registrys_in_its_str():
    from proxy.errors import default_message
    from proxy.exceptions import ProxyError

    error = ProxyError("not_found")
    assert str(error) == f"[not_found] {default_message('not_found')}" and error.message
