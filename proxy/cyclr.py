"""A small client for Cyclr's Partner API: token, Marketplace URL, cycles.

The client-credentials token is cached per (API URL, client id) until a minute before it
expires, and fetched again once if a call answers 401. Cyclr's ``{"Message": ...}`` errors
and transport failures become ``CyclrAPIError``.
"""
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timezone as dt_timezone
from itertools import chain
from urllib.parse import quote

import requests
from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive

from .conf import proxy_settings
from .exceptions import CyclrAPIError

logger = logging.getLogger(__name__)

TOKEN_MARGIN = 60  # seconds before expiry at which a cached token is renewed
# Cycle look-ups in flight at once per ``get_cycles`` call: within the pooled session's 16 connections, and
# few enough that a forged list of ids costs Cyclr at most this many calls (see ``get_cycles``).
MAX_PARALLEL = 10

_pool_lock = threading.Lock()
_pool = {"pid": None, "session": None}


def pooled_session():
    """The process's one ``requests.Session`` for Cyclr, shared by every client it makes.

    Its kept-alive connections spare each call a new TCP (and, against real Cyclr, TLS)
    handshake. urllib3's pool is thread-safe; the session is made anew in a forked child, which
    must not share its parent's sockets.
    """
    with _pool_lock:
        if _pool["pid"] != os.getpid():
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _pool.update(pid=os.getpid(), session=session)
        return _pool["session"]


# Threads kept for ``get_cycles``' rounds, shared by the process's calls (the caller's own thread asks too).
ROUND_THREADS = 2 * MAX_PARALLEL
_rounds = {"pid": None, "executor": None}


def round_threads():
    """The process's kept threads for ``get_cycles``' rounds, started as needed; made anew in a forked child,
    whose parent's threads did not follow it. A round starts no thread of its own: its calls leave at once."""
    with _pool_lock:
        if _rounds["pid"] != os.getpid():
            _rounds.update(pid=os.getpid(), executor=ThreadPoolExecutor(max_workers=ROUND_THREADS,
                                                                        thread_name_prefix="proxy-cyclr"))
        return _rounds["executor"]


ACCOUNT_NOT_FOUND = "account_not_found"


def names_an_account(exc) -> bool:
    """True if Cyclr's 404 is about the account, not the cycle. Its words are not documented: its
    ``Message`` ("Account not found.") naming an account and no cycle is what the kit takes as that."""
    words = exc.message.partition(": ")[2].lower()  # Cyclr's own Message, after "Cyclr answered 404 to …: "
    return "account" in words and "cycle" not in words


def account_not_found(account, exc):
    """The ``CyclrAPIError`` for a 404 naming the ``X-Cyclr-Account`` account: which setting to change."""
    setting = proxy_settings.ACCOUNT_HEADER
    other = "id" if setting == "api_id" else "api_id"
    return CyclrAPIError(ACCOUNT_NOT_FOUND, (
        f"Cyclr does not know the account {account!r} sent as X-Cyclr-Account ({exc.message}). "
        f"CYCLR_PROXY[\"ACCOUNT_HEADER\"] is {setting!r}: if this account exists in Cyclr, set it to {other!r} "
        "(`manage.py proxy_doctor --account <API id>` shows which id your Cyclr takes)."), status=404)


@dataclass(frozen=True)
class MarketplaceURL:
    url: str
    account_id: str
    expires_at: str  # Cyclr's ExpiresAtUtc, as it wrote it ("" if it did not)

    def expires(self):
        """When Cyclr says the URL expires (``ExpiresAtUtc``, an aware datetime), or None if it did not say so readably.

        ISO 8601, in UTC whether or not it carries a ``Z`` or an offset (docs/cyclr-api.md)."""
        try:
            moment = parse_datetime(self.expires_at)
        except (TypeError, ValueError):
            return None
        if moment is None:
            return None
        return moment.replace(tzinfo=dt_timezone.utc) if is_naive(moment) else moment


