"""The install result: Cyclr's browser ``result`` object, checked and normalized.

``InstallResult.parse(data)`` accepts the documented Marketplace shape (``cycles[]`` with
``webhooks[{stepName, url}]``), the LAUNCH shape (top-level ``cycleId``, ``status`` and
``webhooks`` as URL strings) and older pages (fewer fields, lower-case statuses). It is strict
about types, lengths and counts, because the object comes from a browser and may be forged;
anything it does not recognise is ignored but kept in ``raw``.
"""
import re
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .exceptions import InvalidResult

from .accounts import is_guid

# Cyclr's words for a cycle's state, lower-cased, and the one state each names. The Launch Complete result
# and the notification say Active or Stopped; the API calls an installed, never-started cycle Paused
# (cyclr/docs, Install a cycle; Activate a cycle): Stopped and Paused are one state, stored as Stopped,
# with Cyclr's own word kept beside it (``InstalledCycle.cyclr_status``).
STATUSES = {"active": "Active", "stopped": "Stopped", "paused": "Stopped"}
CYCLR_WORDS = {"active": "Active", "stopped": "Stopped", "paused": "Paused"}
MAX_ACCOUNT_ID = 255
# A NUL or an unpaired surrogate is valid in a Python or JSON string but not in PostgreSQL's jsonb or text: the
# doors refuse it as they read JSON (proxy.protocol.load_json), the parser in any string of a result.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_TEXT = 2000
MAX_URL = 2048
MAX_CYCLES = 100
MAX_WEBHOOKS = 50
MAX_ERRORS = 100
# The result's fields Cyclr's API does not describe (its cycle resource carries none of them): where only the
# browser said them, they are the browser's claim, and ``InstallResult.claimed`` names them.
CLAIMABLE = ("errors", "marketplace_package_id", "install_complete_message", "user_id")


@dataclass(frozen=True)
class Webhook:
    step_name: str
    url: str


@dataclass(frozen=True)
class InstalledCycle:
    cycle_id: str
    template_id: str = ""
    template_release_id: str = ""
    status: str = ""  # "Active" or "Stopped" (see STATUSES)
    webhooks: tuple = ()  # the URLs Cyclr vouches for (its API, or its notification), once verified
    name: str = ""  # Cyclr's name for the cycle, from its API at verification (a browser result has none)
    cyclr_status: str = ""  # Cyclr's own word for ``status`` ("Paused" from the API), as the source said it
    # Webhook URLs on Cyclr's hosts that only the browser claimed, and Cyclr did not vouch for: a LAUNCH
    # install's, whose cycle resource lists none and for which no notification is documented. Claims,
    # kept apart from ``webhooks`` (docs/cyclr-api.md, "Webhook URLs").
    claimed_webhooks: tuple = ()


