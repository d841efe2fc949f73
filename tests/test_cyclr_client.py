"""CyclrClient against the fake Cyclr over real HTTP: tokens, Marketplace URLs, cycles, errors."""
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from proxy import cyclr as cyclr_module
from proxy.cyclr import CyclrClient, MarketplaceURL
from proxy.exceptions import CyclrAPIError
from proxy.launches import sign_launch_id, unsign_launch_id
from proxy.testing.fake_cyclr import FakeCyclr
from proxy.testing.marketplace import install_over_http

from .conftest import CLIENT_ID, CLIENT_SECRET, CYCLR_SHAPES, FAKE_CYCLR_OPTIONS, PROXY_TEST_SETTINGS

UNKNOWN_CYCLE = "00000000-0000-4000-8000-000000000000"


def mint(client, account="tenant-42", marketplace_id=1, complete_parameter="signed-launch-id", **kwargs):
    return client.mint_marketplace_url(account, marketplace_id=marketplace_id, complete_parameter=complete_parameter, **kwargs)


# --- the pooled session -----------------------------------------------------------------------------


def test_every_client_in_a_process_shares_one_pooled_session(cyclr):
    first, second = CyclrClient(), CyclrClient()
    assert first.session is second.session is cyclr_module.pooled_session()
    mint(first)
    mint(second, account="tenant-43")  # both calls through the one session, and both work
    assert len(cyclr.marketplace_requests) == 2


def test_a_forked_child_gets_its_own_session(monkeypatch):
    parent = cyclr_module.pooled_session()
    monkeypatch.setattr(cyclr_module.os, "getpid", lambda: -1)  # as a child after fork() sees it
    child = cyclr_module.pooled_session()
    assert child is not parent and cyclr_module.pooled_session() is child


def test_a_session_passed_in_is_used_as_is():
    mine = requests.Session()
    assert CyclrClient(session=mine).session is mine


# --- tokens ------------------------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_cached(cyclr):
    mint(CyclrClient())
    mint(CyclrClient(), account="tenant-43")  # another instance shares the cache
    assert cyclr.token_requests == 1
    first, second = cyclr.marketplace_requests
    assert first["headers"]["Authorization"] == second["headers"]["Authorization"]
    assert first["headers"]["Authorization"].startswith("Bearer ")


def test_renew_fetches_a_new_token(cyclr):
    token = CyclrClient().token()
    assert token and cyclr.token_requests == 1
    assert CyclrClient().token() == token
    assert CyclrClient().token(renew=True) != token
    assert cyclr.token_requests == 2


def test_a_401_renews_the_token_once_and_the_call_succeeds(cyclr):
    client = CyclrClient()
    mint(client)
    cyclr.revoke_tokens()  # Cyclr forgets the cached token: the next call answers 401
    minted = mint(client, account="tenant-43")
    assert minted.url.startswith(cyclr.url + "/")
    assert cyclr.token_requests == 2
    before, after = cyclr.marketplace_requests  # the 401 attempt minted nothing
    assert before["headers"]["Authorization"] != after["headers"]["Authorization"]
    mint(client, account="tenant-44")
    assert cyclr.token_requests == 2  # the renewed token is cached in turn


