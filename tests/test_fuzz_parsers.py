"""Fuzzing the two parsers of untrusted data: the browser's result and Cyclr's notification.

Whatever they are given, they return a normalized result or raise the kit's own
``InvalidResult`` (a ``ProxyError``) with a code and a sentence; nothing else escapes.
"""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.exceptions import InvalidResult, ProxyError
from proxy.results import InstallResult
from proxy.testing.fake_cyclr.state import marketplace_notification
from proxy.notifications import STATUSES, parse_notification

from .fuzzing import deep_json_text, json_objects, json_values, mutated, nested_value, object_depths, texts

pytestmark = pytest.mark.django_db


def assert_refusal(exc):
    """A refusal the kit promises: its own error type, a machine code and a sentence."""
    assert isinstance(exc, InvalidResult) and isinstance(exc, ProxyError)
    assert isinstance(exc.code, str) and exc.code.strip()
    assert isinstance(exc.message, str) and exc.message.strip()


def launch_shape(data):
    """The LAUNCH flow's result for the same install: one cycle at the top level, webhooks as URL strings."""
    (cycle,) = data["cycles"][:1]
    return {
        "accountId": data["accountId"], "accountApiId": data.get("accountApiId"), "userId": data.get("userId"),
        "cycleId": cycle["cycleId"], "status": cycle["status"], "templateId": cycle["templateId"],
        "webhooks": [hook["url"] for hook in cycle["webhooks"]], "errors": data["errors"],
        "completeParameter": "signed-launch-id",
    }


# Where a deeply nested value goes. The value itself is built inside the test: Hypothesis' own
# printing of a drawn argument would recurse through it.
DEEP_PLACES = ["whole", "accountId", "cycles", "errors", "webhooks", "extra"]


def deep_in(data, place, depth):
    """``data`` with a list nested ``depth`` levels deep at ``place``."""
    nested = nested_value(depth)
    if place == "whole":
        return nested
    if place == "webhooks":
        return {**data, "cycles": [{**data["cycles"][0], "webhooks": nested}]}
    return {**data, place: nested}


@pytest.fixture
def real_result(installed):
    """A result the fake Marketplace really gave (one install with its cycles and webhooks)."""
    return installed()[1]


def test_the_result_parser_returns_a_result_or_its_own_error(real_result):
    @given(st.one_of(
        json_values,
        json_objects,
        mutated(real_result),
        mutated(launch_shape(real_result)),
        st.tuples(st.sampled_from(DEEP_PLACES), object_depths),
    ))
    def parse(data):
        if isinstance(data, tuple):  # (place, depth): a deeply nested value
            data = deep_in(real_result, *data)
        try:
            result = InstallResult.parse(data)
        except ProxyError as exc:
            assert_refusal(exc)
        else:
            assert isinstance(result, InstallResult) and (result.account_id or result.account_api_id)
            json.dumps(result.as_json())  # JSON-ready, as the docstring promises
            assert not unstorable_strings(data), "a result the database cannot store was accepted"

    parse()


def unstorable_strings(data):
    """The strings of ``data`` (keys and values, at any depth) holding a NUL or an unpaired surrogate."""
    found, stack = [], [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or any("\ud800" <= c <= "\udfff" for c in item):
                found.append(item)
        elif isinstance(item, dict):
            stack.extend([*item, *item.values()])
        elif isinstance(item, list):
            stack.extend(item)
    return found


def test_the_result_parser_refuses_a_nul_in_any_string_of_a_real_result(real_result):
    @given(st.data())
    def parse(draw):
        data = json.loads(json.dumps(real_result))
        places = []  # (container, key) of every string, keys included (as a new key beside the old one)
        stack = [data]
        while stack:
            item = stack.pop()
            pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
            for key, value in pairs:
                if isinstance(value, str):
                    places.append((item, key))
                stack.append(value)
        container, key = draw.draw(st.sampled_from(places))
        at = draw.draw(st.integers(min_value=0, max_value=len(container[key])))
        container[key] = container[key][:at] + draw.draw(st.sampled_from(["\x00", "\udfff"])) + container[key][at:]
        with pytest.raises(InvalidResult) as caught:
            InstallResult.parse(data)
        assert_refusal(caught.value)

    parse()


def test_the_result_parser_takes_deeply_nested_json_text_as_json_gives_it(real_result):
    # Nesting that json.loads can read must not trip the parser; what it cannot read never gets here.
    @given(deep_json_text)
    def parse(text):
        try:
            data = json.loads(text)
        except RecursionError:
            return
        try:
            InstallResult.parse({**real_result, "extra": data})
            InstallResult.parse(data)
        except ProxyError as exc:
            assert_refusal(exc)

    parse()


@pytest.fixture
def real_notification(installed, cyclr):
    """The Marketplace webhook's body for a real install by the fake Cyclr."""
    installed()
    return marketplace_notification(cyclr.installs[-1])


def test_the_notification_normalizer_returns_a_result_or_its_own_error(real_notification):
    statuses = st.sampled_from(STATUSES + tuple(s.upper() for s in STATUSES)) | json_values
    with_status = st.builds(lambda body, status: {**body, "Status": status}, json_objects, statuses)

    @given(st.one_of(
        json_objects,
        with_status,
        mutated(real_notification),
        st.tuples(st.sampled_from(sorted(real_notification)) | texts, object_depths),
    ))
    def normalize(body):
        if isinstance(body, tuple):  # (key, depth): a deeply nested value under key
            key, depth = body
            body = {**real_notification, key: nested_value(depth)}
        try:
            status, data, result = parse_notification(body)
        except ProxyError as exc:
            assert_refusal(exc)
        else:
            assert status in STATUSES
            assert isinstance(data, dict) and isinstance(result, InstallResult)

    normalize()