@dataclass(frozen=True)
class InstallResult:
    """One install, as the browser reported it. ``raw`` keeps the object as received."""

    account_id: str
    account_api_id: str = ""
    user_id: str = ""
    install_complete_message: str = ""
    marketplace_package_id: int | None = None
    complete_parameter: str = ""
    cycles: tuple = ()
    errors: tuple = ()
    flow: str = "marketplace"
    # The fields above that only the browser said, and Cyclr did not vouch for (names from CLAIMABLE): set once
    # the kit holds the result (proxy.verification), empty for what Cyclr's notification said.
    claimed: tuple = ()
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """True when the install reported no errors."""
        return not self.errors

    def same_install(self, other: "InstallResult") -> bool:
        """True if both describe one install: the same cycles of one account.

        The browser's result and Cyclr's webhook describe an install in different shapes and
        with different extras (and may name the account by either of its ids); this is what must
        agree for them to be one arrival. Cycle ids are Cyclr's GUIDs, unique across accounts.
        """
        if {c.cycle_id for c in self.cycles} != {c.cycle_id for c in other.cycles}:
            return False
        # Two installs with no cycle (each failed) are one only for the same account, by either id.
        return bool(self.cycles) or bool({self.account_id, self.account_api_id} & {other.account_id, other.account_api_id} - {""})

    def as_json(self) -> dict:
        """The normalized result as JSON-ready data (without ``raw``)."""
        # Not asdict(self): it would deep-copy ``raw`` too, recursing once per level of whatever
        # nesting the sender chose, into a RecursionError for a valid result with a deep extra key.
        data = asdict(replace(self, raw={}))
        del data["raw"]
        return data

    @classmethod
    def from_json(cls, data: dict, raw: dict | None = None) -> "InstallResult":
        """Rebuild from ``as_json()`` output (trusted: it is what we stored)."""
        cycles = tuple(
            InstalledCycle(**{**c, "webhooks": tuple(Webhook(**w) for w in c["webhooks"]),
                              "claimed_webhooks": tuple(Webhook(**w) for w in c.get("claimed_webhooks", ()))})
            for c in data["cycles"]
        )
        return cls(**{**data, "cycles": cycles, "errors": tuple(data["errors"]), "claimed": tuple(data.get("claimed", ())),
                      "raw": raw or {}})

    @classmethod
    def parse(cls, data) -> "InstallResult":
        """Check and normalize a browser result; raise ``InvalidResult`` (with a code) if it is not one."""
        if not isinstance(data, dict):
            raise InvalidResult("not_an_object", _("The result must be a JSON object."))
        account_api_id = _text(data, "accountApiId", limit=MAX_ACCOUNT_ID)
        common = dict(
            account_id=_account_id(data, required=not account_api_id),
            account_api_id=account_api_id,
            user_id=_text(data, "userId"),
            install_complete_message=_text(data, "installCompleteMessage"),
            marketplace_package_id=_int(data, "marketplacePackageId"),
            complete_parameter=_text(data, "completeParameter"),
            errors=_errors(data),
            raw=data,
        )
        if "cycles" in data:
            items = _list(data, "cycles", MAX_CYCLES)
            cycles = tuple(_cycle(item, f"cycles[{i}]") for i, item in enumerate(items))
            result = cls(cycles=cycles, flow="marketplace", **common)
        elif "cycleId" in data:
            result = cls(cycles=(_launch_cycle(data),), flow="launch", **common)
        elif common["errors"]:
            # A failed install may report no cycle at all.
            result = cls(cycles=(), flow="marketplace", **common)
        else:
            raise InvalidResult("missing_field", _("The result has neither cycles nor a cycleId."))
        _refuse_unstorable(data)  # last: a field's own rule names what is wrong with it first
        return result


