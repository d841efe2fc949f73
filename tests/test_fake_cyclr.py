"""The fake Cyclr, tested over real HTTP with `requests` (no Django involved)."""

from __future__ import annotations

from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import json
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from proxy.testing.fake_cyclr import FakeCyclr
from proxy.testing.fake_cyclr.pages import embed_json
from proxy.testing.marketplace import install_over_http

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGURED_HTML = (
    '<div id="configured-complete"><p>{{InstallCompleteMessage}}</p>'
    "<script>window.seenAccount = result.accountApiId;</script></div>"
)
NOT_STARTED_ERROR = "Please set up all the steps correctly before starting the cycle."
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ElementCollector(HTMLParser):
    """Every start tag of a page, as (tag, attributes)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and all(attrs.get(key.rstrip("_")) == value for key, value in wanted.items())
        ]

    def one(self, tag: str, **wanted: str) -> dict[str, str | None]:
        found = self.find(tag, **wanted)
        assert len(found) == 1, f"expected one <{tag} {wanted}>, found {len(found)}"
        return found[0]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock):
    with FakeCyclr(clock=clock, complete_html=CONFIGURED_HTML, marketplace_ids=(1, 2)) as running:
        yield running


@pytest.fixture
def http():
    """A requests session that keeps every response it saw (redirect hops included)."""
    session = requests.Session()
    session.seen = []
    session.hooks["response"].append(lambda response, *args, **kwargs: session.seen.append(response))
    yield session
    session.close()


def get_token(fake: FakeCyclr, http: requests.Session) -> str:
    response = http.post(
        f"{fake.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def mint(fake, http, account_api_id="acct-1", token=None, **body) -> requests.Response:
    body.setdefault("MarketplaceId", 1)
    return http.post(
        f"{fake.url}/v1.0/accounts/{quote(account_api_id, safe='')}/marketplace",
        json=body,
        headers={"Authorization": f"Bearer {token or get_token(fake, http)}"},
    )


def sign_in(fake, http, account_api_id="acct-1", **body) -> str:
    """Mint a URL, follow it, and return the Marketplace page's URL (with its session)."""
    minted = mint(fake, http, account_api_id, **body)
    assert minted.status_code == 200, minted.text
    response = http.get(minted.json()["MarketplaceUrl"], allow_redirects=False)
    assert response.status_code == 302, response.text
    return fake.url + response.headers["Location"]


def install(fake, http, *, package_id: int, start: bool, account_api_id="acct-1", **mint_body) -> requests.Response:
    """Walk the UI from sign-in to the Launch Complete page; return that page's response."""
    marketplace = http.get(sign_in(fake, http, account_api_id, **mint_body))
    assert marketplace.status_code == 200
    page = ElementCollector(marketplace.text)
    assert page.find("li", class_="package", **{"data-package-id": str(package_id)}), f"no package {package_id}"
    hrefs = [a["href"] for a in page.find("a", class_="install")]
    href = next(h for h in hrefs if f"/packages/{package_id}/install?" in h)
    form_page = http.get(fake.url + href)
    assert form_page.status_code == 200
    action = ElementCollector(form_page.text).one("form", id="connector-auth")["action"]
    data = {"api_key": "secret-key"}
    if start:
        data["start_cycles"] = "1"
    posted = http.post(fake.url + action, data=data, allow_redirects=False)
    assert posted.status_code == 303, posted.text
    complete = http.get(fake.url + posted.headers["Location"])
    assert complete.status_code == 200
    return complete


def page_result(page: str) -> dict:
    match = re.search(r"<script>var result = (.*?);</script>", page)
    assert match, "the page defines no `var result`"
    return json.loads(match.group(1))


# --- OAuth and bearer tokens ---------------------------------------------------------------------------


def test_token_is_issued_for_the_right_credentials(fake, http):
    response = http.post(
        f"{fake.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1209599
    assert len(body["access_token"]) >= 32
    assert fake.token_requests == 1


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "wrong"},
        {"grant_type": "client_credentials", "client_id": "other-client", "client_secret": "demo-secret"},
        {"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret"},
        {},
    ],
)
def test_token_is_refused_for_wrong_credentials_or_grant(fake, http, form):
    response = http.post(f"{fake.url}/oauth/token", data=form)
    assert response.status_code == 401
    assert response.json()["Message"]
    assert fake.token_requests == 0


def test_api_calls_need_a_valid_bearer_token(fake, http):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}):
        response = http.get(f"{fake.url}/v1.0/accounts/acct-1", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"Message": "Authorization has been denied for this request."}


def test_api_delay_slows_partner_api_calls_only(fake, http):
    token = get_token(fake, http)
    fake.api_delay = 0.5  # set as an attribute, as the constructor option sets it
    started = time.monotonic()
    assert mint(fake, http, token=token).status_code == 200
    assert time.monotonic() - started >= 0.5
    started = time.monotonic()
    get_token(fake, http)  # /oauth/token is not the Partner API: no delay
    assert time.monotonic() - started < 0.5


def test_api_delay_is_a_constructor_option_off_by_default(fake, http):
    assert fake.api_delay == 0
    with FakeCyclr(api_delay=0.3) as slow:
        token = get_token(slow, http)
        started = time.monotonic()
        assert mint(slow, http, token=token).status_code == 200
        assert time.monotonic() - started >= 0.3


def test_api_down_fails_the_partner_api_and_tokens_but_not_the_marketplace(fake, http):
    token = get_token(fake, http)
    url = mint(fake, http, token=token).json()["MarketplaceUrl"]
    fake.api_down = True  # an attribute, off by default
    for response in (mint(fake, http, token=token), http.post(f"{fake.url}/oauth/token", data={})):
        assert response.status_code == 503 and response.json()["Message"]
    assert http.get(url).status_code == 200  # the Marketplace pages keep working
    fake.api_down = False
    assert mint(fake, http, token=token).status_code == 200


def test_revoked_tokens_are_refused_and_a_new_one_works(fake, http):
    token = get_token(fake, http)
    assert mint(fake, http, token=token).status_code == 200
    fake.revoke_tokens()
    refused = mint(fake, http, token=token)
    assert refused.status_code == 401
    assert refused.json()["Message"] == "Authorization has been denied for this request."
    assert mint(fake, http, token=get_token(fake, http)).status_code == 200
    assert fake.token_requests == 2


def test_access_tokens_expire_with_the_clock(fake, http, clock):
    token = get_token(fake, http)
    clock.advance(1209599 - 1)
    assert mint(fake, http, token=token).status_code == 200
    clock.advance(1)
    assert mint(fake, http, token=token).status_code == 401


# --- minting Marketplace URLs --------------------------------------------------------------------------


