"""What Cyclr vouches for: checking a claimed result against its launch and Cyclr's API.

The browser's result is a claim: its owner can forge every field of it. The kit therefore
*records* what Cyclr says and only *compares* the claim with it:

- per cycle, ``Status``, ``TemplateId``, ``TemplateReleaseId`` and ``CreatedOnUtc`` from Cyclr's
  ``GET /v1.0/cycles/{id}``, asked under the account the launch was minted for;
- webhook URLs only where Cyclr vouches for them: the cycle's ``Webhooks`` in that answer, or the
  Marketplace notification (server to server, authenticated by its secret); and only URLs on
  Cyclr's own hosts (``API_URL``'s and ``MARKETPLACE_ORIGINS``'); any other is never recorded;
  the URLs on Cyclr's hosts that only the browser claimed are kept apart, as ``claimed_webhooks``
  (a LAUNCH install's have no other source);
- errors from every arrival, united: no later or other arrival can drop an error one reported.
The account id a claim names is compared (either of the account's ids), never recorded: Cyclr vouches for the
claimed cycles under the launch's account, not for the id the browser wrote beside them.

A claim that disagrees with Cyclr gets a reason: ``account_mismatch``, ``unknown_cycle``,
``replayed`` (a cycle Cyclr created before the launch opened) or ``claim_mismatch`` (status,
template, release or a webhook URL), with each disagreement. This module only decides: the settle
layer refuses such a claim and leaves the launch open for the genuine one (``proxy.settle.REFUSALS``).

With ``VERIFY_WITH_API`` off nothing is asked, so nothing more is vouched: statuses and templates
stay as claimed, webhook URLs come only from the notification, and the account checks still hold.
"""
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .accounts import names_account
from .conf import proxy_settings
from .cyclr import CyclrClient
from .exceptions import ProxyError
from .results import CLAIMABLE, CYCLR_WORDS, MAX_ERRORS, STATUSES, InstallResult, Webhook

logger = logging.getLogger(__name__)

# The delivery path whose result Cyclr itself sent, authenticated by the webhook secret.
NOTIFICATION_SOURCE = "webhook"
# How far Cyclr's clock may run behind ours before a cycle counts as created before its launch.
CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class Verdict:
    """The result Cyclr vouches for, why the claim does not stand (None: it completes) and each disagreement."""

    result: InstallResult
    reason: ProxyError | None = None
    mismatches: tuple = ()


# --- Cyclr's hosts ------------------------------------------------------------------------------------


def cyclr_hosts() -> set:
    """Host names Cyclr serves from, as configured: ``API_URL``'s and each of ``MARKETPLACE_ORIGINS``'."""
    hosts = set()
    for url in (proxy_settings.API_URL, *proxy_settings.MARKETPLACE_ORIGINS):
        try:
            host = urlsplit(url).hostname if isinstance(url, str) else None
        except ValueError:
            host = None
        if host:
            hosts.add(host.lower())
    return hosts


