"""``manage.py proxy_doctor``'s checks: this site's settings against the Cyclr they name, live.

``run_checks(account_api_id)`` asks the real Cyclr (``CYCLR_PROXY``'s API_URL and credentials) the questions
the kit's flow depends on and returns a ``Report``: one ``Check`` per question, each with a status
(``ok``, ``warning``, ``fail``, ``skipped``), a sentence, and what to set when it is not ``ok``.

Minting a Marketplace URL for an API id Cyclr does not know **creates that account** (cyclr/docs
``pages/marketplaces/marketplace-deployment.md``): the caller names the account; nothing here invents one.

Nothing a check says carries a secret: not the client secret, the access token, a minted URL's token or
the URL itself (its origin and path only). ``Report`` scrubs every value it learned on the way, as a last guard.
"""
import re
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

import requests
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils import timezone
from django.utils.http import is_same_domain

from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import CyclrAPIError
from .origins import DEFAULT_PORTS, is_origin, origin_of
from .premint import PREMINT_TTL, offer_seconds

OK, WARNING, FAIL, SKIPPED = "ok", "warning", "fail", "skipped"
STATUSES = (OK, WARNING, FAIL, SKIPPED)
MAX_ACCOUNT_ID_LENGTH = 255
COMPLETE_PARAMETER = "proxy-doctor"
FRAMING_TIMEOUT = (5, 10)  # seconds (connect, read) for the one request to the Marketplace
FRAMING_DOC = "docs/framing.md"
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The checks, in the order they run; ids are stable (CI scripts may read them from --json).
CHECK_IDS = (
    "account", "settings", "token", "marketplace_url", "account_id", "account_header",
    "marketplace_origins", "allowed_hosts", "csrf_trusted_origins", "framing",
)


@dataclass(frozen=True)
class Check:
    id: str
    status: str
    message: str
    fix: str = ""


@dataclass
class Report:
    """The checks in order; ``ok`` is False if any failed (warnings and skips pass)."""

    checks: list = field(default_factory=list)
    secrets: set = field(default_factory=set, repr=False)
    origin: str = ""  # the minted Marketplace URL's origin, once known

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def add(self, id, status, message, fix=""):
        self.checks.append(Check(id, status, self.scrub(message), self.scrub(fix)))

    def skip_rest(self, reason):
        done = {check.id for check in self.checks}
        for id in CHECK_IDS:
            if id not in done and id not in ("allowed_hosts", "csrf_trusted_origins"):
                self.add(id, SKIPPED, reason)

    def keep_secret(self, *values):
        self.secrets.update(str(v) for v in values if v and len(str(v)) >= 6)

    def scrub(self, text):
        # Longest first, so a URL goes before the token inside it.
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "[hidden]")
        return text

    def get(self, id):
        return next((check for check in self.checks if check.id == id), None)

    def as_dict(self):
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}


# --- pieces that need no Cyclr -----------------------------------------------------------------------


def account_problem(account_api_id):
    """A sentence saying why ``account_api_id`` cannot be used, or "" if it can."""
    if account_api_id is None or not str(account_api_id).strip():
        return ("Name the Cyclr account to check with --account API_ID (an account's API id from the Cyclr "
                "console, Accounts). Careful: Cyclr creates an account for an API id it does not know.")
    if len(account_api_id) > MAX_ACCOUNT_ID_LENGTH:
        return (f"The account API id is {len(account_api_id)} characters long; Cyclr account API ids are at most "
                f"{MAX_ACCOUNT_ID_LENGTH}. Pass the id exactly as the Cyclr console shows it.")
    if _CONTROL.search(account_api_id) or account_api_id != account_api_id.strip():
        return ("The account API id has spaces at its ends or control characters; pass it exactly as the Cyclr "
                "console shows it.")
    return ""