def test_mint_returns_a_marketplace_url_and_creates_the_account_once(fake, http, clock):
    first = mint(
        fake, http, "acct-1", AccountName="Acme Ltd", AccountDescription="Acme's account",
        InlineOAuth=False, ConnectorAuthentications=[], CompleteParameter="signed-launch-id",
    )
    assert first.status_code == 200, first.text
    body = first.json()
    url = urlsplit(body["MarketplaceUrl"])
    assert f"{url.scheme}://{url.netloc}" == fake.url
    assert url.path == "/account/signinwithtoken"
    assert url.query == f"token={body['Token']}&returnUrl=%2Flaunch%2Fmarketplace%2F1"
    assert body["AccountId"] == "acct-1"  # the API id, as cyclr/docs marketplace-deployment.md shows it
    assert body["ExpiresAtUtc"] == "2030-01-01T12:05:00.000Z"

    second = mint(fake, http, "acct-1", AccountName="Renamed Ltd")
    assert second.json()["AccountId"] == body["AccountId"]
    assert second.json()["Token"] != body["Token"]
    (guid,) = [a["Id"] for a in fake.accounts.values()]
    assert GUID.match(guid)  # Cyclr's own id for the account, which the mint does not show
    assert fake.accounts == {
        "acct-1": {"Id": guid, "ApiId": "acct-1", "Name": "Acme Ltd", "Description": "Acme's account"}
    }
    recorded = fake.marketplace_requests
    assert [r["account_api_id"] for r in recorded] == ["acct-1", "acct-1"]
    assert recorded[0]["body"] == {
        "MarketplaceId": 1, "AccountName": "Acme Ltd", "AccountDescription": "Acme's account",
        "InlineOAuth": False, "ConnectorAuthentications": [], "CompleteParameter": "signed-launch-id",
    }
    assert recorded[0]["headers"]["Authorization"].startswith("Bearer ")


def test_mint_for_an_unknown_marketplace_is_404_and_creates_nothing(fake, http):
    response = mint(fake, http, MarketplaceId=7)
    assert response.status_code == 404
    assert "7" in response.json()["Message"]
    assert fake.accounts == {}
    assert fake.marketplace_requests == []


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1]", b"{}", b'{"MarketplaceId": "1"}', b'{"MarketplaceId": true}',
     b'{"MarketplaceId": 1, "CompleteParameter": 5}'],
)
def test_mint_rejects_malformed_bodies(fake, http, payload):
    response = http.post(
        f"{fake.url}/v1.0/accounts/acct-1/marketplace",
        data=payload,
        headers={"Authorization": f"Bearer {get_token(fake, http)}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["Message"]
    assert fake.accounts == {}


def test_get_account_by_guid_or_api_id(fake, http):
    mint(fake, http, "acct-1", AccountName="Acme")
    account_id = fake.accounts["acct-1"]["Id"]
    headers = {"Authorization": f"Bearer {get_token(fake, http)}"}
    for reference in (account_id, account_id.upper(), "acct-1"):
        response = http.get(f"{fake.url}/v1.0/accounts/{reference}", headers=headers)
        assert response.status_code == 200
        # Create an account: Id is "The External Account ID", the API id.
        assert response.json() == {"Id": "acct-1", "Name": "Acme", "Description": ""}
    missing = http.get(f"{fake.url}/v1.0/accounts/nobody", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"Message": "Account not found."}


# --- signing in with a minted URL ----------------------------------------------------------------------


def test_a_marketplace_url_works_once(fake, http):
    url = mint(fake, http).json()["MarketplaceUrl"]
    first = http.get(url, allow_redirects=False)
    assert first.status_code == 302
    location = urlsplit(first.headers["Location"])
    assert location.path == "/launch/marketplace/1"
    assert list(parse_qs(location.query)) == ["session"]

    again = http.get(url, allow_redirects=False)
    assert again.status_code == 403
    assert 'id="link-expired"' in again.text
    assert "start again from the app" in again.text


def test_a_marketplace_url_expires_after_its_ttl(fake, http, clock):
    fresh = mint(fake, http).json()["MarketplaceUrl"]
    stale = mint(fake, http).json()["MarketplaceUrl"]
    clock.advance(299)
    assert http.get(fresh, allow_redirects=False).status_code == 302
    clock.advance(1)
    expired = http.get(stale, allow_redirects=False)
    assert expired.status_code == 403
    assert 'id="link-expired"' in expired.text


def test_an_unknown_token_is_refused(fake, http):
    response = http.get(f"{fake.url}/account/signinwithtoken?token=forged&returnUrl=%2Flaunch%2Fmarketplace%2F1")
    assert response.status_code == 403
    assert 'id="link-expired"' in response.text


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/launch/marketplace/1",
        "//evil.example/launch/marketplace/1",
        "/\\evil.example/launch/marketplace/1",
        "/launch/marketplace/1/../../../evil",
        "/launch/marketplacex/1",
        "/launch/marketplace/",
        "/launch/marketplace/1?next=https://evil.example",
        "/account/settings",
        "",
    ],
)
def test_lookalike_return_urls_are_rejected_without_spending_the_token(fake, http, return_url):
    token = mint(fake, http).json()["Token"]
    rejected = http.get(
        f"{fake.url}/account/signinwithtoken",
        params={"token": token, "returnUrl": return_url},
        allow_redirects=False,
    )
    assert rejected.status_code == 400
    assert "Location" not in rejected.headers
    accepted = http.get(
        f"{fake.url}/account/signinwithtoken",
        params={"token": token, "returnUrl": "/launch/marketplace/1"},
        allow_redirects=False,
    )
    assert accepted.status_code == 302


# --- the Marketplace UI --------------------------------------------------------------------------------


