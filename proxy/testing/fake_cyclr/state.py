"""In-memory state of the fake Cyclr: one partner tenant with its accounts, tokens, sessions and cycles.

The HTTP handler threads and the test thread share one `FakeCyclrState`. Every public method takes its
lock, and everything handed out is a copy, so a test can read the state while the browser is still
clicking through the Marketplace.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

NOT_STARTED_ERROR = "Please set up all the steps correctly before starting the cycle."
ACTIVE_MESSAGE = "Integration is now active"
ERRORS_MESSAGE = "Integration installed with errors"

# Fixed namespace so that a template keeps the same GUIDs across runs, as a real template does.
_TEMPLATE_NAMESPACE = uuid.UUID("6f1f5a52-8f2e-4c52-9d5e-0c9a4a1f7c11")


@dataclass(frozen=True)
class CycleTemplate:
    """A cycle template of an integration package; installing the package makes one cycle from it."""

    name: str
    webhook_step: str | None  # name of the template's webhook trigger step, if it has one
    template_id: str
    template_release_id: str


@dataclass(frozen=True)
class Package:
    """An integration package listed in the Marketplace."""

    id: int
    name: str
    description: str
    connector: str
    templates: tuple[CycleTemplate, ...]
    tags: tuple[str, ...] = ()  # what a LAUNCH call's Tags select


def _template(package_id: int, index: int, name: str, webhook_step: str | None) -> CycleTemplate:
    return CycleTemplate(
        name=name,
        webhook_step=webhook_step,
        template_id=str(uuid.uuid5(_TEMPLATE_NAMESPACE, f"template-{package_id}-{index}")),
        template_release_id=str(uuid.uuid5(_TEMPLATE_NAMESPACE, f"release-{package_id}-{index}")),
    )


PACKAGES: dict[int, Package] = {
    package.id: package
    for package in (
        Package(
            id=1,
            name="Salesforce CRM sync",
            description="Keep your Salesforce contacts in step with this app.",
            connector="Salesforce",
            templates=(_template(1, 1, "Sync Salesforce contacts", "Contact updated"),),
            tags=("crm", "salesforce"),
        ),
        Package(
            id=2,
            name="Mailchimp audience sync",
            description="Add new customers to a Mailchimp audience and sync unsubscribes back.",
            connector="Mailchimp",
            templates=(
                _template(2, 1, "Add customers to Mailchimp", "Customer created"),
                _template(2, 2, "Sync Mailchimp unsubscribes", "Subscriber unsubscribed"),
            ),
            tags=("email", "mailchimp"),
        ),
        Package(
            id=3,
            name="Slack alerts",
            description="Post a message to a Slack channel every hour.",
            connector="Slack",
            # A scheduled cycle: no webhook step, so its result carries no webhook URL.
            templates=(_template(3, 1, "Hourly Slack summary", None),),
            tags=("alerts", "slack"),
        ),
        Package(
            id=4,
            name="HubSpot two-way sync",
            description="Sync contacts, deals and companies between HubSpot and this app.",
            connector="HubSpot",
            # Three cycles in one install: what verification asks Cyclr about in one round (the benchmark's package).
            templates=(
                _template(4, 1, "Sync HubSpot contacts", "Contact changed"),
                _template(4, 2, "Sync HubSpot deals", "Deal changed"),
                _template(4, 3, "Sync HubSpot companies", "Company changed"),
            ),
            tags=("hubspot",),
        ),
    )
}


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z` suffix, as Cyclr writes `ExpiresAtUtc` and `CreatedOnUtc`."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Session:
    """A signed-in Marketplace session, made by redeeming a minted URL's token."""

    id: str
    account_api_id: str
    account_id: str
    user_id: str
    marketplace_id: int
    complete_parameter: str | None
    kind: str = "marketplace"  # or "launch" (LAUNCH) or "orbit" (ORBIT)
    options: tuple = ()  # LAUNCH: (("Tags", (...)), ("Start", True), ...)

    def option(self, name: str, default: object = None) -> object:
        return dict(self.options).get(name, default)


@dataclass
class _MarketplaceToken:
    account_api_id: str
    marketplace_id: int
    complete_parameter: str | None
    expires_at: datetime
    used: bool = False
    kind: str = "marketplace"
    options: tuple = ()


