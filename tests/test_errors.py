"""The one registry of error codes (proxy/errors.py), and that every door answers from it."""
import json
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

import proxy
from proxy import errors
from proxy.exceptions import LaunchRejected

pytestmark = pytest.mark.django_db(transaction=True)

PROXY_DIR = Path(proxy.__file__).parent
# Reasons an accepted result fails verification (install_failed's reason.code) are not HTTP answers.
REASON_MODULES = {"verification.py", "replay.py"}
RAISED = re.compile(r"\b(?:InvalidResult|LaunchRejected|ProxyError|CyclrAPIError|_refuse)\(\s*\"([a-z_]+)\"")
# Codes chosen by an expression (cyclr.py: "cyclr_unauthorized" if ... else "cyclr_api_error").
CHOSEN = re.compile(r"\"(cyclr_[a-z_]+)\"")


def codes_raised():
    """``{code: [file, ...]}`` for every literal code the kit's modules raise or answer with."""
    found = {}
    for path in PROXY_DIR.glob("*.py"):
        if path.name in REASON_MODULES:
            continue
        text = path.read_text()
        for code in RAISED.findall(text) + (CHOSEN.findall(text) if path.name == "cyclr.py" else []):
            found.setdefault(code, []).append(path.name)
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
    terminal = set(errors.terminal_codes())
    assert {"unauthenticated", "forbidden", "not_found", "expired", "invalid_result", "too_large", "malformed",
            "conflict"} <= terminal
    assert not terminal & {"server_error", "cyclr_timeout", "cyclr_unreachable"}


def test_an_exception_without_a_sentence_takes_the_registrys():
    assert LaunchRejected("expired").message == errors.REGISTRY["expired"].message


def test_the_proxy_page_and_the_redirect_landing_get_the_terminal_codes(cyclr, user):
    client = logged_in(user)
    launch_config = page_config(client.get(reverse("proxy:launch")), "proxy-config")
    complete_config = page_config(client.get(reverse("proxy:complete")), "complete-config")
    assert launch_config["terminalCodes"] == complete_config["terminalCodes"] == errors.terminal_codes()


def test_the_proxy_page_script_reads_the_terminal_codes_from_its_config():
    script = (PROXY_DIR / "static/proxy/js/proxy.js").read_text()
    assert "config.terminalCodes" in script


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