def test_full_install_flow_yields_the_documented_result(fake, http):
    mint(fake, http, "acct-1")
    account_id = fake.accounts["acct-1"]["Id"]  # the result's accountId is Cyclr's GUID for the account
    marketplace_url = sign_in(fake, http, "acct-1", CompleteParameter="launch-42")
    marketplace = http.get(marketplace_url)
    assert marketplace.status_code == 200
    page = ElementCollector(marketplace.text)
    page.one("h1", id="marketplace-title")
    packages = page.find("li", class_="package")
    assert {p["data-package-id"] for p in packages} >= {"1", "2"}
    session = parse_qs(urlsplit(marketplace_url).query)["session"][0]
    install_links = [a["href"] for a in page.find("a", class_="install")]
    assert f"/launch/marketplace/1/packages/2/install?session={session}" in install_links

    form_page = http.get(f"{fake.url}/launch/marketplace/1/packages/2/install?session={session}")
    form = ElementCollector(form_page.text)
    form_element = form.one("form", id="connector-auth")
    assert form_element["action"] == f"/launch/marketplace/1/packages/2/install?session={session}"
    assert form_element["method"] == "post"
    assert "required" in form.one("input", id="api_key", name="api_key")
    checkbox = form.one("input", id="start_cycles", name="start_cycles")
    assert checkbox["type"] == "checkbox" and checkbox["value"] == "1" and "checked" in checkbox
    assert form.one("button", id="install-button")["type"] == "submit"
    assert "API key for Mailchimp" in form_page.text
    assert "Start the integration after installing" in form_page.text

    posted = http.post(
        f"{fake.url}/launch/marketplace/1/packages/2/install?session={session}",
        data={"api_key": "key-123", "start_cycles": "1"},
        allow_redirects=False,
    )
    assert posted.status_code == 303
    location = urlsplit(posted.headers["Location"])
    assert location.path == "/launch/marketplace/1/complete"
    [record] = fake.installs
    assert parse_qs(location.query) == {"session": [session], "install": [record["id"]]}

    complete = http.get(fake.url + posted.headers["Location"])
    assert complete.status_code == 200
    result = page_result(complete.text)
    assert set(result) == {
        "accountId", "accountApiId", "userId", "installCompleteMessage", "marketplacePackageId", "cycles", "errors"
    }
    assert result["accountId"] == account_id
    assert result["accountApiId"] == "acct-1"
    assert isinstance(result["userId"], str) and result["userId"]
    assert result["installCompleteMessage"] == "Integration is now active"
    assert result["marketplacePackageId"] == 2
    assert result["errors"] == []
    assert len(result["cycles"]) == 2
    for cycle in result["cycles"]:
        assert set(cycle) == {"cycleId", "templateId", "templateReleaseId", "status", "webhooks"}
        assert GUID.match(cycle["cycleId"]) and GUID.match(cycle["templateId"])
        assert GUID.match(cycle["templateReleaseId"])
        assert cycle["status"] == "Active"
        [webhook] = cycle["webhooks"]
        assert webhook["stepName"]
        assert re.fullmatch(re.escape(fake.url) + r"/api/webhook/[A-Za-z0-9_-]{20,}", webhook["url"])
    assert len({c["templateId"] for c in result["cycles"]}) == 2

    # The configured HTML follows the result, verbatim, with the merge field filled in.
    text = complete.text
    assert text.index("var result =") < text.index('<div id="configured-complete">')
    assert "<script>window.seenAccount = result.accountApiId;</script>" in text
    assert "<p>Integration is now active</p>" in text
    assert re.search(r'<h1 id="install-complete">Integration is now active</h1>', text)

    assert record["complete_parameter"] == "launch-42"
    assert record["package_id"] == 2 and record["account_api_id"] == "acct-1"
    assert [c["cycleId"] for c in record["cycles"]] == [c["cycleId"] for c in result["cycles"]]
    assert set(fake.cycles) == {c["cycleId"] for c in result["cycles"]}


def test_installing_without_starting_gives_stopped_cycles_and_errors(fake, http):
    result = page_result(install(fake, http, package_id=1, start=False).text)
    assert result["installCompleteMessage"] == "Integration installed with errors"
    assert result["errors"] == [NOT_STARTED_ERROR]
    [cycle] = result["cycles"]
    assert cycle["status"] == "Stopped"
    response = http.get(
        f"{fake.url}/v1.0/cycles/{cycle['cycleId']}",
        headers={"Authorization": f"Bearer {get_token(fake, http)}", "X-Cyclr-Account": "acct-1"},
    )
    assert response.json()["Status"] == "Paused"  # the API's word for it (Install a cycle; Activate a cycle)
    fake.stopped_status = "Stopped"  # the knob for a Cyclr whose API says Stopped too
    assert http.get(response.url, headers=response.request.headers).json()["Status"] == "Stopped"


def test_a_package_without_webhook_step_has_no_webhooks(fake, http):
    result = page_result(install(fake, http, package_id=3, start=True).text)
    assert [c["webhooks"] for c in result["cycles"]] == [[]]


def test_an_empty_api_key_re_renders_the_form_with_an_error(fake, http):
    session = parse_qs(urlsplit(sign_in(fake, http)).query)["session"][0]
    response = http.post(
        f"{fake.url}/launch/marketplace/1/packages/1/install?session={session}", data={"api_key": "  "}
    )
    assert response.status_code == 400
    page = ElementCollector(response.text)
    page.one("p", id="auth-error", class_="error")
    page.one("form", id="connector-auth")
    assert "checked" not in page.one("input", id="start_cycles")  # the user's choice is kept
    assert fake.installs == []


def test_pages_refuse_a_missing_or_foreign_session(fake, http):
    session = parse_qs(urlsplit(sign_in(fake, http)).query)["session"][0]
    for path in (
        "/launch/marketplace/1",
        "/launch/marketplace/1?session=forged",
        "/launch/marketplace/1/packages/1/install?session=forged",
        f"/launch/marketplace/2?session={session}",  # the session is for Marketplace 1
    ):
        response = http.get(fake.url + path)
        assert response.status_code == 403, path
        assert 'id="session-invalid"' in response.text
    forged_post = http.post(
        f"{fake.url}/launch/marketplace/1/packages/1/install?session=forged", data={"api_key": "k"}
    )
    assert forged_post.status_code == 403
    assert fake.installs == []


def test_a_complete_page_is_only_shown_to_its_own_session(fake, http):
    complete = install(fake, http, package_id=1, start=True)
    install_id = fake.installs[0]["id"]
    other_session = parse_qs(urlsplit(sign_in(fake, http, "acct-2")).query)["session"][0]
    response = http.get(f"{fake.url}/launch/marketplace/1/complete?session={other_session}&install={install_id}")
    assert response.status_code == 404
    assert "var result" not in response.text
    assert complete.status_code == 200


def test_the_result_is_embedded_safely(fake, http):
    api_id = "x</script><b>&\u2028"
    page = install(fake, http, package_id=1, start=True, account_api_id=api_id).text
    assert "</script><b>" not in page
    assert "\u2028" not in page
    assert r'"accountApiId": "x\u003c/script\u003e\u003cb\u003e\u0026\u2028"' in page
    assert page_result(page)["accountApiId"] == api_id


def test_set_complete_html_changes_the_page_and_none_shows_the_placeholder(fake, http):
    fake.set_complete_html('<p id="replaced">New snippet</p>')
    assert '<p id="replaced">New snippet</p>' in install(fake, http, package_id=1, start=True).text
    fake.set_complete_html(None)
    page = install(fake, http, package_id=1, start=True).text
    assert "No Launch Complete HTML is configured" in page
    assert "var result =" in page