# Cycle fields the Partner API returns (cyclr/docs, Install a cycle: `Id`, `Name`, `Status`, `TemplateId`,
# `Connectors`, `CreatedOnUtc`, ...); the stored record also names its owner account and keeps `Webhooks`, the
# cycle's webhook trigger steps (`[{"StepName", "Url"}]`) that the API shows only with `cycle_webhooks=True`
# (none is documented on the cycle resource). `TemplateReleaseId` is not documented there either; the fake
# sends it, and the kit treats a cycle without it as saying nothing about the release.
CYCLE_API_FIELDS = ("Id", "Name", "Status", "TemplateId", "TemplateReleaseId", "Connectors", "CreatedOnUtc")


def marketplace_result(install: dict) -> dict:
    """The browser `result` object of the Launch Complete page, in Cyclr's camelCase Marketplace shape."""
    return {
        "accountId": install["account_id"],
        "accountApiId": install["account_api_id"],
        "userId": install["user_id"],
        "installCompleteMessage": install["install_complete_message"],
        "marketplacePackageId": install["package_id"],
        "cycles": copy.deepcopy(install["cycles"]),
        "errors": list(install["errors"]),
    }


def launch_result(install: dict) -> dict:
    """The browser `result` of a LAUNCH install: one cycle at the top level, webhooks as URL strings."""
    cycle = install["cycles"][0]
    return {
        "accountId": install["account_id"],
        "accountApiId": install["account_api_id"],
        "userId": install["user_id"],
        "cycleId": cycle["cycleId"],
        "templateId": cycle["templateId"],
        "templateReleaseId": cycle["templateReleaseId"],
        "status": cycle["status"],
        "webhooks": [hook["url"] for hook in cycle["webhooks"]],
        "errors": list(install["errors"]),
        "completeParameter": install["complete_parameter"],
        "installCompleteMessage": install["install_complete_message"],
    }


def templates_tagged(tags: Iterable[str]) -> tuple[Package, tuple[CycleTemplate, ...]] | None:
    """The first package with any of `tags` and its templates (LAUNCH installs one package's templates)."""
    wanted = {t.lower() for t in tags}
    for package in PACKAGES.values():
        if wanted & set(package.tags):
            return package, package.templates[:1]
    return None


NOTIFICATION_STATUSES = ("installed", "uninstalled", "started", "stopped")


def marketplace_notification(install: dict, status: str = "installed") -> dict:
    """The Marketplace webhook's body for an install, in Cyclr's PascalCase server-to-server shape."""
    return {
        "Status": status,
        "AccountId": install["account_id"],
        "AccountApiId": install["account_api_id"],
        "MarketplaceIntegrationPackageId": install["package_id"],
        "MarketplaceInstallDetails": [
            {
                "CycleId": cycle["cycleId"],
                "CycleStatus": cycle["status"],
                "Webhooks": [{"Url": hook["url"], "StepName": hook["stepName"]} for hook in cycle["webhooks"]],
                "TemplateId": cycle["templateId"],
                "TemplateReleaseId": cycle["templateReleaseId"],
            }
            for cycle in install["cycles"]
        ],
        "Errors": list(install["errors"]),
        "UserId": install["user_id"],
        "CompleteParameter": install["complete_parameter"],
    }