def _refuse_unstorable(data):
    """``invalid_value`` if any string of ``data`` (a key or a value, at any depth; the raw result is stored too)
    holds a NUL or an unpaired surrogate. Walked with a stack: deep nesting cannot make it raise anything else."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                raise InvalidResult("invalid_value", _("The result holds a NUL character or an unpaired surrogate, "
                                                       "which the database cannot store."))
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _where(obj_path, key):
    return f"{obj_path}.{key}" if obj_path else key


def _too_long(field_path, limit):
    return _("%(field)s is longer than %(limit)s characters.") % {"field": field_path, "limit": limit}


def _text(data, key, path="", *, required=False, limit=MAX_TEXT):
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidResult("missing_field", _("The result has no %(field)s.") % {"field": _where(path, key)})
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidResult("wrong_type", _("%(field)s must be a string.") % {"field": _where(path, key)})
    value = str(value)
    if required and not value:
        raise InvalidResult("missing_field", _("%(field)s is empty.") % {"field": _where(path, key)})
    if len(value) > limit:
        raise InvalidResult("too_long", _too_long(_where(path, key), limit))
    return value


def _guid(data, key, path="", *, required=False):
    value = _text(data, key, path, required=required)
    if value and not is_guid(value):
        raise InvalidResult("invalid_value", _("%(field)s is not a Cyclr id (a GUID).") % {"field": _where(path, key)})
    return value.lower()


def _account_id(data, *, required):
    """``accountId``: Cyclr's GUID for the account as documented, lower-cased; or, where an answer carries the
    other id (docs/accounts.md), an API id, kept as written. Required only without ``accountApiId``."""
    value = _text(data, "accountId", required=required, limit=MAX_ACCOUNT_ID)
    if is_guid(value):
        return value.lower()
    if value and (not value.isprintable() or value != value.strip()):  # an id is matched whole, padding included
        raise InvalidResult("invalid_value", _("accountId is neither a Cyclr id (a GUID) nor an account API id."))
    return value


def _int(data, key):
    value = data.get(key)
    if value is None or value == "":
        return None
    # ASCII digits only: str.isdigit() also takes "²", on which int() raises.
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise InvalidResult("wrong_type", _("%(field)s must be a whole number.") % {"field": key})
    return value


def _list(data, key, limit, path=""):
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidResult("wrong_type", _("%(field)s must be a list.") % {"field": _where(path, key)})
    if len(value) > limit:
        raise InvalidResult("too_many", _("%(field)s has more than %(limit)s items.")
                            % {"field": _where(path, key), "limit": limit})
    return value


def _errors(data):
    items = _list(data, "errors", MAX_ERRORS)
    errors = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidResult("wrong_type", _("%(field)s must be a string.") % {"field": f"errors[{i}]"})
        if len(item) > MAX_TEXT:
            raise InvalidResult("too_long", _too_long(f"errors[{i}]", MAX_TEXT))
        errors.append(item)
    return tuple(errors)


def _status(data, key, path):
    """``(state, Cyclr's word)`` for a cycle's status (``("", "")`` if none is given)."""
    value = _text(data, key, path)
    if not value:
        return "", ""
    try:
        return STATUSES[value.lower()], CYCLR_WORDS[value.lower()]
    except KeyError:
        raise InvalidResult("invalid_value", _("%(field)s %(value)s is not a cycle status Cyclr reports.")
                            % {"field": _where(path, key), "value": repr(value)}) from None


def _url(value, where):
    if not isinstance(value, str):
        raise InvalidResult("wrong_type", _("%(field)s must be a URL string.") % {"field": where})
    if len(value) > MAX_URL:
        raise InvalidResult("too_long", _too_long(where, MAX_URL))
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidResult("invalid_value", _("%(field)s is not an http(s) URL.") % {"field": where})
    return value


def _cycle(item, path):
    if not isinstance(item, dict):
        raise InvalidResult("wrong_type", _("%(field)s must be an object.") % {"field": path})
    webhooks = []
    for i, hook in enumerate(_list(item, "webhooks", MAX_WEBHOOKS, path)):
        where = f"{path}.webhooks[{i}]"
        if isinstance(hook, str):  # some pages give bare URLs here too
            webhooks.append(Webhook(step_name="", url=_url(hook, where)))
            continue
        if not isinstance(hook, dict):
            raise InvalidResult("wrong_type",
                                _("%(field)s must be an object with stepName and url.") % {"field": where})
        webhooks.append(Webhook(step_name=_text(hook, "stepName", where), url=_url(hook.get("url"), f"{where}.url")))
    status, word = _status(item, "status", path)
    return InstalledCycle(
        cycle_id=_guid(item, "cycleId", path, required=True),
        template_id=_guid(item, "templateId", path),
        template_release_id=_guid(item, "templateReleaseId", path),
        status=status,
        cyclr_status=word,
        webhooks=tuple(webhooks),
    )


def _launch_cycle(data):
    webhooks = tuple(
        Webhook(step_name="", url=_url(url, f"webhooks[{i}]"))
        for i, url in enumerate(_list(data, "webhooks", MAX_WEBHOOKS))
    )
    status, word = _status(data, "status", "")
    return InstalledCycle(
        cycle_id=_guid(data, "cycleId", required=True),
        template_id=_guid(data, "templateId"),
        template_release_id=_guid(data, "templateReleaseId"),
        status=status,
        cyclr_status=word,
        webhooks=webhooks,
    )