def test_no_cookies_and_no_framing_restrictions_anywhere(fake, http):
    install(fake, http, package_id=2, start=True)
    http.get(f"{fake.url}/account/signinwithtoken?token=used&returnUrl=%2Flaunch%2Fmarketplace%2F1")
    assert len(http.seen) >= 8
    for response in http.seen:
        assert "Set-Cookie" not in response.headers, response.url
        assert "X-Frame-Options" not in response.headers, response.url
        assert "frame-ancestors" not in response.headers.get("Content-Security-Policy", ""), response.url
        assert "Cross-Origin-Opener-Policy" not in response.headers, response.url
    assert len(http.cookies) == 0


# --- signing in as Cyclr does (session_cookie) and refusing frames (refuse_framing): docs/framing.md ------


def test_session_cookie_signs_in_with_a_cookie_the_next_pages_need(http):
    with FakeCyclr(session_cookie=True, complete_html=CONFIGURED_HTML) as fake:
        assert fake.session_cookie and not FakeCyclr().session_cookie  # off by default
        signed_in = http.get(mint(fake, http).json()["MarketplaceUrl"], allow_redirects=False)
        assert signed_in.status_code == 302
        assert signed_in.headers["Location"] == "/launch/marketplace/1"  # no session in the URL any more
        # 127.0.0.1 is a secure origin to a browser: the cookie framed pages would need (third-party) is sent.
        name, _, rest = signed_in.headers["Set-Cookie"].partition("=")
        value, _, attributes = rest.partition(";")
        assert name == "cyclr_session" and value
        assert [a.strip() for a in attributes.split(";")] == ["Path=/", "HttpOnly", "SameSite=None", "Secure"]

        # Without the cookie (a browser that blocks it where the Marketplace is framed): "session expired".
        expired = requests.get(fake.url + "/launch/marketplace/1")
        assert expired.status_code == 403 and 'id="session-expired"' in expired.text
        assert requests.get(fake.url + "/launch/marketplace/1?session=" + value).status_code == 403

        # With it, the whole install goes through; the links carry no session.
        cookie = {"Cookie": f"cyclr_session={value}"}
        page = ElementCollector(requests.get(fake.url + "/launch/marketplace/1", headers=cookie).text)
        href = next(a["href"] for a in page.find("a", class_="install") if "/packages/2/install" in a["href"])
        assert "session" not in href
        posted = requests.post(fake.url + href, data={"api_key": "k", "start_cycles": "1"}, headers=cookie,
                               allow_redirects=False)
        assert posted.status_code == 303 and "session" not in posted.headers["Location"]
        complete = requests.get(fake.url + posted.headers["Location"], headers=cookie)
        assert complete.status_code == 200 and page_result(complete.text)["accountApiId"] == "acct-1"
        assert requests.get(fake.url + posted.headers["Location"]).status_code == 403


def test_session_cookie_on_a_plain_http_name_is_lax_not_secure(http):
    # A browser drops a Secure cookie from a plain-http origin it does not count as secure.
    with FakeCyclr(session_cookie=True) as fake:
        url = mint(fake, http).json()["MarketplaceUrl"]
        fake.public_host = "acme-h.cyclr.test"  # the name its pages are served under from now on
        signed_in = http.get(url, allow_redirects=False)
        assert signed_in.headers["Set-Cookie"].endswith("; Path=/; HttpOnly; SameSite=Lax")


def test_session_cookie_is_an_attribute_too_and_launch_links_use_it(http):
    with FakeCyclr() as fake:
        fake.session_cookie = True
        token = get_token(fake, http)
        launch = http.post(f"{fake.url}/v1.0/accounts/acct-1/launch", json={"Tags": ["crm"]},
                           headers={"Authorization": f"Bearer {token}"})
        signed_in = http.get(launch.json()["LaunchUrl"], allow_redirects=False)
        assert signed_in.headers["Location"] == "/launch/cycles" and "cyclr_session=" in signed_in.headers["Set-Cookie"]
        assert 'id="session-expired"' in requests.get(fake.url + "/launch/cycles").text


def test_refuse_framing_forbids_frames_on_every_marketplace_page_only(http):
    with FakeCyclr(refuse_framing=True, complete_html=CONFIGURED_HTML) as fake:
        install(fake, http, package_id=2, start=True)
        http.get(f"{fake.url}/account/signinwithtoken?token=used&returnUrl=%2Flaunch%2Fmarketplace%2F1")
        ui = [r for r in http.seen if not urlsplit(r.url).path.startswith(("/v1.0", "/oauth/"))]
        assert [urlsplit(r.url).path for r in ui][0] == "/account/signinwithtoken" and len(ui) == 6
        assert 403 in [r.status_code for r in ui] and 302 in [r.status_code for r in ui]
        for response in ui:
            assert response.headers["X-Frame-Options"] == "DENY", response.url
            assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'", response.url
        for response in http.seen:
            if response not in ui:
                assert "X-Frame-Options" not in response.headers, response.url
        fake.refuse_framing = False
        assert "X-Frame-Options" not in http.get(fake.url + "/launch/marketplace/1").headers


def test_the_command_line_takes_both_knobs():
    from proxy.testing.fake_cyclr.__main__ import _parser

    args = _parser().parse_args(["--session-cookie", "--refuse-framing"])
    assert args.session_cookie and args.refuse_framing
    assert not _parser().parse_args([]).session_cookie


def test_opener_policy_is_sent_on_html_pages_when_configured(http):
    with FakeCyclr(opener_policy="same-origin") as fake:
        page = http.get(f"{fake.url}/account/signinwithtoken?token=none&returnUrl=%2Flaunch%2Fmarketplace%2F1")
        assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        token = http.post(
            f"{fake.url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"},
        )
        assert "Cross-Origin-Opener-Policy" not in token.headers


# --- timing knobs: coop, complete_delay, instant_complete ----------------------------------------------


def test_coop_sends_the_opener_policy_on_every_marketplace_page_and_redirect(http):
    with FakeCyclr(coop=True, complete_html=CONFIGURED_HTML) as fake:
        assert fake.coop and fake.opener_policy == "same-origin"
        install(fake, http, package_id=2, start=True)
        ui = [r for r in http.seen if not urlsplit(r.url).path.startswith(("/v1.0", "/oauth/"))]
        assert [urlsplit(r.url).path for r in ui] == [
            "/account/signinwithtoken", "/launch/marketplace/1", "/launch/marketplace/1/packages/2/install",
            "/launch/marketplace/1/packages/2/install", "/launch/marketplace/1/complete",
        ]
        assert [r.status_code for r in ui] == [302, 200, 200, 303, 200]
        for response in ui:
            assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin", response.url
        for response in http.seen:
            if urlsplit(response.url).path.startswith(("/v1.0", "/oauth/")):
                assert "Cross-Origin-Opener-Policy" not in response.headers, response.url

        fake.coop = False  # a knob that can be turned while the fake runs
        page = http.get(f"{fake.url}/account/signinwithtoken?token=none&returnUrl=%2Flaunch%2Fmarketplace%2F1")
        assert "Cross-Origin-Opener-Policy" not in page.headers
        assert fake.opener_policy is None