def test_a_401_with_a_fresh_token_is_raised_after_one_renewal():
    # Tokens this fake issues are expired on arrival: every API call answers 401.
    with FakeCyclr(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_expires_in=0) as fake:
        client = CyclrClient(api_url=fake.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        try:
            with pytest.raises(CyclrAPIError) as caught:
                mint(client)
        finally:
            CyclrClient.forget_tokens()
        assert caught.value.code == "cyclr_unauthorized" and caught.value.status == 401
        assert "Authorization has been denied for this request." in caught.value.message
        assert fake.token_requests == 2  # the first token, and one renewal: no loop


def test_a_token_that_expires_within_the_margin_is_renewed_every_call():
    with FakeCyclr(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_expires_in=30) as fake:
        client = CyclrClient(api_url=fake.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        try:
            mint(client)
            mint(client)
        finally:
            CyclrClient.forget_tokens()
        assert fake.token_requests == 2


def test_tokens_are_cached_per_api_and_client(cyclr):
    with FakeCyclr(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as other:
        mint(CyclrClient())
        mint(CyclrClient(api_url=other.url))
        assert cyclr.token_requests == 1 and other.token_requests == 1


def test_wrong_credentials_are_cyclr_unauthorized_with_cyclrs_message(cyclr):
    client = CyclrClient(client_secret="not-the-secret")
    with pytest.raises(CyclrAPIError) as caught:
        mint(client)
    error = caught.value
    assert error.code == "cyclr_unauthorized" and error.status == 401
    assert "The client credentials are not valid" in error.message
    assert "/oauth/token" in error.message
    assert "not-the-secret" not in error.message
    assert cyclr.token_requests == 0 and cyclr.marketplace_requests == []


def test_an_unreachable_api_is_cyclr_unreachable(cyclr):
    client = CyclrClient(api_url="http://127.0.0.1:9", timeout=(2, 2))
    with pytest.raises(CyclrAPIError) as caught:
        mint(client)
    assert caught.value.code == "cyclr_unreachable"
    assert caught.value.status is None
    assert "could not be reached" in caught.value.message


# --- Marketplace URLs --------------------------------------------------------------------------------


def test_mint_sends_inline_oauth_false_and_the_complete_parameter(cyclr):
    minted = mint(CyclrClient(), account="tenant-42", complete_parameter="launch:abc",
                  account_name="Acme Ltd", account_description="The Acme tenant")
    (request,) = cyclr.marketplace_requests
    assert request["account_api_id"] == "tenant-42"
    body = request["body"]
    assert body["InlineOAuth"] is False
    assert body["CompleteParameter"] == "launch:abc"
    assert body["MarketplaceId"] == 1
    assert body["AccountName"] == "Acme Ltd" and body["AccountDescription"] == "The Acme tenant"
    assert body["ConnectorAuthentications"] == []
    assert request["headers"]["Content-Type"] == "application/json"

    account = cyclr.accounts["tenant-42"]
    assert isinstance(minted, MarketplaceURL)
    assert minted.account_id == "tenant-42"  # the API id, as Cyclr's Deploy Marketplace page shows it
    assert account["Name"] == "Acme Ltd"
    assert minted.expires_at.endswith("Z")
    parts = urlsplit(minted.url)
    assert f"{parts.scheme}://{parts.netloc}" == cyclr.origin
    assert parts.path == "/account/signinwithtoken"
    assert parse_qs(parts.query)["returnUrl"] == ["/launch/marketplace/1"]


def test_the_account_name_defaults_to_the_api_id(cyclr):
    mint(CyclrClient(), account="tenant-9")
    assert cyclr.marketplace_requests[0]["body"]["AccountName"] == "tenant-9"
    assert cyclr.accounts["tenant-9"]["Name"] == "tenant-9"


def test_an_account_api_id_is_quoted_into_one_path_segment(cyclr):
    account = "acme/eu tenant?x=1#y"
    minted = mint(CyclrClient(), account=account)
    assert cyclr.marketplace_requests[0]["account_api_id"] == account
    assert cyclr.accounts[account]["ApiId"] == minted.account_id == account


def test_the_same_account_gets_the_same_cyclr_account(cyclr):
    client = CyclrClient()
    assert mint(client).account_id == mint(client).account_id
    assert len(cyclr.accounts) == 1


def test_the_minted_url_works_once(cyclr):
    minted = mint(CyclrClient())
    http = requests.Session()
    assert http.get(minted.url, timeout=10).status_code == 200
    assert http.get(minted.url, timeout=10).status_code == 403  # single use, as Cyclr's


def test_an_unknown_marketplace_is_a_404_marketplace_not_found_error(cyclr):
    with pytest.raises(CyclrAPIError) as caught:
        mint(CyclrClient(), marketplace_id=99)
    error = caught.value
    assert error.status == 404 and error.code == "marketplace_not_found"
    assert "Marketplace 99 was not found." in error.message
    assert cyclr.marketplace_requests == []


def test_a_second_configured_marketplace_can_be_minted(cyclr):
    minted = mint(CyclrClient(), marketplace_id=2)
    assert parse_qs(urlsplit(minted.url).query)["returnUrl"] == ["/launch/marketplace/2"]


# --- cycles ------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_get_cycle_returns_a_real_cycle_and_none_for_an_unknown_one(cyclr, installed):
    launch, result = installed()
    client = CyclrClient()
    cycle_id = result["cycles"][0]["cycleId"]

    cycle = client.get_cycle(cycle_id, account=launch.x_cyclr_account)
    assert launch.x_cyclr_account == launch.account_api_id  # X-Cyclr-Account holds the API id, as documented
    assert cycle["Id"] == cycle_id
    assert cycle["Status"] == "Active"
    assert cycle["TemplateId"] == result["cycles"][0]["templateId"]
    assert client.get_cycle(UNKNOWN_CYCLE, account=launch.x_cyclr_account) is None


@pytest.mark.django_db(transaction=True)
def test_get_cycle_is_none_for_another_accounts_cycle(cyclr, installed, user, other_user):
    _, others = installed(owner=other_user)
    mine, _ = installed()
    assert CyclrClient().get_cycle(others["cycles"][0]["cycleId"], account=mine.x_cyclr_account) is None


@pytest.mark.django_db(transaction=True)
def test_get_cycle_renews_a_revoked_token(cyclr, installed):
    launch, result = installed()
    client = CyclrClient()
    client.token()
    cyclr.revoke_tokens()
    assert client.get_cycle(result["cycles"][0]["cycleId"], account=launch.x_cyclr_account) is not None
    assert cyclr.token_requests == 2


def test_a_404_naming_the_account_is_account_not_found_and_says_which_setting_to_change(cyclr):
    # Cyclr's 404 for the account (not the cycle): the header holds an id Cyclr does not know it by.
    with pytest.raises(CyclrAPIError) as caught:
        CyclrClient().get_cycle(UNKNOWN_CYCLE, account="no-such-account")
    assert caught.value.code == "account_not_found" and caught.value.status == 404
    assert "'no-such-account'" in caught.value.message and 'ACCOUNT_HEADER"] is \'api_id\'' in caught.value.message
    assert "set it to 'id'" in caught.value.message and "proxy_doctor" in caught.value.message


def test_a_404_naming_the_cycle_is_still_none(cyclr):
    # A message that names a cycle is about the cycle, whatever else it says.
    mint(CyclrClient(), account="tenant-1")
    assert CyclrClient().get_cycle(UNKNOWN_CYCLE, account="tenant-1") is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("fake_cyclr_options", "fake_cyclr_settings"), [
    ({**FAKE_CYCLR_OPTIONS, **CYCLR_SHAPES["guid"][0]}, {**PROXY_TEST_SETTINGS, **CYCLR_SHAPES["guid"][1]})])
def test_a_cyclr_that_wants_the_guid_in_the_header_is_asked_with_it_once_set(cyclr, installed):
    launch, result = installed()
    assert launch.cyclr_account_id and launch.x_cyclr_account == launch.cyclr_account_id  # the mint said the GUID
    assert CyclrClient().get_cycle(result["cycles"][0]["cycleId"], account=launch.x_cyclr_account)["Id"]
    with pytest.raises(CyclrAPIError) as caught:  # the API id is an account this Cyclr does not know
        CyclrClient().get_cycle(result["cycles"][0]["cycleId"], account=launch.account_api_id)
    assert caught.value.code == "account_not_found"


def test_other_errors_than_404_are_raised_by_get_cycle(cyclr):
    # No account header: Cyclr answers 400, which is not "no such cycle".
    with pytest.raises(CyclrAPIError) as caught:
        CyclrClient().get_cycle(UNKNOWN_CYCLE, account="")
    assert caught.value.status == 400
    assert "X-Cyclr-Account" in caught.value.message


@pytest.mark.django_db(transaction=True)
def test_list_cycles_pages_through_the_accounts_cycles(cyclr, installed):
    launch, result = installed(package_id=2)  # two templates: two cycles
    client = CyclrClient()
    listed = client.list_cycles(account=launch.x_cyclr_account)
    assert [c["Id"] for c in listed] == [c["cycleId"] for c in result["cycles"]]
    page_two = client.list_cycles(account=launch.x_cyclr_account, page=2, page_size=1)
    assert [c["Id"] for c in page_two] == [result["cycles"][1]["cycleId"]]


def test_an_installed_url_from_the_client_gives_a_result(cyclr):
    # The client's URL is one the Marketplace accepts end to end, and CompleteParameter comes back.
    launch_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    minted = mint(CyclrClient(), complete_parameter=sign_launch_id(launch_id))
    result = install_over_http(minted.url)
    assert result["accountApiId"] == minted.account_id == "tenant-42"  # the mint's AccountId is the API id
    assert result["accountId"] == cyclr.accounts["tenant-42"]["Id"]  # the result's, the GUID
    (install,) = cyclr.installs
    assert str(unsign_launch_id(install["complete_parameter"])) == launch_id


def test_one_number_for_api_timeout_is_both_limits(cyclr, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "API_TIMEOUT": 3}
    assert CyclrClient().timeout == (3, 3)
    assert CyclrClient().token()  # and the client works with it


# --- several cycles in one round trip ----------------------------------------------------------------


def cycle_calls(fake):
    return [path for method, path in fake.api_calls if method == "GET" and path.startswith("/v1.0/cycles/")]


def forged_ids(n):
    return [f"00000000-0000-4000-8000-{i:012d}" for i in range(1, n + 1)]


@pytest.mark.django_db(transaction=True)
def test_get_cycles_answers_in_the_order_asked(cyclr, installed):
    launch, result = installed(package_id=4)  # three templates: three cycles
    ids = [c["cycleId"] for c in result["cycles"]]
    assert len(ids) == 3

    answers = CyclrClient().get_cycles(list(reversed(ids)), account=launch.x_cyclr_account)

    assert [a["Id"] for a in answers] == list(reversed(ids))
    assert CyclrClient().get_cycles([], account=launch.x_cyclr_account) == []


@pytest.mark.django_db(transaction=True)
def test_get_cycles_asks_about_every_cycle_at_once(cyclr, installed):
    launch, result = installed(package_id=4)
    ids = [c["cycleId"] for c in result["cycles"]]
    CyclrClient().token()  # the token call is not the gated one either way; fetched first for clarity
    answers = []
    cyclr.cycle_gate.close()
    asking = threading.Thread(target=lambda: answers.extend(CyclrClient().get_cycles(ids, account=launch.x_cyclr_account)))
    asking.start()
    try:
        assert cyclr.cycle_gate.wait_for_held(3)  # all three held by Cyclr at the same moment: in flight together
    finally:
        cyclr.cycle_gate.open()
        asking.join(30)
    assert [a["Id"] for a in answers] == ids


@pytest.mark.django_db(transaction=True)
def test_get_cycles_ends_at_the_first_cycle_cyclr_does_not_know(cyclr, installed):
    launch, result = installed(package_id=4)
    known = [c["cycleId"] for c in result["cycles"]]

    answers = CyclrClient().get_cycles([known[0], UNKNOWN_CYCLE, known[1]], account=launch.x_cyclr_account)

    assert answers[0]["Id"] == known[0] and answers[1:] == [None]


@pytest.mark.django_db(transaction=True)
def test_a_forged_list_of_ids_costs_one_round_of_calls_not_a_call_each(cyclr, installed, monkeypatch):
    launch, result = installed(package_id=4)
    known = [c["cycleId"] for c in result["cycles"]]
    before = len(cycle_calls(cyclr))

    # Rounds of 2: the known pair is one round, the next round meets the first forged id; no third round.
    with monkeypatch.context() as rounds_of_two:
        rounds_of_two.setattr(cyclr_module, "MAX_PARALLEL", 2)
        answers = CyclrClient().get_cycles([*known[:2], *forged_ids(30)], account=launch.x_cyclr_account)

    assert [a["Id"] for a in answers[:2]] == known[:2] and answers[2:] == [None]
    assert len(cycle_calls(cyclr)) - before == 4
    before = len(cycle_calls(cyclr))
    assert CyclrClient().get_cycles(forged_ids(100), account=launch.x_cyclr_account) == [None]
    assert len(cycle_calls(cyclr)) - before == cyclr_module.MAX_PARALLEL


@pytest.mark.django_db(transaction=True)
def test_get_cycles_goes_on_round_after_round_while_cyclr_knows_every_cycle(cyclr, installed, monkeypatch):
    launch, result = installed(package_id=4)
    ids = [c["cycleId"] for c in result["cycles"]]
    monkeypatch.setattr(cyclr_module, "MAX_PARALLEL", 1)  # a round per cycle
    answers = CyclrClient().get_cycles(ids, account=launch.x_cyclr_account)
    assert [a["Id"] for a in answers] == ids


def test_get_cycles_raises_what_get_cycle_raises(cyclr):
    with pytest.raises(CyclrAPIError) as caught:  # every call of the round answers 404 for the account
        CyclrClient().get_cycles(forged_ids(3), account="no-such-account")
    assert caught.value.code == "account_not_found"
    cyclr.failing_accounts.add("tenant-1")
    with pytest.raises(CyclrAPIError) as caught:
        CyclrClient().get_cycles(forged_ids(3), account="tenant-1")
    assert caught.value.status == 500
