"""InstallResult.parse: every documented shape, older pages, and every rejection."""
import copy
import sys

import pytest

from proxy.exceptions import InvalidResult
from proxy.results import MAX_CYCLES, MAX_ERRORS, MAX_TEXT, MAX_WEBHOOKS, InstallResult

ACCOUNT = "0f8fad5b-d9cb-469f-a165-70867728950e"
CYCLE = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
TEMPLATE = "16fd2706-8baf-433b-82eb-8c7fada847da"
RELEASE = "886313e1-3b8a-5372-9b90-0c9aee199e5d"

MARKETPLACE = {
    "accountId": ACCOUNT,
    "accountApiId": "tenant-42",
    "userId": "user-7",
    "installCompleteMessage": "Integration is now active",
    "marketplacePackageId": 3,
    "cycles": [
        {
            "cycleId": CYCLE,
            "templateId": TEMPLATE,
            "templateReleaseId": RELEASE,
            "status": "Active",
            "webhooks": [{"stepName": "New contact", "url": "https://acme-h.cyclr.com/api/webhook/abc"}],
        }
    ],
    "errors": [],
}

LAUNCH = {
    "accountId": ACCOUNT,
    "accountApiId": "tenant-42",
    "userId": "user-7",
    "cycleId": CYCLE,
    "status": "Active",
    "webhooks": ["https://acme-h.cyclr.com/api/webhook/abc"],
    "errors": [],
    "completeParameter": "signed-launch-id",
    "templateId": TEMPLATE,
    "templateReleaseId": RELEASE,
}


def test_marketplace_shape_every_field():
    result = InstallResult.parse(copy.deepcopy(MARKETPLACE))
    assert result.flow == "marketplace"
    assert result.account_id == ACCOUNT
    assert result.account_api_id == "tenant-42"
    assert result.user_id == "user-7"
    assert result.install_complete_message == "Integration is now active"
    assert result.marketplace_package_id == 3
    (cycle,) = result.cycles
    assert (cycle.cycle_id, cycle.template_id, cycle.template_release_id, cycle.status) == (CYCLE, TEMPLATE, RELEASE, "Active")
    assert cycle.webhooks[0].step_name == "New contact"
    assert cycle.webhooks[0].url == "https://acme-h.cyclr.com/api/webhook/abc"
    assert result.errors == ()
    assert result.ok
    assert result.raw == MARKETPLACE


def test_launch_shape_every_field():
    result = InstallResult.parse(copy.deepcopy(LAUNCH))
    assert result.flow == "launch"
    assert result.complete_parameter == "signed-launch-id"
    (cycle,) = result.cycles
    assert (cycle.cycle_id, cycle.status, cycle.template_id, cycle.template_release_id) == (CYCLE, "Active", TEMPLATE, RELEASE)
    assert [w.url for w in cycle.webhooks] == ["https://acme-h.cyclr.com/api/webhook/abc"]
    assert [w.step_name for w in cycle.webhooks] == [""]


@pytest.mark.parametrize("old, new, word", [("active", "Active", "Active"), ("paused", "Stopped", "Paused"),
                                            ("stopped", "Stopped", "Stopped"), ("STOPPED", "Stopped", "Stopped")])
def test_older_lower_case_statuses_and_paused_is_stopped_with_cyclrs_word_kept(old, new, word):
    data = copy.deepcopy(MARKETPLACE)
    data["cycles"][0]["status"] = old
    cycle = InstallResult.parse(data).cycles[0]
    assert (cycle.status, cycle.cyclr_status) == (new, word)


def test_an_account_id_that_is_the_api_id_is_taken_as_written():
    # Some Cyclr answers carry the account's API id in accountId: such an install is not refused.
    data = {**copy.deepcopy(MARKETPLACE), "accountId": "tenant-42"}
    assert InstallResult.parse(data).account_id == "tenant-42"
    data = {**copy.deepcopy(MARKETPLACE), "accountId": ACCOUNT.upper()}
    assert InstallResult.parse(data).account_id == ACCOUNT  # a GUID is lower-cased


def test_without_an_account_id_the_api_id_names_the_account():
    data = copy.deepcopy(MARKETPLACE)
    del data["accountId"]
    result = InstallResult.parse(data)
    assert (result.account_id, result.account_api_id) == ("", MARKETPLACE["accountApiId"])


def test_older_pages_with_fewer_fields():
    result = InstallResult.parse({"accountId": ACCOUNT.upper(), "cycles": [{"cycleId": CYCLE}]})
    assert result.account_id == ACCOUNT  # GUIDs compare in lower case
    assert result.cycles[0].status == ""
    assert result.errors == () and result.marketplace_package_id is None


def test_failed_install_with_errors_and_no_cycles():
    result = InstallResult.parse({"accountId": ACCOUNT, "errors": ["Please set up all the steps correctly before starting the cycle."]})
    assert result.cycles == ()
    assert not result.ok


def test_package_id_as_digit_string():
    data = {**copy.deepcopy(MARKETPLACE), "marketplacePackageId": "12"}
    assert InstallResult.parse(data).marketplace_package_id == 12