def test_coop_and_another_opener_policy_cannot_both_be_asked_for():
    with pytest.raises(ValueError, match="same-origin"):
        FakeCyclr(coop=True, opener_policy="unsafe-none")


def _finishing_link(page: requests.Response) -> tuple[str, int]:
    link = ElementCollector(page.text).one("a", id="continue")
    return link["href"], int(link["data-delay-ms"])


def test_complete_delay_puts_a_finishing_page_between_install_and_launch_complete(http):
    with FakeCyclr(complete_delay=30) as fake:
        session = parse_qs(urlsplit(sign_in(fake, http)).query)["session"][0]
        started = time.monotonic()
        posted = http.post(
            f"{fake.url}/launch/marketplace/1/packages/1/install?session={session}",
            data={"api_key": "k", "start_cycles": "1"}, allow_redirects=False,
        )
        assert posted.status_code == 303
        [record] = fake.installs  # installed now; only the window waits
        location = urlsplit(posted.headers["Location"])
        assert location.path == "/launch/marketplace/1/finishing"
        assert parse_qs(location.query) == {"session": [session], "install": [record["id"]]}

        finishing = http.get(fake.url + posted.headers["Location"])
        assert time.monotonic() - started < 10, "the delay must pass in the browser, not in a server thread"
        assert finishing.status_code == 200
        assert "var result" not in finishing.text
        href, delay_ms = _finishing_link(finishing)
        assert delay_ms == 30000
        assert href == f"/launch/marketplace/1/complete?session={session}&install={record['id']}"
        assert f"setTimeout(function () {{ location.replace({embed_json(href)}); }}, 30000);" in finishing.text
        assert f'<meta http-equiv="refresh" content="30;url={href.replace("&", "&amp;")}">' in finishing.text

        complete = http.get(fake.url + href)
        assert page_result(complete.text)["cycles"][0]["cycleId"] == record["cycles"][0]["cycleId"]


def test_complete_delay_is_settable_at_runtime_and_zero_goes_straight_to_launch_complete(fake, http):
    assert fake.complete_delay == 0
    fake.complete_delay = 2.5
    session = parse_qs(urlsplit(sign_in(fake, http)).query)["session"][0]
    posted = http.post(
        f"{fake.url}/launch/marketplace/1/packages/1/install?session={session}", data={"api_key": "k"},
        allow_redirects=False,
    )
    finishing = http.get(fake.url + posted.headers["Location"])
    assert _finishing_link(finishing)[1] == 2500
    assert 'content="3;url=' in finishing.text  # a meta refresh counts whole seconds: rounded up

    fake.complete_delay = 0
    assert urlsplit(install(fake, http, package_id=1, start=True).url).path == "/launch/marketplace/1/complete"
    for bad in (-1, float("nan"), float("inf"), "3", True):
        with pytest.raises(ValueError):
            fake.complete_delay = bad
    assert fake.complete_delay == 0


def test_a_finishing_page_is_only_shown_to_its_own_session(http):
    with FakeCyclr(complete_delay=5) as fake:
        install(fake, http, package_id=1, start=True)  # the helper follows the 303 to the finishing page
        install_id = fake.installs[0]["id"]
        other = parse_qs(urlsplit(sign_in(fake, http, "acct-2")).query)["session"][0]
        response = http.get(f"{fake.url}/launch/marketplace/1/finishing?session={other}&install={install_id}")
        assert response.status_code == 404
        assert 'id="continue"' not in response.text
        assert http.get(f"{fake.url}/launch/marketplace/1/finishing?session=forged").status_code == 403


def test_install_over_http_goes_through_a_finishing_page(http):
    with FakeCyclr(complete_delay=30) as fake:
        result = install_over_http(mint(fake, http).json()["MarketplaceUrl"], package_id=2)
        [record] = fake.installs
        assert result["marketplacePackageId"] == 2
        assert [c["cycleId"] for c in result["cycles"]] == [c["cycleId"] for c in record["cycles"]]


def test_instant_complete_signs_in_straight_to_launch_complete_of_a_default_install(http):
    with FakeCyclr(instant_complete=True, complete_html=CONFIGURED_HTML) as fake:
        minted = mint(fake, http, "acct-1", CompleteParameter="signed-launch-9").json()
        signed_in = http.get(minted["MarketplaceUrl"], allow_redirects=False)
        assert signed_in.status_code == 302
        [record] = fake.installs
        location = urlsplit(signed_in.headers["Location"])
        assert location.path == "/launch/marketplace/1/complete"
        assert parse_qs(location.query)["install"] == [record["id"]]
        assert record["package_id"] == 1 and record["complete_parameter"] == "signed-launch-9"

        complete = http.get(fake.url + signed_in.headers["Location"])
        result = page_result(complete.text)
        assert result["errors"] == [] and [c["status"] for c in result["cycles"]] == ["Active"]
        assert '<div id="configured-complete">' in complete.text

        again = http.get(minted["MarketplaceUrl"], allow_redirects=False)
        assert again.status_code == 403  # still single-use: no second install
        assert len(fake.installs) == 1

        fake.instant_complete = False
        assert urlsplit(sign_in(fake, http)).path == "/launch/marketplace/1"
        assert len(fake.installs) == 1


def test_instant_complete_with_a_delay_shows_the_finishing_page_first_and_notifies(receiver, http):
    with FakeCyclr(instant_complete=True, complete_delay=4, notification_url=receiver.url) as fake:
        signed_in = http.get(mint(fake, http).json()["MarketplaceUrl"], allow_redirects=False)
        assert urlsplit(signed_in.headers["Location"]).path == "/launch/marketplace/1/finishing"
        href, delay_ms = _finishing_link(http.get(fake.url + signed_in.headers["Location"]))
        assert delay_ms == 4000
        [record] = fake.installs
        assert receiver.wait_for(1), "the notification is sent at install time, before Launch Complete shows"
        assert receiver.received[0]["body"]["MarketplaceInstallDetails"][0]["CycleId"] == record["cycles"][0]["cycleId"]
        result = page_result(http.get(fake.url + href).text)
        assert result["cycles"][0]["cycleId"] == record["cycles"][0]["cycleId"]