def settings_problems():
    """(sentence, fix) pairs for the ``CYCLR_PROXY`` values the live checks need."""
    problems = []
    api_url = proxy_settings.API_URL
    parts = urlsplit(api_url) if isinstance(api_url, str) else None
    if not api_url:
        problems.append(("API_URL is empty, so there is no Cyclr to ask.",
                         'Set CYCLR_PROXY["API_URL"] to your Cyclr API domain, such as "https://api.eu.cyclr.com".'))
    elif parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append((f"API_URL {api_url!r} is not an http(s) URL." if isinstance(api_url, str)
                         else "API_URL is not a string.",
                         'Set CYCLR_PROXY["API_URL"] to your Cyclr API domain, such as "https://api.eu.cyclr.com".'))
    for name in ("CLIENT_ID", "CLIENT_SECRET"):
        if not getattr(proxy_settings, name):
            problems.append((f"{name} is empty.", f'Set CYCLR_PROXY["{name}"] from the Cyclr console '
                                                  "(Settings > OAuth Client Credentials)."))
    marketplace_id = proxy_settings.MARKETPLACE_ID
    if not isinstance(marketplace_id, int) or isinstance(marketplace_id, bool) or marketplace_id < 1:
        problems.append(("MARKETPLACE_ID is not a positive whole number.",
                         'Set CYCLR_PROXY["MARKETPLACE_ID"] to the Marketplace\'s number (the Cyclr console shows '
                         "it in the address bar when you edit the Marketplace)."))
    return problems


def _as_list(value):
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def configured_account_header():
    """``CYCLR_PROXY["ACCOUNT_HEADER"]``: "api_id" (the default) or "id"."""
    try:
        return proxy_settings.ACCOUNT_HEADER or "api_id"
    except AttributeError:  # a kit without the setting yet: it sends the API id
        return proxy_settings.user_settings.get("ACCOUNT_HEADER") or "api_id"


def allowed_hosts_findings(host_origins):
    """(origin, host to add) for each HOST_ORIGINS entry Django's ALLOWED_HOSTS refuses."""
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:  # as HttpRequest.get_host() does
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    missing = []
    for origin in host_origins:
        host = urlsplit(origin).netloc
        domain, _port = split_domain_port(host)
        if not domain or not validate_host(domain, allowed):
            missing.append((origin, domain or host))
    return missing