def test_round_trip_through_json():
    result = InstallResult.parse(copy.deepcopy(MARKETPLACE))
    assert InstallResult.from_json(result.as_json(), raw=MARKETPLACE) == result
    assert "raw" not in result.as_json()


def test_as_json_leaves_a_deeply_nested_raw_alone():
    # A valid result may carry any extra key; its nesting must not reach the normalized result.
    deep = []
    for _ in range(sys.getrecursionlimit() * 2):
        deep = [deep]
    result = InstallResult.parse({**copy.deepcopy(MARKETPLACE), "extra": deep})
    assert result.as_json()["cycles"][0]["cycle_id"] == CYCLE
    assert result.raw["extra"] is deep


def _with(path, value):
    data = copy.deepcopy(MARKETPLACE)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _without(key):
    data = copy.deepcopy(MARKETPLACE)
    del data[key]
    return data


@pytest.mark.parametrize(
    "data, code",
    [
        ("a string", "not_an_object"),
        ([MARKETPLACE], "not_an_object"),
        (None, "not_an_object"),
        ({k: v for k, v in MARKETPLACE.items() if k not in ("accountId", "accountApiId")}, "missing_field"),
        ({"accountId": ACCOUNT}, "missing_field"),
        (_with(["accountId"], "tenant\n42"), "invalid_value"),
        (_with(["accountId"], "x" * 256), "too_long"),
        (_with(["accountApiId"], "x" * 256), "too_long"),
        # A GUID is matched whole: a recorded id with a trailing newline is not that id.
        (_with(["accountId"], ACCOUNT + "\n"), "invalid_value"),
        (_with(["cycles", 0, "cycleId"], CYCLE + "\n"), "invalid_value"),
        (_with(["cycles", 0, "templateId"], TEMPLATE + "\n"), "invalid_value"),
        (_with(["cycles", 0, "templateReleaseId"], RELEASE + "\n"), "invalid_value"),
        ({**LAUNCH, "cycleId": CYCLE + "\n"}, "invalid_value"),
        (_with(["marketplacePackageId"], "\u00b2"), "wrong_type"),  # a digit to str.isdigit(), not to int()
        (_with(["accountId"], {"$ne": ""}), "wrong_type"),
        (_with(["accountApiId"], ["x"]), "wrong_type"),
        (_with(["accountApiId"], "x" * (MAX_TEXT + 1)), "too_long"),
        (_with(["userId"], True), "wrong_type"),
        (_with(["marketplacePackageId"], 1.5), "wrong_type"),
        (_with(["marketplacePackageId"], -1), "wrong_type"),
        (_with(["marketplacePackageId"], True), "wrong_type"),
        (_with(["cycles"], {"cycleId": CYCLE}), "wrong_type"),
        (_with(["cycles"], [{"cycleId": CYCLE}] * (MAX_CYCLES + 1)), "too_many"),
        (_with(["cycles"], ["not an object"]), "wrong_type"),
        (_with(["cycles"], [{"status": "Active"}]), "missing_field"),
        (_with(["cycles", 0, "cycleId"], "1; DROP TABLE"), "invalid_value"),
        (_with(["cycles", 0, "templateId"], "nope"), "invalid_value"),
        (_with(["cycles", 0, "status"], "Exploded"), "invalid_value"),
        (_with(["cycles", 0, "webhooks"], "https://x"), "wrong_type"),
        (_with(["cycles", 0, "webhooks"], [{"stepName": "s", "url": "javascript:alert(1)"}]), "invalid_value"),
        (_with(["cycles", 0, "webhooks"], [{"stepName": "s"}]), "wrong_type"),
        (_with(["cycles", 0, "webhooks"], [{"stepName": "s", "url": "https://x/" + "a" * 3000}]), "too_long"),
        (_with(["cycles", 0, "webhooks"], [42]), "wrong_type"),
        (_with(["cycles", 0, "webhooks"], ["https://x/a"] * (MAX_WEBHOOKS + 1)), "too_many"),
        (_with(["errors"], "one error"), "wrong_type"),
        (_with(["errors"], [{"message": "x"}]), "wrong_type"),
        (_with(["errors"], ["x"] * (MAX_ERRORS + 1)), "too_many"),
        (_with(["errors"], ["x" * (MAX_TEXT + 1)]), "too_long"),
        ({**LAUNCH, "webhooks": [{"url": "https://x"}]}, "wrong_type"),
        ({**LAUNCH, "cycleId": ""}, "missing_field"),
    ],
)
def test_rejections_carry_a_code_and_a_sentence(data, code):
    with pytest.raises(InvalidResult) as caught:
        InstallResult.parse(data)
    assert caught.value.code == code
    assert caught.value.message.endswith(".")
    assert len(caught.value.message) > 10


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\x00"])
def test_a_recorded_id_with_a_trailing_newline_is_not_that_id(suffix):
    """GUIDs are matched whole: ``re.match`` with ``$`` let ``"<id>\\n"`` through (``$`` matches before a final newline)."""
    for data in (_with(["accountId"], ACCOUNT + suffix), _with(["cycles", 0, "cycleId"], CYCLE + suffix)):
        with pytest.raises(InvalidResult) as caught:
            InstallResult.parse(data)
        assert caught.value.code == "invalid_value" and "a Cyclr id (a GUID)" in caught.value.message