def test_install_over_http_returns_an_instant_install(http):
    with FakeCyclr(instant_complete=True) as fake:
        result = install_over_http(mint(fake, http).json()["MarketplaceUrl"], package_id=2)
        [record] = fake.installs
        assert record["package_id"] == 1 == result["marketplacePackageId"]


# --- cycles through the API ----------------------------------------------------------------------------


def test_the_older_pages_shape_gives_the_guid_in_mint_answers_and_the_account_resource(clock, http):
    with FakeCyclr(clock=clock, account_ids="guid", account_header="id") as fake:
        minted = mint(fake, http, "acct-1").json()
        guid = fake.accounts["acct-1"]["Id"]
        assert minted["AccountId"] == guid
        token = get_token(fake, http)
        account = http.get(f"{fake.url}/v1.0/accounts/acct-1", headers={"Authorization": f"Bearer {token}"}).json()
        assert account["Id"] == guid and account["ApiId"] == "acct-1"
        listed = http.get(f"{fake.url}/v1.0/cycles", headers={"Authorization": f"Bearer {token}", "X-Cyclr-Account": guid})
        assert listed.status_code == 200
        by_api_id = http.get(f"{fake.url}/v1.0/cycles",
                             headers={"Authorization": f"Bearer {token}", "X-Cyclr-Account": "acct-1"})
        assert by_api_id.status_code == 404 and by_api_id.json() == {"Message": "Account not found."}


@pytest.mark.parametrize("knobs", [{"account_ids": "uuid"}, {"account_header": "guid"}, {"stopped_status": "paused"}])
def test_a_knob_outside_its_choices_is_refused_at_once(knobs):
    with pytest.raises(ValueError):
        FakeCyclr(**knobs)