def on_cyclr_host(url, hosts=None) -> bool:
    """True if ``url`` is an http(s) URL, without user info, on one of Cyclr's hosts."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except (ValueError, TypeError):
        return False
    hosts = cyclr_hosts() if hosts is None else hosts
    return parts.scheme in ("https", "http") and not parts.username and bool(host) and host.lower() in hosts


def _on_host(webhooks, hosts, where=""):
    kept = []
    for hook in webhooks:
        if on_cyclr_host(hook.url, hosts):
            kept.append(hook)
        else:  # the URL itself is a secret (or an attacker's): never in a log line
            logger.warning("Dropped a webhook URL off Cyclr's hosts%s (step %r).", where, hook.step_name)
    return tuple(kept)


def _union_webhooks(*groups):
    seen, merged = set(), []
    for group in groups:
        for hook in group:
            if hook.url not in seen:
                seen.add(hook.url)
                merged.append(hook)
    return tuple(merged)


def union_errors(*groups):
    """Every error once, in the order first reported, at most ``MAX_ERRORS`` (one result's own limit): repeats
    of a launch's result cannot grow what it stores without bound."""
    return tuple(dict.fromkeys(error for group in groups for error in group))[:MAX_ERRORS]


# --- before and between verification ------------------------------------------------------------------


def provisional_result(claim: InstallResult, *, source) -> InstallResult:
    """What a launch holds from its first arrival until verification: the claim without unvouched webhook URLs.

    Only the Marketplace notification vouches for URLs at this point (and only those on Cyclr's hosts).
    """
    hosts = cyclr_hosts()
    vouched = source == NOTIFICATION_SOURCE
    cycles = tuple(replace(c, webhooks=_on_host(c.webhooks, hosts) if vouched else ()) for c in claim.cycles)
    return replace(claim, cycles=cycles, claimed=() if vouched else claimed_fields(claim))


def claimed_fields(result):
    """The names of ``CLAIMABLE`` that ``result`` sets: what a browser's result says beyond what Cyclr vouches for."""
    return tuple(name for name in CLAIMABLE if getattr(result, name) not in (None, "", ()))


def absorb(stored: InstallResult, arrival: InstallResult, *, source) -> InstallResult:
    """``stored`` after another arrival of the same install: its errors join; a notification's URLs too.

    Nothing else of a repeat is taken: the first arrival's claim is what verification compares. A URL
    the notification vouches for is no longer only claimed.
    """
    cycles, claimed, extra = stored.cycles, set(stored.claimed), {}
    errors = union_errors(stored.errors, arrival.errors)
    if source == NOTIFICATION_SOURCE:
        hosts = cyclr_hosts()
        hooks = {c.cycle_id: _on_host(c.webhooks, hosts) for c in arrival.cycles}
        cycles = tuple(_only_claimed(replace(c, webhooks=_union_webhooks(c.webhooks, hooks.get(c.cycle_id, ()))))
                       for c in cycles)
        # Cyclr's word on the package replaces the browser's (a LAUNCH install is the account's, package 0: none).
        if arrival.marketplace_package_id is not None and stored.flow != "launch":
            extra["marketplace_package_id"] = arrival.marketplace_package_id
            claimed.discard("marketplace_package_id")
    elif errors != stored.errors:  # errors only a browser reported
        claimed.add("errors")
    return replace(stored, cycles=cycles, errors=errors, claimed=tuple(f for f in CLAIMABLE if f in claimed), **extra)


def _only_claimed(cycle, claimed=None):
    """``cycle`` with ``claimed_webhooks``: the URLs on Cyclr's hosts that ``claimed`` (default: the cycle's
    own ``claimed_webhooks``) names and Cyclr has not vouched for (``cycle.webhooks``)."""
    vouched = {h.url for h in cycle.webhooks}
    claimed = cycle.claimed_webhooks if claimed is None else _on_host(claimed, cyclr_hosts(), f" for cycle {cycle.cycle_id}")
    return replace(cycle, claimed_webhooks=tuple(h for h in claimed if h.url not in vouched))


def with_claimed_webhooks(result: InstallResult, claim: InstallResult) -> InstallResult:
    """``result`` (what Cyclr vouches for) with each cycle's ``claimed_webhooks`` from the browser's ``claim``.

    Cyclr's cycle resource documents no ``Webhooks`` and no notification is documented for LAUNCH installs,
    so a LAUNCH install's webhook URLs (which its docs call the way to send data to the cycle) are only
    ever claimed by the browser. They are kept as what they are: claims, on Cyclr's hosts, apart.
    """
    claimed = {c.cycle_id: c.webhooks for c in claim.cycles}
    return replace(result, cycles=tuple(_only_claimed(c, claimed.get(c.cycle_id, ())) for c in result.cycles))


# --- verification -------------------------------------------------------------------------------------


def _mismatch(cycle_id, field, claimed, cyclr):
    return {"cycle_id": cycle_id, "field": field, "claimed": claimed, "cyclr": cyclr}


def _cyclr_status(value):
    """``(state, Cyclr's word)`` for the API's ``Status``: its ``Paused`` is the result's ``Stopped``."""
    if not isinstance(value, str) or not value:
        return "", ""
    value = value.strip()[:16]
    return STATUSES.get(value.lower(), value), CYCLR_WORDS.get(value.lower(), value)


def _cyclr_guid(value):
    return value.lower() if isinstance(value, str) else ""


def _cyclr_name(value):
    """Cyclr's name for a cycle, trimmed to what the installation records keep (255); "" if it gives none."""
    return value.strip()[:255] if isinstance(value, str) else ""


def _cyclr_webhooks(data):
    """The cycle's webhook steps in Cyclr's answer, or None if the answer does not say."""
    items = data.get("Webhooks")
    if not isinstance(items, list):
        return None
    return tuple(Webhook(step_name=str(item.get("StepName") or ""), url=item["Url"])
                 for item in items if isinstance(item, dict) and isinstance(item.get("Url"), str))


def parse_utc(value):
    """Cyclr's ``CreatedOnUtc`` (``2030-01-01T12:00:00.000Z``, or without the ``Z``) as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


# Claimed and Cyclr states that do not disagree: Cyclr documents a cycle as ``Paused`` (Stopped) right after
# install while the Launch Complete page already calls it ``Active`` (it is started as the install finishes).
COMPATIBLE_STATUSES = {("Active", "Stopped")}


def _disagree(field, claim, cyclr):
    if not claim or not cyclr:  # a field missing on either side is not a disagreement
        return False
    return claim != cyclr and not (field == "status" and (claim, cyclr) in COMPATIBLE_STATUSES)


# What is compared of each claimed cycle besides its webhook URLs (``proxy.services.disagree`` compares two claims
# by the same fields).
CHECKED_FIELDS = ("status", "template_id", "template_release_id")


def _check_cycle(launch, claimed, data, vouched_hooks, hosts):
    """``(cycle as Cyclr has it, disagreements, replayed)`` for one claimed cycle and Cyclr's answer for it."""
    status, word = _cyclr_status(data.get("Status"))
    template_id = _cyclr_guid(data.get("TemplateId"))
    release_id = _cyclr_guid(data.get("TemplateReleaseId"))
    api_hooks = _cyclr_webhooks(data)
    mismatches = []
    for field, cyclr in zip(CHECKED_FIELDS, (status, template_id, release_id)):
        claim = getattr(claimed, field)
        if _disagree(field, claim, cyclr):
            mismatches.append(_mismatch(claimed.cycle_id, field, claim, cyclr))
    cyclr_hooks = _union_webhooks(api_hooks or (), vouched_hooks)
    if api_hooks is not None or vouched_hooks:  # Cyclr says which URLs the cycle has: a claimed other one is forged
        claimed_urls, cyclr_urls = {h.url for h in claimed.webhooks}, {h.url for h in cyclr_hooks}
        if claimed_urls - cyclr_urls:
            mismatches.append(_mismatch(claimed.cycle_id, "webhooks", sorted(claimed_urls), sorted(cyclr_urls)))
    replayed = False
    created = parse_utc(data.get("CreatedOnUtc"))
    if created is not None and created < launch.created_at - CLOCK_SKEW:
        replayed = True
        mismatches.append(_mismatch(claimed.cycle_id, "created_on_utc",
                                    f"on or after {launch.created_at.isoformat()}", data.get("CreatedOnUtc")))
    cycle = replace(claimed, status=status, cyclr_status=word, template_id=template_id, template_release_id=release_id,
                    name=_cyclr_name(data.get("Name")), webhooks=_on_host(cyclr_hooks, hosts, f" for cycle {claimed.cycle_id}"))
    return cycle, mismatches, replayed


def _ids_only(result, vouched):
    """A failed launch's result: the claimed cycles with what Cyclr vouched for so far, nothing claimed."""
    hooks = {c.cycle_id: c.webhooks for c in vouched.cycles}
    return replace(result, cycles=tuple(
        replace(c, status="", cyclr_status="", template_id="", template_release_id="", webhooks=hooks.get(c.cycle_id, ()),
                claimed_webhooks=())
        for c in result.cycles))


def account_mismatches(claim, *, account_api_id, cyclr_account_id=""):
    """The disagreements between the account ``claim`` names and the launch's (its API id, its GUID if learned)."""
    mismatches = []
    # Either id of the launch's account (Cyclr answers with either, docs/accounts.md); the API id is the one the host chose.
    if not names_account(claim.account_id, account_api_id=account_api_id, cyclr_account_id=cyclr_account_id):
        mismatches.append(_mismatch("", "account_id", claim.account_id, cyclr_account_id or account_api_id))
    if claim.account_api_id and claim.account_api_id != account_api_id:
        mismatches.append(_mismatch("", "account_api_id", claim.account_api_id, account_api_id))
    return mismatches


def asks_cyclr(claim, *, account_api_id, cyclr_account_id="") -> bool:
    """True if ``verify_result`` asks Cyclr about ``claim``'s cycles for a launch of this account: the claim names
    the account and has cycles, and ``VERIFY_WITH_API`` is on (``proxy.ahead`` asks only then)."""
    return (bool(proxy_settings.VERIFY_WITH_API) and bool(claim.cycles)
            and not account_mismatches(claim, account_api_id=account_api_id, cyclr_account_id=cyclr_account_id))


def verify_result(launch, claim, *, vouched=None, answered=None) -> Verdict:
    """Check ``claim`` against ``launch`` and Cyclr; return the ``Verdict``.

    ``vouched`` is what the launch holds so far (``provisional_result`` plus repeats ``absorb``ed):
    the notification's webhook URLs and every arrival's errors. Raises ``CyclrAPIError`` if Cyclr
    cannot be asked (the result then stays unverified and can be retried). Cycles are looked up
    under the account the launch was minted for, never the one the browser claims. ``answered``, if
    given, is ``callable(cycle_ids, account)`` returning Cyclr's answers to that very round if it was
    asked already (``proxy.ahead.take``), else None: then it is asked here.
    """
    if vouched is None:
        vouched = provisional_result(claim, source=launch.source)
    base = replace(vouched, errors=union_errors(claim.errors, vouched.errors))
    mismatches = account_mismatches(claim, account_api_id=launch.account_api_id, cyclr_account_id=launch.cyclr_account_id)
    if mismatches:  # Cyclr was not asked: it vouches for none of the cycles
        return Verdict(_ids_only(base, vouched), ProxyError(
            "account_mismatch", _("The result names a different account from the one this launch opened.")), tuple(mismatches))
    if not claim.cycles:
        detail = "; ".join(base.errors) or _("no integration was installed")
        return Verdict(base, ProxyError("install_errors", _("Cyclr reported the install failed: %(errors)s") % {"errors": detail}))
    if not proxy_settings.VERIFY_WITH_API:
        return Verdict(with_claimed_webhooks(base, claim))  # nothing more is vouched: see the module's docstring

    account = launch.x_cyclr_account
    hosts = cyclr_hosts()
    hooks = {c.cycle_id: c.webhooks for c in vouched.cycles}
    cycles, replayed_ids = [], []
    # One round of calls for up to MAX_PARALLEL claimed cycles; a later round only if Cyclr knew every cycle
    # before it, so a forged list of ids cannot cost a call each (CyclrClient.get_cycles). The answers are
    # read in claim order, and end at the first cycle Cyclr does not know.
    cycle_ids = [c.cycle_id for c in claim.cycles]
    answers = answered(cycle_ids, account) if answered else None
    if answers is None:
        answers = CyclrClient().get_cycles(cycle_ids, account=account)
    for index, (claimed, data) in enumerate(zip(claim.cycles, answers)):
        if not isinstance(data, dict):  # Cyclr does not know it: the rest stays unchecked
            mismatches.append(_mismatch(claimed.cycle_id, "cycle_id", claimed.cycle_id, None))
            unchecked = _ids_only(replace(base, cycles=claim.cycles[index:]), vouched).cycles
            return Verdict(replace(base, cycles=(*cycles, *unchecked)), ProxyError(
                "unknown_cycle", _("Cyclr has no cycle %(cycle)s in this launch's account.") % {"cycle": claimed.cycle_id}),
                tuple(mismatches))
        cycle, disagreements, replayed = _check_cycle(launch, claimed, data, hooks.get(claimed.cycle_id, ()), hosts)
        cycles.append(cycle)
        mismatches.extend(disagreements)
        if replayed:
            replayed_ids.append(claimed.cycle_id)
    result = replace(base, cycles=tuple(cycles))
    if replayed_ids:
        return Verdict(result, ProxyError(
            "replayed", _("Cyclr created cycle %(cycle)s before this launch opened: the result is an earlier "
                          "install's, not this launch's.") % {"cycle": replayed_ids[0]}), tuple(mismatches))
    if mismatches:
        fields = ", ".join(dict.fromkeys(m["field"] for m in mismatches))
        return Verdict(result, ProxyError(
            "claim_mismatch", _("The result disagrees with what Cyclr has (%(fields)s).") % {"fields": fields}),
            tuple(mismatches))
    return Verdict(with_claimed_webhooks(result, claim))