class FakeCyclrState:
    """The partner tenant: credentials, access tokens, accounts, minted URLs, sessions, cycles, installs."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        marketplace_ids: Iterable[int],
        token_expires_in: int,
        marketplace_url_ttl: int,
        complete_html: str | None,
        clock: Callable[[], datetime] | None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.marketplace_ids = frozenset(int(i) for i in marketplace_ids)
        self.token_expires_in = int(token_expires_in)
        self.marketplace_url_ttl = int(marketplace_url_ttl)
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._complete_html = complete_html
        self._token_requests = 0
        self._access_tokens: dict[str, datetime] = {}
        self._marketplace_tokens: dict[str, _MarketplaceToken] = {}
        self._marketplace_requests: list[dict] = []
        self._issued_tokens: list[str] = []  # every access token and sign-in token given out, oldest first
        self._sessions: dict[str, Session] = {}
        self._accounts: dict[str, dict] = {}  # by ApiId
        self._cycles: dict[str, dict] = {}
        self._installs: list[dict] = []
        self._webhook_keys: dict[str, str] = {}  # key -> cycle id
        self._api_calls: list[tuple[str, str]] = []
        self._activations: list[dict] = []
        self._state_file: Path | None = None  # see keep_in

    # --- kept across restarts (the demo's and your project's fake: `keep_in`) ---------------------------------

    # What a restart would otherwise forget, and a real Cyclr keeps: its accounts and what they installed.
    # Tokens, sign-in links and sessions are short-lived there too: they are not kept.
    KEPT = ("_accounts", "_cycles", "_installs", "_webhook_keys")

    def keep_in(self, path) -> None:
        """Load what `path` holds (if it exists) and write the accounts, cycles and installs there on every change.

        A file that cannot be read as the fake's state is `ValueError`, naming it: nothing is loaded over it.
        """
        path = Path(path)
        with self._lock:
            if path.exists():
                try:
                    kept = json.loads(path.read_text(encoding="utf-8"))
                    loaded = {name: kept[name.lstrip("_")] for name in self.KEPT}
                    if not all(isinstance(loaded[n], list if n == "_installs" else dict) for n in self.KEPT):
                        raise TypeError
                except (ValueError, KeyError, TypeError, OSError) as error:
                    raise ValueError(f"{path} is not the fake Cyclr's saved state ({type(error).__name__}): "
                                     "move it away to start afresh.") from None
                for name, value in loaded.items():
                    setattr(self, name, value)
            self._state_file = path

    @property
    def state_file(self) -> Path | None:
        """The file the accounts, cycles and installs are kept in (`keep_in`), or None."""
        return self._state_file

    def _persist(self) -> None:
        """Write what is kept to the state file, if any (called under the lock, after each change)."""
        if self._state_file is None:
            return
        self._state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._state_file.with_name(self._state_file.name + ".tmp")
        temporary.write_text(json.dumps({name.lstrip("_"): getattr(self, name) for name in self.KEPT}, indent=1),
                             encoding="utf-8")
        os.replace(temporary, self._state_file)  # a reader never sees half a file

    def now(self) -> datetime:
        """The current time from the injected clock (which must return an aware datetime)."""
        moment = self._clock()
        if moment.tzinfo is None:
            raise ValueError("The fake Cyclr's clock must return an aware datetime (UTC).")
        return moment

    # --- console settings -------------------------------------------------------------------------

    @property
    def complete_html(self) -> str | None:
        with self._lock:
            return self._complete_html

    def set_complete_html(self, html: str | None) -> None:
        with self._lock:
            self._complete_html = html

    # --- OAuth client credentials -----------------------------------------------------------------

    def issue_access_token(self, *, grant_type: str, client_id: str, client_secret: str) -> str | None:
        """A new bearer token, or None if the grant or the credentials are wrong."""
        # Compare both values in full every time, so timing says nothing about which one was wrong.
        id_ok = secrets.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = secrets.compare_digest(client_secret.encode(), self.client_secret.encode())
        if grant_type != "client_credentials" or not (id_ok and secret_ok):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens[token] = self.now() + timedelta(seconds=self.token_expires_in)
            self._issued_tokens.append(token)
            self._token_requests += 1
        return token

    def access_token_is_valid(self, token: str) -> bool:
        with self._lock:
            expires_at = self._access_tokens.get(token)
            return expires_at is not None and self.now() < expires_at

    def revoke_tokens(self) -> None:
        with self._lock:
            self._access_tokens.clear()

    # --- accounts and Marketplace URLs ------------------------------------------------------------

    def mint_marketplace_token(
        self,
        *,
        account_api_id: str,
        marketplace_id: int,
        account_name: str | None,
        account_description: str | None,
        complete_parameter: str | None,
        body: dict,
        headers: dict,
        kind: str = "marketplace",
        options: tuple = (),
    ) -> tuple[dict, str, datetime]:
        """Create the account if needed and mint a single-use sign-in token: (account, token, expiry)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            account = self._accounts.get(account_api_id)
            if account is None:
                account = {
                    "Id": str(uuid.uuid4()),
                    "ApiId": account_api_id,
                    "Name": account_name or account_api_id,
                    "Description": account_description or "",
                }
                self._accounts[account_api_id] = account
            expires_at = self.now() + timedelta(seconds=self.marketplace_url_ttl)
            self._issued_tokens.append(token)
            self._marketplace_tokens[token] = _MarketplaceToken(
                account_api_id=account_api_id,
                marketplace_id=marketplace_id,
                complete_parameter=complete_parameter,
                expires_at=expires_at,
                kind=kind,
                options=options,
            )
            self._marketplace_requests.append(
                {"account_api_id": account_api_id, "body": copy.deepcopy(body), "headers": dict(headers)}
            )
            self._persist()
            return dict(account), token, expires_at

    def redeem_marketplace_token(self, token: str) -> Session | None:
        """Consume a minted token and open a session; None if it is unknown, used or expired."""
        with self._lock:
            minted = self._marketplace_tokens.get(token)
            if minted is None or minted.used or self.now() >= minted.expires_at:
                return None
            minted.used = True
            account = self._accounts[minted.account_api_id]
            session = Session(
                id=secrets.token_urlsafe(24),
                account_api_id=minted.account_api_id,
                account_id=account["Id"],
                user_id=str(uuid.uuid4()),
                marketplace_id=minted.marketplace_id,
                complete_parameter=minted.complete_parameter,
                kind=minted.kind,
                options=minted.options,
            )
            self._sessions[session.id] = session
            return session

    def get_session(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(session_id)

    def find_account(self, reference: str) -> dict | None:
        """An account by its GUID `Id` (any case) or by its `ApiId`."""
        with self._lock:
            account = self._find_account(reference)
            return dict(account) if account else None

    def _find_account(self, reference: str) -> dict | None:
        for account in self._accounts.values():
            if account["Id"].lower() == reference.lower():
                return account
        return self._accounts.get(reference)

    # --- installs and cycles ----------------------------------------------------------------------

    def install_package(self, *, session: Session, package: Package, start: bool, base_url: str,
                        templates: tuple[CycleTemplate, ...] | None = None, flow: str = "marketplace") -> dict:
        """Install a package in the session's account: one cycle per template (or per one of ``templates``,
        for LAUNCH). Returns the install record."""
        with self._lock:
            now = self.now()
            status = "Active" if start else "Stopped"
            result_cycles = []
            for template in package.templates if templates is None else templates:
                cycle_id = str(uuid.uuid4())
                webhooks = []
                if template.webhook_step:
                    key = secrets.token_urlsafe(16)
                    self._webhook_keys[key] = cycle_id
                    webhooks.append({"stepName": template.webhook_step, "url": f"{base_url}/api/webhook/{key}"})
                self._cycles[cycle_id] = {
                    "Id": cycle_id,
                    "Name": template.name,
                    "Status": status,
                    "TemplateId": template.template_id,
                    "TemplateReleaseId": template.template_release_id,
                    "Connectors": [{"Name": package.connector, "Version": "1.0"}],
                    "CreatedOnUtc": format_utc(now),
                    "AccountId": session.account_id,
                    "AccountApiId": session.account_api_id,
                    "Webhooks": [{"StepName": w["stepName"], "Url": w["url"]} for w in webhooks],
                }
                result_cycles.append(
                    {
                        "cycleId": cycle_id,
                        "templateId": template.template_id,
                        "templateReleaseId": template.template_release_id,
                        "status": status,
                        "webhooks": webhooks,
                    }
                )
            errors = [] if start else [NOT_STARTED_ERROR]
            install = {
                "id": str(uuid.uuid4()),
                "session_id": session.id,
                "account_id": session.account_id,
                "account_api_id": session.account_api_id,
                "user_id": session.user_id,
                "marketplace_id": session.marketplace_id,
                "package_id": package.id,
                "complete_parameter": session.complete_parameter,
                "cycles": result_cycles,
                "errors": errors,
                "install_complete_message": ERRORS_MESSAGE if errors else ACTIVE_MESSAGE,
                "created_on_utc": format_utc(now),
                "flow": flow,
            }
            self._installs.append(install)
            self._persist()
            return copy.deepcopy(install)

    # --- after the install: stop, start, uninstall (what ORBIT, the console or Cyclr itself do) ---------

    def set_install_status(self, install_id: str, status: str) -> tuple[dict, list[str]] | None:
        """Set every live cycle of an install to `status` ("Active" or "Stopped").

        Returns `(install, changed cycle ids)`, or None if there is no such live install.
        """
        with self._lock:
            install = self._live_install(install_id)
            if install is None:
                return None
            changed = [c["cycleId"] for c in install["cycles"] if self._set_cycle_status(c["cycleId"], status)]
            self._persist()
            return copy.deepcopy(install), changed

    def set_cycle_status(self, account_reference: str, cycle_id: str, status: str,
                         activation: dict | None = None) -> tuple[dict, bool] | None:
        """Set one cycle's status (the API's activate/deactivate). Returns `(install, changed)` or None if unknown.

        `activation`: the activate call's body (`Interval`, `StartTime`, `RunOnce`), recorded for a known cycle.
        """
        with self._lock:
            account = self._find_account(account_reference)
            cycle = self._cycles.get(cycle_id)
            if account is None or cycle is None or cycle["AccountId"] != account["Id"]:
                return None
            if activation is not None:
                self._activations.append({"cycle_id": cycle_id, "account_id": account["Id"], "body": copy.deepcopy(activation)})
            changed = self._set_cycle_status(cycle_id, status)
            self._persist()
            return copy.deepcopy(self._install_of(cycle_id)), changed

    def uninstall(self, install_id: str) -> dict | None:
        """Remove an install's cycles (the API then answers 404 for them); the install record remains, marked."""
        with self._lock:
            install = self._live_install(install_id)
            if install is None:
                return None
            for cycle in install["cycles"]:
                self._remove_cycle(cycle["cycleId"])
            install["uninstalled"] = True
            self._persist()
            return copy.deepcopy(install)

    def delete_cycle(self, account_reference: str, cycle_id: str) -> dict | None:
        """Delete one cycle; returns its install (marked uninstalled once its last cycle is gone), or None."""
        with self._lock:
            account = self._find_account(account_reference)
            cycle = self._cycles.get(cycle_id)
            if account is None or cycle is None or cycle["AccountId"] != account["Id"]:
                return None
            install = self._install_of(cycle_id)
            self._remove_cycle(cycle_id)
            if install is not None and not any(c["cycleId"] in self._cycles for c in install["cycles"]):
                install["uninstalled"] = True
            self._persist()
            return copy.deepcopy(install)

    def _live_install(self, install_id: str) -> dict | None:
        for install in self._installs:
            if install["id"] == install_id and not install.get("uninstalled"):
                return install
        return None

    def _install_of(self, cycle_id: str) -> dict | None:
        for install in self._installs:
            if any(c["cycleId"] == cycle_id for c in install["cycles"]):
                return install
        return None

    def _set_cycle_status(self, cycle_id: str, status: str) -> bool:
        cycle = self._cycles.get(cycle_id)
        if cycle is None or cycle["Status"] == status:
            return False
        cycle["Status"] = status
        install = self._install_of(cycle_id)
        for item in install["cycles"] if install else ():
            if item["cycleId"] == cycle_id:
                item["status"] = status
        return True

    def _remove_cycle(self, cycle_id: str) -> None:
        self._cycles.pop(cycle_id, None)
        for key in [k for k, owner in self._webhook_keys.items() if owner == cycle_id]:
            del self._webhook_keys[key]

    def account_installs(self, account_api_id: str) -> list[dict]:
        """The account's installs that are still installed, oldest first."""
        with self._lock:
            return [copy.deepcopy(i) for i in self._installs
                    if i["account_api_id"] == account_api_id and not i.get("uninstalled")]

    def get_install(self, install_id: str) -> dict | None:
        with self._lock:
            for install in self._installs:
                if install["id"] == install_id:
                    return copy.deepcopy(install)
            return None

    def account_cycles(self, account_reference: str) -> list[dict] | None:
        """The account's cycles, oldest first; None if there is no such account."""
        with self._lock:
            account = self._find_account(account_reference)
            if account is None:
                return None
            return [copy.deepcopy(c) for c in self._cycles.values() if c["AccountId"] == account["Id"]]

    def account_cycle(self, account_reference: str, cycle_id: str) -> dict | None:
        """The cycle if it exists and belongs to the account, else None (the API answers 404 either way)."""
        with self._lock:
            account = self._find_account(account_reference)
            cycle = self._cycles.get(cycle_id)
            if account is None or cycle is None or cycle["AccountId"] != account["Id"]:
                return None
            return copy.deepcopy(cycle)

    def webhook_exists(self, key: str) -> bool:
        with self._lock:
            return key in self._webhook_keys

    # --- snapshots for tests ----------------------------------------------------------------------

    def record_api_call(self, method: str, path: str) -> None:
        with self._lock:
            self._api_calls.append((method, path))

    @property
    def api_calls(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._api_calls)

    @property
    def activations(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._activations)

    @property
    def token_requests(self) -> int:
        with self._lock:
            return self._token_requests

    @property
    def marketplace_requests(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._marketplace_requests)

    @property
    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued_tokens)

    @property
    def accounts(self) -> dict[str, dict]:
        with self._lock:
            return copy.deepcopy(self._accounts)

    @property
    def cycles(self) -> dict[str, dict]:
        with self._lock:
            return copy.deepcopy(self._cycles)

    @property
    def installs(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._installs)