def test_a_cycle_is_visible_only_under_its_own_account(fake, http):
    result = page_result(install(fake, http, package_id=1, start=True, account_api_id="acct-1").text)
    cycle_id = result["cycles"][0]["cycleId"]
    mint(fake, http, "acct-2")
    token = get_token(fake, http)

    def get(account: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if account is not None:
            headers["X-Cyclr-Account"] = account
        return http.get(f"{fake.url}/v1.0/cycles/{cycle_id}", headers=headers)

    response = get(result["accountId"])  # the GUID: an account this Cyclr does not know in the header
    assert response.status_code == 404 and response.json() == {"Message": "Account not found."}
    fake.account_header = "either"
    for owner in ("acct-1", result["accountId"]):
        response = get(owner)
        assert response.status_code == 200
        body = response.json()
        assert body["Id"] == cycle_id
        assert body["Status"] == "Active"
        assert body["Name"] == "Sync Salesforce contacts"
        assert body["TemplateId"] == result["cycles"][0]["templateId"]
        assert body["TemplateReleaseId"] == result["cycles"][0]["templateReleaseId"]
        assert body["Connectors"] == [{"Name": "Salesforce", "Version": "1.0"}]
        assert body["CreatedOnUtc"] == "2030-01-01T12:00:00.000Z"
        assert "Webhooks" not in body  # none is documented on the cycle resource
    fake.cycle_webhooks = True
    # With the knob on, the API and the browser's result agree on the cycle's webhook step and its URL.
    body = get("acct-1").json()
    assert body["Webhooks"] == [{"StepName": w["stepName"], "Url": w["url"]} for w in result["cycles"][0]["webhooks"]]
    assert body["Webhooks"] and body["Webhooks"][0]["StepName"] == "Contact updated"
    for stranger in ("acct-2", fake.accounts["acct-2"]["Id"]):
        response = get(stranger)
        assert response.status_code == 404
        assert response.json() == {"Message": "Cycle not found."}
    assert get("nobody").json() == {"Message": "Account not found."}
    missing_header = get(None)
    assert missing_header.status_code == 400
    assert "X-Cyclr-Account" in missing_header.json()["Message"]
    assert fake.cycles[cycle_id]["AccountApiId"] == "acct-1"


def test_cycles_are_listed_per_account_and_paged(fake, http):
    install(fake, http, package_id=2, start=True, account_api_id="acct-1")
    install(fake, http, package_id=1, start=False, account_api_id="acct-1")
    install(fake, http, package_id=1, start=True, account_api_id="acct-2")
    headers = {"Authorization": f"Bearer {get_token(fake, http)}", "X-Cyclr-Account": "acct-1"}
    everything = http.get(f"{fake.url}/v1.0/cycles?page=1&pageSize=50", headers=headers).json()
    owned = [c["Id"] for c in fake.cycles.values() if c["AccountApiId"] == "acct-1"]
    assert [c["Id"] for c in everything] == owned and len(owned) == 3
    assert [c["Status"] for c in everything] == ["Active", "Active", "Paused"]
    second_page = http.get(f"{fake.url}/v1.0/cycles?page=2&pageSize=2", headers=headers).json()
    assert [c["Id"] for c in second_page] == owned[2:]
    fake.max_page_size = 1  # a Cyclr that gives fewer than asked: page 2 is then the second cycle
    capped = http.get(f"{fake.url}/v1.0/cycles?page=2&pageSize=50", headers=headers).json()
    assert [c["Id"] for c in capped] == owned[1:2]
    assert http.get(f"{fake.url}/v1.0/cycles?page=0", headers=headers).status_code == 400


def test_failing_accounts_fail_that_accounts_calls_only_and_every_api_call_is_listed(fake, http):
    install(fake, http, package_id=1, start=True, account_api_id="acct-1")
    install(fake, http, package_id=1, start=True, account_api_id="acct-2")
    token = get_token(fake, http)
    before = len(fake.api_calls)

    def cycles_of(account):
        headers = {"Authorization": f"Bearer {token}", "X-Cyclr-Account": account}
        return http.get(f"{fake.url}/v1.0/cycles?page=1&pageSize=50", headers=headers)

    fake.failing_accounts.add("acct-2")  # by API id; its Cyclr account id names it as well
    failing = [cycles_of("acct-2"), cycles_of(fake.accounts["acct-2"]["Id"]),
               http.get(f"{fake.url}/v1.0/accounts/acct-2", headers={"Authorization": f"Bearer {token}"})]
    assert [r.status_code for r in failing] == [500, 500, 500] and failing[0].json() == {"Message": "An error has occurred."}
    assert cycles_of("acct-1").status_code == 200
    fake.failing_accounts.clear()
    assert cycles_of("acct-2").status_code == 200
    # Query strings are left out: the kit's calls are counted by method and path.
    assert fake.api_calls[before:] == [("GET", "/v1.0/cycles")] * 2 + [("GET", "/v1.0/accounts/acct-2")] + [
        ("GET", "/v1.0/cycles")] * 2


def test_activations_record_the_body_of_each_activate_call(fake, http):
    result = page_result(install(fake, http, package_id=1, start=False).text)
    cycle_id = result["cycles"][0]["cycleId"]
    headers = {"Authorization": f"Bearer {get_token(fake, http)}", "X-Cyclr-Account": "acct-1"}

    assert http.put(f"{fake.url}/v1.0/cycles/{cycle_id}/activate", json={"Interval": 15, "RunOnce": False},
                    headers=headers).status_code == 200
    assert http.put(f"{fake.url}/v1.0/cycles/{cycle_id}/activate", headers=headers).status_code == 200  # no body
    assert http.put(f"{fake.url}/v1.0/cycles/{cycle_id}/deactivate", headers=headers).status_code == 200
    assert http.put(f"{fake.url}/v1.0/cycles/not-a-cycle/activate", json={"Interval": 5}, headers=headers).status_code == 404

    account_id = fake.accounts["acct-1"]["Id"]
    assert fake.activations == [{"cycle_id": cycle_id, "account_id": account_id, "body": {"Interval": 15, "RunOnce": False}},
                                {"cycle_id": cycle_id, "account_id": account_id, "body": {}}]


def test_webhook_urls_accept_calls_and_unknown_ones_do_not(fake, http):
    result = page_result(install(fake, http, package_id=1, start=True).text)
    webhook_url = result["cycles"][0]["webhooks"][0]["url"]
    response = http.post(webhook_url, json={"hello": "world"})
    assert response.status_code == 202
    assert response.json() == {"Message": "Queued"}
    assert http.post(f"{fake.url}/api/webhook/unknown-key").status_code == 404


# --- HTTP edges ----------------------------------------------------------------------------------------


def test_unknown_routes_and_wrong_methods(fake, http):
    missing = http.get(f"{fake.url}/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["Message"]
    wrong_method = http.get(f"{fake.url}/oauth/token")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_bodies_over_one_mebibyte_are_refused(fake):
    connection = HTTPConnection("127.0.0.1", fake.port, timeout=10)
    try:
        connection.putrequest("POST", "/oauth/token")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(1024 * 1024 + 1))
        connection.endheaders()
        connection.send(b"a" * (1024 * 1024 + 1))
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["Message"]
    finally:
        connection.close()
    assert fake.token_requests == 0


def test_url_is_known_only_once_started():
    fake = FakeCyclr()
    with pytest.raises(RuntimeError):
        fake.url
    with fake:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", fake.url)
        assert fake.origin == fake.url
        assert fake.port != 0


# --- the Marketplace webhook ------------------------------------------------------------------------------


class NotificationReceiver:
    """A host's Notification URL on 127.0.0.1: records each POST and answers with `status` (and `location`)."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.status, self.location = status, location
        self.received: list[dict] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.arrived:
                    receiver.received.append(
                        {"path": self.path, "content_type": self.headers.get("Content-Type"), "body": json.loads(body)}
                    )
                    receiver.arrived.notify_all()
                answer = json.dumps({"status": "accepted"}).encode()
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/proxy/webhook/the-secret/"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = NotificationReceiver()
    yield running
    running.close()


@pytest.fixture
def notifying_fake(clock, receiver):
    with FakeCyclr(clock=clock, marketplace_ids=(1, 2), notification_url=receiver.url) as running:
        yield running


def test_an_install_posts_the_pascal_case_notification_in_the_background(notifying_fake, receiver, http):
    fake = notifying_fake
    result = page_result(install(fake, http, package_id=2, start=True, CompleteParameter="signed-launch-7").text)

    assert receiver.wait_for(1), "no notification arrived"
    [arrival] = receiver.received
    assert arrival["path"] == "/proxy/webhook/the-secret/"
    assert arrival["content_type"] == "application/json"
    body = arrival["body"]
    [record] = fake.installs
    assert body == {
        "Status": "installed",
        "AccountId": result["accountId"],
        "AccountApiId": "acct-1",
        "MarketplaceIntegrationPackageId": 2,
        "MarketplaceInstallDetails": [
            {
                "CycleId": cycle["cycleId"],
                "CycleStatus": "Active",
                "Webhooks": [{"Url": w["url"], "StepName": w["stepName"]} for w in cycle["webhooks"]],
                "TemplateId": cycle["templateId"],
                "TemplateReleaseId": cycle["templateReleaseId"],
            }
            for cycle in result["cycles"]
        ],
        "Errors": [],
        "UserId": result["userId"],
        "CompleteParameter": "signed-launch-7",
    }
    assert fake.wait_for_notifications(1)
    assert fake.notifications == [
        {"url": receiver.url, "status": 200, "body": body, "response": '{"status": "accepted"}', "error": None}
    ]
    assert record["id"]  # the install the notification describes


def test_an_install_with_errors_notifies_its_errors_and_stopped_cycles(notifying_fake, receiver, http):
    install(notifying_fake, http, package_id=1, start=False)
    assert receiver.wait_for(1)
    body = receiver.received[0]["body"]
    assert body["Errors"] == [NOT_STARTED_ERROR]
    assert [d["CycleStatus"] for d in body["MarketplaceInstallDetails"]] == ["Stopped"]
    assert body["CompleteParameter"] is None  # minted without one


def test_send_notification_sends_on_demand_and_returns_the_status(notifying_fake, receiver, http):
    fake = notifying_fake
    fake.set_notification_url(None)  # no background send: this test controls the order
    install(fake, http, package_id=1, start=True)
    install_id = fake.installs[0]["id"]
    assert fake.notifications == [] and receiver.received == []

    fake.set_notification_url(receiver.url)
    assert fake.send_notification(install_id) == 200
    assert fake.send_notification(install_id, status="stopped") == 200
    assert [r["body"]["Status"] for r in receiver.received] == ["installed", "stopped"]
    assert [n["status"] for n in fake.notifications] == [200, 200]

    receiver.status = 500
    assert fake.send_notification(install_id, status="uninstalled") == 500
    assert fake.notifications[-1]["status"] == 500

    with pytest.raises(ValueError):
        fake.send_notification(install_id, status="exploded")
    with pytest.raises(KeyError):
        fake.send_notification("no-such-install")


def test_without_a_notification_url_nothing_is_sent(fake, http):
    install(fake, http, package_id=1, start=True)
    assert fake.notification_url is None
    assert not fake.wait_for_notifications(1, timeout=0.3)
    with pytest.raises(RuntimeError, match="Notification URL"):
        fake.send_notification(fake.installs[0]["id"])


def test_unanswered_and_redirected_notifications_are_recorded_not_followed(fake, http, receiver):
    install(fake, http, package_id=1, start=True)
    install_id = fake.installs[0]["id"]

    closed = NotificationReceiver()
    closed.close()  # nothing listens there any more
    assert fake.send_notification(install_id, url=closed.url) is None
    assert fake.notifications[-1]["status"] is None and fake.notifications[-1]["error"]

    receiver.status, receiver.location = 302, "/elsewhere/"
    assert fake.send_notification(install_id, url=receiver.url) == 302
    assert len(receiver.received) == 1  # not re-sent to /elsewhere/ as a GET


# --- the command line ----------------------------------------------------------------------------------


def test_cli_serves_logs_paths_without_query_strings_and_stops_cleanly(tmp_path):
    snippet = tmp_path / "launch_complete.html"
    snippet.write_text('<p id="from-file">snippet</p>', encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "proxy.testing.fake_cyclr", "--port", "0", "--client-id", "cli-client",
            "--client-secret", "cli-secret", "--marketplace-id", "5", "--complete-html-file", str(snippet),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"Fake Cyclr listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match.group(1)
        token = requests.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "cli-client", "client_secret": "cli-secret"},
        ).json()["access_token"]
        minted = requests.post(
            f"{url}/v1.0/accounts/acct-1/marketplace",
            json={"MarketplaceId": 5},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert requests.get(minted["MarketplaceUrl"]).status_code == 200
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "GET /account/signinwithtoken 302" in stderr
    assert "POST /v1.0/accounts/acct-1/marketplace 200" in stderr
    assert minted["Token"] not in stderr
    assert "session=" not in stderr and "?" not in stderr


def test_cli_sends_notifications_to_the_notification_url_without_logging_it(receiver):
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy.testing.fake_cyclr", "--port", "0", "--notification-url", receiver.url],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = re.fullmatch(r"Fake Cyclr listening on (http://127\.0\.0\.1:\d+)\n", process.stdout.readline()).group(1)
        token = requests.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"},
        ).json()["access_token"]
        minted = requests.post(
            f"{url}/v1.0/accounts/acct-9/marketplace", json={"MarketplaceId": 1, "CompleteParameter": "cp"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        install_over_http(minted["MarketplaceUrl"])
        assert receiver.wait_for(1), "the CLI's fake sent no notification"
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    body = receiver.received[0]["body"]
    assert body["Status"] == "installed" and body["AccountApiId"] == "acct-9" and body["CompleteParameter"] == "cp"
    assert "Marketplace notification installed" in stderr
    assert "the-secret" not in stderr


def test_a_bound_fake_knows_its_url_serves_only_once_started_and_stops_either_way():
    bound = FakeCyclr(host="127.0.0.1", port=0).bind()
    assert bound.url.startswith("http://127.0.0.1:")
    bound.stop()  # never served: must not hang

    fake = FakeCyclr(host="127.0.0.1", port=0).bind()
    try:
        fake.start()
        assert requests.post(f"{fake.url}/oauth/token", data={}, timeout=5).status_code == 401
    finally:
        fake.stop()


def test_cli_timing_knobs_coop_delay_and_instant_complete():
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy.testing.fake_cyclr", "--port", "0", "--coop", "--complete-delay", "1.5",
         "--instant-complete"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = re.fullmatch(r"Fake Cyclr listening on (http://127\.0\.0\.1:\d+)\n", process.stdout.readline()).group(1)
        token = requests.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"},
        ).json()["access_token"]
        minted = requests.post(
            f"{url}/v1.0/accounts/acct-1/marketplace", json={"MarketplaceId": 1},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        signed_in = requests.get(minted["MarketplaceUrl"], allow_redirects=False)
        assert signed_in.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert urlsplit(signed_in.headers["Location"]).path == "/launch/marketplace/1/finishing"
        finishing = requests.get(url + signed_in.headers["Location"])
        assert finishing.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert _finishing_link(finishing)[1] == 1500
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr


@pytest.mark.parametrize(
    "arguments", [["--complete-delay", "-1"], ["--complete-delay", "nan"], ["--coop", "--opener-policy", "unsafe-none"]]
)
def test_cli_refuses_bad_timing_knobs(arguments):
    finished = subprocess.run(
        [sys.executable, "-m", "proxy.testing.fake_cyclr", "--port", "0", *arguments],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=20,
    )
    assert finished.returncode == 2
    assert "Traceback" not in finished.stderr
    assert "--coop" in finished.stderr or "--complete-delay" in finished.stderr


# --- kept across restarts (state_file) -------------------------------------------------------------------------


def test_with_a_state_file_a_restarted_fake_keeps_accounts_cycles_and_installs(tmp_path, http, clock):
    state = tmp_path / "state.json"
    with FakeCyclr(clock=clock, complete_html=CONFIGURED_HTML, state_file=state) as fake:
        result = page_result(install(fake, http, package_id=1, start=True).text)
        install_id = fake.installs[-1]["id"]
    with FakeCyclr(clock=clock, state_file=state) as restarted:
        assert restarted.accounts == fake.accounts and set(restarted.cycles) == {result["cycles"][0]["cycleId"]}
        assert restarted.state.account_installs("acct-1")[0]["id"] == install_id
        restarted.state.uninstall(install_id)  # and a change is kept too
    with FakeCyclr(clock=clock, state_file=state) as again:
        assert again.cycles == {} and again.state.account_installs("acct-1") == []


def test_without_a_state_file_a_fake_keeps_nothing(tmp_path, http, clock):
    with FakeCyclr(clock=clock, complete_html=CONFIGURED_HTML) as fake:
        install(fake, http, package_id=1, start=True)
        assert fake.state.state_file is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["not json", "[]", '{"accounts": {}}', '{"accounts": [], "cycles": {}, '
                                     '"installs": [], "webhook_keys": {}}'])
def test_a_state_file_that_is_not_the_fakes_is_refused_naming_it(tmp_path, content):
    state = tmp_path / "state.json"
    state.write_text(content)
    with pytest.raises(ValueError, match="is not the fake Cyclr's saved state"):
        FakeCyclr(state_file=state)
    assert state.read_text() == content  # nothing written over it


def test_a_client_gone_mid_answer_prints_no_traceback_but_a_real_error_does(capsys):
    # Chromium closing a window while the fake answers (the click-to-Marketplace benchmark) is not an error.
    from proxy.testing.fake_cyclr.server import _FakeCyclrHTTPServer

    server = _FakeCyclrHTTPServer(("127.0.0.1", 0), FakeCyclr())
    try:
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "Connection reset by peer")):
            try:
                raise gone
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 50000))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a bug in the fake")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 50000))
        assert "ValueError: a bug in the fake" in capsys.readouterr().err
    finally:
        server.server_close()