def csrf_trusted(origin):
    """True if Django's CSRF check trusts ``origin`` whatever scheme and host a proxy in front reports."""
    trusted = _as_list(getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
    if origin in trusted:
        return True
    parts = urlsplit(origin)
    return any(is_same_domain(parts.netloc, entry.split("://", 1)[1].lstrip("*"))
               for entry in trusted if "*" in entry and entry.startswith(parts.scheme + "://"))


# --- framing: X-Frame-Options and CSP frame-ancestors ---------------------------------------------------


def _effective_port(scheme, port):
    return port if port is not None else DEFAULT_PORTS.get(scheme)


_HOST_SOURCE = re.compile(
    r"^(?:(?P<scheme>[a-z][a-z0-9+.\-]*)://)?(?P<host>\*|(?:\*\.)?[^/:]+)(?::(?P<port>\d+|\*))?(?:/.*)?$")


def source_matches(source, ancestor, self_origin):
    """True if one CSP source expression admits the origin ``ancestor`` (CSP3 §6.7.2, for http(s) origins)."""
    source = source.strip()
    lowered = source.lower()
    anc = urlsplit(ancestor)
    anc_scheme, anc_host = anc.scheme, (anc.hostname or "")
    anc_port = _effective_port(anc_scheme, anc.port)
    if lowered == "*":
        return anc_scheme in ("http", "https")
    if lowered == "'self'":
        own = urlsplit(self_origin)
        same_host = (own.hostname or "") == anc_host
        return same_host and (ancestor == self_origin or (own.scheme == "http" and anc_scheme == "https"
                                                          and _effective_port("http", own.port) in (80, None)))
    if lowered.startswith("'"):  # nonces, hashes, 'unsafe-…': nothing to do with ancestors
        return False
    if re.fullmatch(r"[a-z][a-z0-9+.\-]*:", lowered):
        scheme = lowered[:-1]
        return scheme == anc_scheme or (scheme == "http" and anc_scheme == "https")
    found = _HOST_SOURCE.match(lowered)
    if not found:
        return False
    scheme = found["scheme"] or urlsplit(self_origin).scheme
    if not (scheme == anc_scheme or (scheme == "http" and anc_scheme == "https")):
        return False
    host = found["host"]
    if host == "*":
        pass
    elif host.startswith("*."):
        if not anc_host.endswith(host[1:]):
            return False
    elif host != anc_host:
        return False
    port = found["port"]
    if port == "*":
        return True
    if port is None:
        return anc_port == DEFAULT_PORTS.get(anc_scheme)
    return int(port) == anc_port or (int(port) == 80 and anc_scheme == "https" and anc_port == 443)


def frame_ancestors_lists(csp_values):
    """The source lists of every enforced ``frame-ancestors`` directive in these CSP header values."""
    lists = []
    for value in csp_values:
        for policy in value.split(","):  # one header may carry several policies, comma-separated
            for directive in policy.split(";"):
                tokens = directive.split()
                if tokens and tokens[0].lower() == "frame-ancestors":
                    lists.append(tokens[1:])
                    break  # only a policy's first directive of a name counts
    return lists


def framing_verdict(xfo_values, csp_values, host_origins, marketplace_origin):
    """(allowed, reason) for a page answering with these headers, framed by each of ``host_origins``.

    CSP ``frame-ancestors``, when present, decides and ``X-Frame-Options`` is ignored, as browsers do
    (HTML "The X-Frame-Options header"); else ``X-Frame-Options`` by the HTML standard's processing model.
    """
    lists = frame_ancestors_lists(csp_values)
    if lists:
        refused = [origin for origin in host_origins
                   if not all(any(source_matches(s, origin, marketplace_origin) for s in sources) for sources in lists)]
        shown = "; ".join("frame-ancestors " + (" ".join(sources) or "(empty)") for sources in lists)
        if refused:
            return False, f"Content-Security-Policy {shown} does not include {', '.join(refused)}"
        return True, f"Content-Security-Policy {shown} includes every HOST_ORIGINS entry"
    options = {part.strip().lower() for value in xfo_values for part in value.split(",") if part.strip()}
    if len(options) > 1 and options & {"deny", "sameorigin", "allowall"}:
        return False, "X-Frame-Options has conflicting values, which browsers treat as DENY"
    if options == {"deny"}:
        return False, "X-Frame-Options: DENY"
    if options == {"sameorigin"}:
        refused = [origin for origin in host_origins if origin != marketplace_origin]
        if refused:
            return False, "X-Frame-Options: SAMEORIGIN"
    if options:
        return True, f"X-Frame-Options: {', '.join(sorted(options)).upper()} does not forbid it"
    return True, "neither X-Frame-Options nor a CSP frame-ancestors forbids it"


def probe_framing(url, host_origins):
    """Request ``url`` once, following no redirect: (allowed or None if unreachable, reason, HTTP status)."""
    try:
        response = requests.get(url, allow_redirects=False, timeout=FRAMING_TIMEOUT)
    except requests.RequestException as exc:  # its text quotes the URL, token included: name the kind only
        return None, f"the Marketplace could not be reached ({type(exc).__name__})", None
    with response:
        headers = response.raw.headers if hasattr(response.raw, "headers") else response.headers
        xfo = _header_values(headers, "X-Frame-Options")
        csp = _header_values(headers, "Content-Security-Policy")
    allowed, reason = framing_verdict(xfo, csp, host_origins, origin_of(url))
    return allowed, reason, response.status_code


def _header_values(headers, name):
    getlist = getattr(headers, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    value = headers.get(name)
    return [value] if value else []


# --- the live checks ---------------------------------------------------------------------------------


def _shown(url):
    """A minted URL as it may be printed: origin and path, never the query that carries the token."""
    return origin_of(url) + urlsplit(url).path


def _minted_secrets(report, minted):
    query = urlsplit(minted.url).query
    report.keep_secret(minted.url, query)
    for name, value in parse_qsl(query):
        if "token" in name.lower():
            report.keep_secret(value, quote(value, safe=""))


def _refused(exc):
    """True if Cyclr's error means "not this account" rather than "could not answer"."""
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 429)


def run_checks(account_api_id, *, framing_required=True):
    """Check this site's ``CYCLR_PROXY`` and Django settings against the Cyclr they name; return a ``Report``.

    ``account_api_id`` names an account to mint for: Cyclr creates it if it has no account with that API id.
    ``framing_required=False`` (a site that opens the Marketplace only with ``mode=redirect``/``direct``)
    makes a Marketplace that refuses to be framed a warning instead of a failure.
    """
    report = Report()
    report.keep_secret(proxy_settings.CLIENT_SECRET)
    _run_live_checks(report, account_api_id, framing_required)
    if not any(check.id == "allowed_hosts" for check in report.checks):
        _django_checks(report)
    report.checks.sort(key=lambda check: CHECK_IDS.index(check.id))  # CHECK_IDS order, whatever ran first
    return report


def _run_live_checks(report, account_api_id, framing_required):
    problem = account_problem(account_api_id)
    if problem:
        report.add("account", FAIL, problem, "Pass --account with an existing account's API id.")
        return report.skip_rest("Skipped: no account to check with.")
    report.add("account", OK, f"Checking with the account whose API id is {account_api_id!r} "
                              "(Cyclr creates it if it has none with that id).")
    problems = settings_problems()
    if problems:
        report.add("settings", FAIL, " ".join(p for p, _ in problems), " ".join(f for _, f in problems))
        return report.skip_rest("Skipped: CYCLR_PROXY is incomplete.")
    report.add("settings", OK, f"CYCLR_PROXY names the Cyclr API at {origin_of(proxy_settings.API_URL)} and "
                               f"Marketplace {proxy_settings.MARKETPLACE_ID}.")
    client = CyclrClient()
    if not _check_token(report, client):
        return report.skip_rest("Skipped: no access token.")
    guid = _check_mint(report, client, account_api_id)
    if guid is False:
        return report.skip_rest("Skipped: no Marketplace URL.")
    _check_account_header(report, client, account_api_id, guid)
    _check_marketplace_origins(report)
    _django_checks(report)
    _check_framing(report, client, account_api_id, framing_required)


def _check_token(report, client):
    try:
        token = client.token(renew=True)  # a cached token would hide credentials changed since
    except CyclrAPIError as exc:
        report.keep_secret(getattr(client, "client_secret", ""))
        if exc.status in (400, 401, 403):
            report.add("token", FAIL, "Cyclr refused the client credentials (CLIENT_ID and CLIENT_SECRET) "
                                      f"at {origin_of(client.api_url)}/oauth/token.",
                       'Copy CYCLR_PROXY["CLIENT_ID"] and ["CLIENT_SECRET"] from the Cyclr console (Settings > '
                       "OAuth Client Credentials), and check API_URL is the API domain of that console's region.")
        elif exc.code in ("cyclr_unreachable", "cyclr_timeout"):
            report.add("token", FAIL, f"Cyclr's API at {origin_of(client.api_url)} could not be reached: {exc.message}",
                       'Check CYCLR_PROXY["API_URL"] (such as https://api.cyclr.com, https://api.eu.cyclr.com, '
                       "https://api.cyclr.uk) and that this machine can reach it (DNS, firewall, proxy).")
        else:
            report.add("token", FAIL, f"Cyclr did not give an access token: {exc.message}",
                       'Check CYCLR_PROXY["API_URL"] is your Cyclr API domain, then try again.')
        return False
    report.keep_secret(token)
    report.add("token", OK, f"Cyclr at {origin_of(client.api_url)} gave an access token for CLIENT_ID.")
    return True


# Seconds by which a minted URL's ExpiresAtUtc may fall short of Cyclr's 5 minutes before the check says so: the
# call's own time, and clocks a little apart.
CLOCK_TOLERANCE = 30


def _short_expiry(minted):
    """``(finding, fix)`` when the URL's ``ExpiresAtUtc`` leaves a pre-mint less than its usual offer by this server's
    clock (``proxy.premint.offer_seconds``): Cyclr's URLs live shorter than 5 minutes, or the clocks disagree. Else None."""
    expires, now = minted.expires(), timezone.now()
    offer = offer_seconds(expires, now)  # PREMINT_TTL where Cyclr did not say: no finding then
    if offer >= PREMINT_TTL - CLOCK_TOLERANCE:
        return None
    left = int((expires - now).total_seconds())
    return (f"Its ExpiresAtUtc ({minted.expires_at}) is {left} s from now by this server's clock, not about 300: "
            f"a pre-minted URL is offered {offer} s{' (none: every click mints)' if not offer else ''}.",
            "Check this server's clock (NTP): Cyclr's URLs live 5 minutes (Deploy Marketplace). If the clock is right, "
            "Cyclr's URLs live shorter here, and pre-minting offers them accordingly.")


def _lookup_account(client, account_api_id):
    """``GET /v1.0/accounts/{api id}``: the account, None if Cyclr says 404, "" if it could not tell."""
    try:
        account = client.get_account(account_api_id)
    except CyclrAPIError as exc:
        return None if exc.status == 404 else ""
    return account if isinstance(account, dict) else ""


def _check_mint(report, client, account_api_id):
    """Mint (and leave unused) a Marketplace URL; report its AccountId. The GUID learned, None, or False on failure."""
    before = _lookup_account(client, account_api_id)
    try:
        minted = client.mint_marketplace_url(account_api_id, marketplace_id=proxy_settings.MARKETPLACE_ID,
                                             complete_parameter=COMPLETE_PARAMETER)
    except CyclrAPIError as exc:
        if exc.code == "marketplace_not_found":
            report.add("marketplace_url", FAIL, f"Cyclr does not know Marketplace {proxy_settings.MARKETPLACE_ID}: "
                                                f"{exc.message}",
                       'Set CYCLR_PROXY["MARKETPLACE_ID"] to a Marketplace of this Cyclr console (its number shows '
                       "in the address bar when you edit the Marketplace), and MARKETPLACE_IDS if you offer several.")
        else:
            report.add("marketplace_url", FAIL, f"Cyclr did not mint a Marketplace URL: {exc.message}",
                       "Check the account API id and that the OAuth client may mint Marketplace URLs "
                       "(not an account-restricted token).")
        return False
    _minted_secrets(report, minted)
    report.origin = origin_of(minted.url)
    shown = _shown(minted.url)
    after = before if isinstance(before, dict) else _lookup_account(client, account_api_id)
    expiry = _short_expiry(minted)
    if before is None and isinstance(after, dict):  # not found before the mint, found after: the mint made it
        report.add("marketplace_url", WARNING,
                   f"Cyclr minted a Marketplace URL ({shown}, left unused: it expires in 5 minutes), and it had no "
                   f"account with API id {account_api_id!r} before (GET /v1.0/accounts/{{id}} answered 404), so it "
                   "created one." + (f" {expiry[0]}" if expiry else ""),
                   "If that id was a typo, delete the new account in the Cyclr console (Accounts); next time pass "
                   "the API id of an existing account." + (f" {expiry[1]}" if expiry else ""))
    elif expiry:
        report.add("marketplace_url", WARNING, f"Cyclr minted a Marketplace URL ({shown}), left unused. {expiry[0]}",
                   expiry[1])
    else:
        report.add("marketplace_url", OK,
                   f"Cyclr minted a Marketplace URL ({shown}), left unused: it expires in 5 minutes.")

    account_id = minted.account_id
    guid = None
    if account_id == account_api_id:
        report.add("account_id", OK, "The mint answer's AccountId holds the account's API id, as Cyclr's current "
                                     "docs show (marketplace-deployment).")
    elif _GUID.fullmatch(account_id or ""):
        guid = account_id
        report.add("account_id", OK, "The mint answer's AccountId holds a GUID (Cyclr's internal id, as older pages "
                                     "show), not the API id: the kit accepts both, and identifies accounts by the API "
                                     "id it mints for.")
    else:
        what = "empty" if not account_id else "another value"
        report.add("account_id", WARNING, f"The mint answer's AccountId is neither the API id nor a GUID ({what}): "
                                          "the kit does not rely on it.",
                   "Nothing to set; tell the kit's maintainers what Cyclr answered.")
    if guid is None and isinstance(after, dict) and isinstance(after.get("Id"), str) and _GUID.fullmatch(after["Id"]):
        guid = after["Id"]
    if guid and guid.lower() == account_api_id.lower():  # a host whose API ids are GUIDs: nothing else to try
        guid = None
    return guid


def _try_header(client, value):
    """(accepted, detail) for ``X-Cyclr-Account: value`` on ``GET /v1.0/cycles``; None if Cyclr could not tell."""
    try:
        client.call("GET", "/v1.0/cycles", account=value, params={"page": 1, "pageSize": 1})
    except CyclrAPIError as exc:
        if _refused(exc):
            return False, f"HTTP {exc.status}"
        return None, exc.message
    return True, ""


def _check_account_header(report, client, account_api_id, guid):
    """Which id Cyclr takes in ``X-Cyclr-Account``, against ``CYCLR_PROXY["ACCOUNT_HEADER"]``."""
    setting = 'CYCLR_PROXY["ACCOUNT_HEADER"]'
    configured = configured_account_header()
    by_api_id, api_detail = _try_header(client, account_api_id)
    by_guid, guid_detail = _try_header(client, guid) if guid else (None, "")
    if by_api_id is None or (guid and by_guid is None):
        report.add("account_header", FAIL, f"Cyclr could not answer GET /v1.0/cycles: {api_detail or guid_detail}",
                   "Run the doctor again; if it persists, check Cyclr's status.")
        return
    no_guid = ("; no GUID was found to try instead (the mint answer and GET /v1.0/accounts/{id} carry the API id "
               "only)") if not guid else ""
    if by_api_id:
        accepted = "the API id and the GUID" if by_guid else "the API id" + (
            " and refuses the GUID" if guid else "")
        message = f"Cyclr accepts X-Cyclr-Account with {accepted}{no_guid}."
        if configured == "api_id":
            report.add("account_header", OK, f"Cyclr accepts X-Cyclr-Account with {accepted}, and the kit sends "
                                             "the API id (ACCOUNT_HEADER \"api_id\", the default, as Cyclr's current "
                                             f"docs say){no_guid}.")
        else:
            report.add("account_header", WARNING if by_guid else FAIL, message + f" {setting} is {configured!r}.",
                       f'Set {setting} = "api_id" (the default, as Cyclr\'s current docs say).')
        return
    if by_guid:
        message = f"Cyclr refuses X-Cyclr-Account with the API id ({api_detail}) and accepts the GUID."
        if configured == "id":
            report.add("account_header", OK, message + f' {setting} is "id", which sends the GUID.')
        else:
            report.add("account_header", FAIL, message + f" With {setting} {configured!r}, the kit's calls for "
                                                         "this account would all fail.", f'Set {setting} = "id".')
        return
    both = "the API id or the GUID" if guid else "the API id"
    report.add("account_header", FAIL, f"Cyclr refuses X-Cyclr-Account with {both} ({api_detail}){no_guid}.",
               "Check that the account exists in the Cyclr console (Accounts). If this Cyclr wants the GUID in "
               f'X-Cyclr-Account, set {setting} = "id".')


def _check_marketplace_origins(report):
    origin = report.origin
    allowed = _as_list(proxy_settings.MARKETPLACE_ORIGINS)
    if origin in allowed:
        report.add("marketplace_origins", OK, f"The Marketplace's origin {origin} is in MARKETPLACE_ORIGINS.")
    else:
        report.add("marketplace_origins", FAIL,
                   f"The minted Marketplace URL's origin {origin} is not in MARKETPLACE_ORIGINS, so the proxy page "
                   "would ignore every result it posts.",
                   f'Add "{origin}" to CYCLR_PROXY["MARKETPLACE_ORIGINS"].')


def _host_origins(report):
    origins = _as_list(proxy_settings.HOST_ORIGINS)
    bad = [o for o in origins if not isinstance(o, str) or not is_origin(o)]
    return origins, bad


def _django_checks(report):
    origins, bad = _host_origins(report)
    if not origins or bad:
        what = ("HOST_ORIGINS is empty" if not origins
                else f"HOST_ORIGINS has entries that are not exact origins: {', '.join(map(repr, bad))}")
        fix = ('Set CYCLR_PROXY["HOST_ORIGINS"] to this site\'s origins, scheme and port included, no path, '
               'such as ["https://app.example.com"].')
        report.add("allowed_hosts", FAIL, what + ".", fix)
        report.add("csrf_trusted_origins", SKIPPED, "Skipped: HOST_ORIGINS must be fixed first.")
        return
    missing = allowed_hosts_findings(origins)
    if missing:
        hosts = list(dict.fromkeys(host for _o, host in missing))
        report.add("allowed_hosts", FAIL,
                   f"ALLOWED_HOSTS refuses {', '.join(o for o, _h in missing)}: Django answers 400 to every "
                   "request there.",
                   "Add " + ", ".join(f'"{h}"' for h in hosts) + " to ALLOWED_HOSTS.")
    else:
        report.add("allowed_hosts", OK, "ALLOWED_HOSTS admits every HOST_ORIGINS entry.")
    untrusted = [o for o in origins if not csrf_trusted(o)]
    if untrusted:
        report.add("csrf_trusted_origins", WARNING,
                   f"CSRF_TRUSTED_ORIGINS does not list {', '.join(untrusted)}: the HTTP fallback (proxy:result) "
                   "gets 403 if a proxy in front of Django hides the scheme or host the browser used.",
                   "Add " + ", ".join(f'"{o}"' for o in untrusted) + " to CSRF_TRUSTED_ORIGINS.")
    else:
        report.add("csrf_trusted_origins", OK, "CSRF_TRUSTED_ORIGINS lists every HOST_ORIGINS entry.")


def _check_framing(report, client, account_api_id, framing_required):
    origins, bad = _host_origins(report)
    if not origins or bad:
        report.add("framing", SKIPPED, "Skipped: HOST_ORIGINS must be fixed first.")
        return
    try:  # a URL of its own: the first one stays unused, and this one is spent by the request below
        minted = client.mint_marketplace_url(account_api_id, marketplace_id=proxy_settings.MARKETPLACE_ID,
                                             complete_parameter=COMPLETE_PARAMETER)
    except CyclrAPIError as exc:
        report.add("framing", WARNING, f"Cyclr did not mint a second Marketplace URL, so framing was not checked: "
                                       f"{exc.message}", "Run the doctor again.")
        return
    _minted_secrets(report, minted)
    allowed, reason, status = probe_framing(minted.url, origins)
    where = f"{_shown(minted.url)}" + (f", HTTP {status}" if status else "")
    cookies = ("Even framed, browsers that block third-party cookies (Safari, Firefox strict, Chrome Incognito) "
               f"lose the Marketplace's session: the kit then offers the top-level way ({FRAMING_DOC}).")
    if allowed is None:
        report.add("framing", WARNING, f"Framing was not checked: {reason} ({where}).",
                   "Check that this machine can reach the Marketplace's domain, and run the doctor again.")
        return
    if not allowed:
        report.add("framing", FAIL if framing_required else WARNING,
                   f"The Marketplace refuses to be framed by this site: {reason} (its first answer: {where}).",
                   "Enable iframe embedding in the Cyclr console (Settings > General Settings: iframe Embedding on, "
                   "and " + ", ".join(origins) + " in the Host Source Whitelist), or use mode=redirect/direct. "
                   + cookies)
        return
    plain = [o for o in origins if urlsplit(o).scheme == "http" and urlsplit(o).hostname not in
             ("localhost", "127.0.0.1", "::1") and not (urlsplit(o).hostname or "").endswith(".localhost")]
    if plain:
        report.add("framing", WARNING,
                   f"The Marketplace may be framed: {reason} (its first answer: {where}); but Cyclr requires the "
                   f"page hosting the iframe to be served over HTTPS and {', '.join(plain)} is plain http.",
                   "Serve the site over HTTPS and list its https:// origin in HOST_ORIGINS. " + cookies)
        return
    report.add("framing", OK, f"The Marketplace may be framed by this site: {reason} (its first answer: {where}). "
                                  + cookies)


# --- output ---------------------------------------------------------------------------------------------

MARKS = {OK: "[ ok ]", WARNING: "[warn]", FAIL: "[FAIL]", SKIPPED: "[skip]"}


def render_text(report):
    """One line per check, a mark first, the fix indented under it; a verdict line last."""
    lines = []
    for check in report.checks:
        lines.append(f"{MARKS[check.status]} {check.id}: {check.message}")
        if check.fix and check.status in (WARNING, FAIL):
            lines.append(f"       fix: {check.fix}")
    failed = sum(check.status == FAIL for check in report.checks)
    warned = sum(check.status == WARNING for check in report.checks)
    lines.append(f"{failed} failed, {warned} warning(s): " + ("ready." if report.ok else "fix the failures above."))
    return "\n".join(lines) + "\n"