class CyclrClient:
    _tokens = {}  # (api_url, client_id) -> (token, monotonic expiry); shared by instances
    _lock = threading.Lock()

    def __init__(self, api_url=None, client_id=None, client_secret=None, timeout=None, session=None):
        self.api_url = (api_url or proxy_settings.API_URL).rstrip("/")
        self.client_id = client_id or proxy_settings.CLIENT_ID
        self.client_secret = client_secret or proxy_settings.CLIENT_SECRET
        timeout = timeout or proxy_settings.API_TIMEOUT
        # One number means the same limit for connecting and for reading.
        self.timeout = (timeout, timeout) if isinstance(timeout, (int, float)) else tuple(timeout)
        self.session = session or pooled_session()

    # -- authentication --------------------------------------------------------------
    @property
    def _token_key(self):
        return (self.api_url, self.client_id)

    def token(self, *, renew=False) -> str:
        """A valid access token, from the cache unless ``renew`` or about to expire."""
        with self._lock:
            cached = self._tokens.get(self._token_key)
            if cached and not renew and cached[1] > time.monotonic():
                return cached[0]
            data = self._send(
                "POST",
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret},
            )
            token = data.get("access_token") if isinstance(data, dict) else None
            if not token:
                raise CyclrAPIError("cyclr_bad_response", "Cyclr's token endpoint answered without an access_token.")
            try:
                lifetime = float(data.get("expires_in", 3600))
            except (TypeError, ValueError):
                raise CyclrAPIError("cyclr_bad_response", "Cyclr's token endpoint answered with an unreadable expires_in.") from None
            # A token about to expire is used for this call only, never cached.
            self._tokens[self._token_key] = (token, time.monotonic() + max(lifetime - TOKEN_MARGIN, 0))
            return token

    @classmethod
    def forget_tokens(cls):
        with cls._lock:
            cls._tokens.clear()

    # -- calls -----------------------------------------------------------------------
    def mint_marketplace_url(self, account_api_id, *, marketplace_id, complete_parameter,
                             account_name="", account_description="", connector_authentications=(), inline_oauth=False):
        """A 5-minute, single-use Marketplace URL for the account (created by Cyclr if new).

        ``inline_oauth`` stays False when the Marketplace is framed: connector OAuth must then
        open a window of its own. At top level (redirect mode) it can run in place.
        A Marketplace id Cyclr does not know is ``CyclrAPIError`` with code ``marketplace_not_found``.
        """
        body = {
            "MarketplaceId": marketplace_id,
            "AccountName": account_name or account_api_id,
            "AccountDescription": account_description,
            "ConnectorAuthentications": list(connector_authentications),
            "InlineOAuth": inline_oauth,
            "CompleteParameter": complete_parameter,
        }
        try:
            data = self.call("POST", f"/v1.0/accounts/{quote(account_api_id, safe='')}/marketplace", json=body)
        except CyclrAPIError as exc:
            if exc.status == 404:  # Cyclr creates unknown accounts, so it is the Marketplace it does not know
                raise CyclrAPIError("marketplace_not_found", exc.message, status=404) from None
            raise
        if not isinstance(data, dict) or not data.get("MarketplaceUrl"):
            raise CyclrAPIError("cyclr_bad_response", "Cyclr answered the Marketplace request without a MarketplaceUrl.")
        return MarketplaceURL(url=data["MarketplaceUrl"], account_id=str(data.get("AccountId") or ""),
                              expires_at=str(data.get("ExpiresAtUtc") or ""))

    def mint_launch_url(self, account_api_id, *, tags, complete_parameter, account_name="", account_description="",
                        start=True, run_once=False, auto_install=True, single_install=None, wizard=None,
                        display_descriptions=None, inline_oauth=False):
        """A 5-minute, single-use LAUNCH URL installing the templates ``tags`` choose (``POST …/launch``)."""
        body = {
            "Tags": list(tags), "Start": start, "RunOnce": run_once, "AutoInstall": auto_install,
            "InlineOAuth": inline_oauth, "CompleteParameter": complete_parameter,
            "AccountName": account_name or account_api_id, "AccountDescription": account_description,
        }
        for key, value in (("SingleInstall", single_install), ("Wizard", wizard), ("DisplayDescriptions", display_descriptions)):
            if value is not None:
                body[key] = bool(value)
        data = self.call("POST", f"/v1.0/accounts/{quote(account_api_id, safe='')}/launch", json=body)
        return self._minted(data, "LaunchUrl", "LAUNCH")

    def mint_orbit_url(self, account_api_id):
        """A 5-minute, single-use ORBIT URL to manage the account's installed integrations (``POST …/orbit``)."""
        data = self.call("POST", f"/v1.0/accounts/{quote(account_api_id, safe='')}/orbit", json={})
        return self._minted(data, "OrbitUrl", "ORBIT")

    @staticmethod
    def _minted(data, field, what):
        if not isinstance(data, dict) or not isinstance(data.get(field), str) or not data[field]:
            raise CyclrAPIError("cyclr_bad_response", f"Cyclr answered the {what} request without a {field}.")
        return MarketplaceURL(url=data[field], account_id=str(data.get("AccountId") or ""),
                              expires_at=str(data.get("ExpiresAtUtc") or ""))

    def get_cycle(self, cycle_id, *, account):
        """The cycle as Cyclr has it for ``account`` (its ``X-Cyclr-Account`` value), or None if Cyclr says 404.

        A 404 that names the account rather than the cycle is ``CyclrAPIError`` ``account_not_found``.
        """
        try:
            return self.call("GET", f"/v1.0/cycles/{quote(cycle_id, safe='')}", account=account)
        except CyclrAPIError as exc:
            if exc.status == 404 and exc.code != ACCOUNT_NOT_FOUND:
                return None
            raise

    def get_cycles(self, cycle_ids, *, account):
        """``get_cycle`` for each of ``cycle_ids`` in rounds of up to ``MAX_PARALLEL`` calls in flight at once.

        Returns Cyclr's answers in the order of ``cycle_ids``: each a dict, or None for a cycle Cyclr does
        not know. Answers are read in that order, as if asked one by one: the first error among them is
        raised (``CyclrAPIError``, ``account_not_found`` included), unless a cycle before it was unknown.
        A round starts only if Cyclr knew every cycle of the rounds before: the first unknown cycle ends
        the list (it is its last item, and the later ids are not in it), so a forged list of ids costs at
        most one round of calls, not a call each. Up to ``MAX_PARALLEL`` ids the whole list is one round
        trip's wait, whatever its length.

        The calls share the process's pooled session (its connection pool is thread-safe) and its kept
        threads (``round_threads``): the caller's thread asks about the first id of a round, kept threads
        about the others. Every call of a round has ended when this returns or raises.
        """
        cycle_ids = list(cycle_ids)
        max_parallel = max(1, int(MAX_PARALLEL))
        answers = []
        for start in range(0, len(cycle_ids), max_parallel):
            batch = cycle_ids[start:start + max_parallel]
            futures = [round_threads().submit(self.get_cycle, cycle_id, account=account) for cycle_id in batch[1:]]
            try:
                first = self.get_cycle(batch[0], account=account)
                # In order, lazily: an answer (or error) after an unknown cycle is never read.
                for answer in chain((first,), (future.result() for future in futures)):
                    answers.append(answer)
                    if answer is None:  # the rest of the round was asked too: its answers are dropped
                        return answers
            finally:
                wait(futures)  # no call of the round outlives it, whatever it answered
        return answers

    def list_cycles(self, *, account, page=1, page_size=50):
        """One page of the account's cycles, as Cyclr lists them (a list of cycle objects)."""
        data = self.call("GET", "/v1.0/cycles", account=account, params={"page": page, "pageSize": page_size})
        if not isinstance(data, list):
            raise CyclrAPIError("cyclr_bad_response", "Cyclr answered the cycle list with something other than a list.")
        return data

    def account_cycles(self, *, account, page_size=50, max_pages=20):
        """Every cycle of the account, page by page until Cyclr answers an empty page; at most ``max_pages`` calls.

        No maximum ``pageSize`` and no total-count header are documented, so a page shorter than asked
        does not prove it was the last (Cyclr may cap pages lower): only an empty page ends the list.
        Raises ``CyclrAPIError`` with code ``too_many_cycles`` if no empty page came within ``max_pages``
        calls: a partial list would make every missing cycle look uninstalled.
        """
        cycles = {}
        for page in range(1, max_pages + 1):
            batch = self.list_cycles(account=account, page=page, page_size=page_size)
            if not batch:
                return list(cycles.values())
            for item in batch:  # keyed by id: a cycle listed on two pages (the list moved meanwhile) counts once
                if isinstance(item, dict):
                    cycles.setdefault(str(item.get("Id", "")).lower() or id(item), item)
        raise CyclrAPIError("too_many_cycles",
                            f"Cyclr listed cycles on all {max_pages} pages read for this account without an empty one; "
                            "raise max_pages to list them all.")

    def get_account(self, account):
        """The account (``GET /v1.0/accounts/{id}``), by its Cyclr id or API id."""
        return self.call("GET", f"/v1.0/accounts/{quote(account, safe='')}")

    def activate_cycle(self, cycle_id, *, account, interval=None, start_time=None, run_once=None):
        """Start a cycle (``PUT /v1.0/cycles/{id}/activate``); ``interval`` in minutes for scheduled cycles.

        A cycle Cyclr does not know in ``account`` is ``CyclrAPIError`` with code ``cycle_not_found``.
        """
        body = {}
        if interval is not None:
            body["Interval"] = int(interval)
        if start_time is not None:
            body["StartTime"] = start_time if isinstance(start_time, str) else start_time.isoformat()
        if run_once is not None:
            body["RunOnce"] = bool(run_once)
        return self._act_on_cycle(cycle_id, "activate", account=account, json=body)

    def deactivate_cycle(self, cycle_id, *, account):
        """Stop a cycle (``PUT /v1.0/cycles/{id}/deactivate``); ``cycle_not_found`` as for ``activate_cycle``."""
        return self._act_on_cycle(cycle_id, "deactivate", account=account)

    def _act_on_cycle(self, cycle_id, action, *, account, **kwargs):
        try:
            return self.call("PUT", f"/v1.0/cycles/{quote(cycle_id, safe='')}/{action}", account=account, **kwargs)
        except CyclrAPIError as exc:
            if exc.status == 404 and exc.code != ACCOUNT_NOT_FOUND:  # uninstalled meanwhile, or another account's
                raise CyclrAPIError("cycle_not_found", exc.message, status=404) from None
            raise

    def call(self, method, path, *, account=None, **kwargs):
        """An authenticated API call; renews the token once on 401."""
        for attempt in (0, 1):
            headers = {"Authorization": f"Bearer {self.token(renew=attempt == 1)}", "Accept": "application/json"}
            if account:
                headers["X-Cyclr-Account"] = account
            try:
                return self._send(method, path, headers=headers, **kwargs)
            except CyclrAPIError as exc:
                if account and exc.status == 404 and names_an_account(exc):
                    raise account_not_found(account, exc) from None
                if exc.status != 401 or attempt == 1:
                    raise
                logger.info("Cyclr answered 401; renewing the access token")

    def _send(self, method, path, **kwargs):
        url = self.api_url + path
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise CyclrAPIError("cyclr_timeout", f"Cyclr's API did not answer {method} {path} in time.") from None
        except requests.RequestException as exc:
            raise CyclrAPIError("cyclr_unreachable", f"Cyclr's API could not be reached ({type(exc).__name__}).") from None
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
        if response.status_code >= 400:
            message = data.get("Message") if isinstance(data, dict) else None
            raise CyclrAPIError(
                "cyclr_unauthorized" if response.status_code == 401 else "cyclr_api_error",
                f"Cyclr answered {response.status_code} to {method} {path}: {message or response.reason}",
                status=response.status_code,
            )
        return data
