"""proxy.protocol: reading the JSON the kit accepts, and the frames it sends."""
import json

import pytest

from proxy.exceptions import InvalidResult
from proxy.protocol import MAX_DEPTH, load_json, parse_result_message


def nested(depth):
    return "[" * depth + "]" * depth


def test_nesting_up_to_the_limit_is_read_and_one_more_is_malformed():
    assert load_json(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    assert load_json('{"a": ' + nested(MAX_DEPTH - 1) + "}")["a"] == json.loads(nested(MAX_DEPTH - 1))
    for text in (nested(MAX_DEPTH + 1), '{"a": ' + nested(MAX_DEPTH) + "}", nested(100_000)):
        with pytest.raises(InvalidResult) as refused:
            load_json(text)
        assert refused.value.code == "malformed" and f"{MAX_DEPTH} levels" in refused.value.message


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', '"\\u0000"', '{"\\u0000": 1}', '["\\udc00"]',
                                  "{", "", "\ud800"])
def test_what_could_not_be_stored_is_malformed(text):
    with pytest.raises(InvalidResult) as refused:
        load_json(text, "notification")
    assert refused.value.code == "malformed" and refused.value.message.startswith("The notification ")


def test_a_surrogate_pair_is_an_ordinary_character():
    assert load_json('"\\ud83d\\ude00"') == "\U0001F600"


def test_the_size_limit_counts_utf8_bytes(settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "MAX_RESULT_BYTES": 100}
    message = json.dumps({"type": "result", "id": "m1", "result": {"a": "é" * 30}}, ensure_ascii=False)
    assert len(message) <= 100 < len(message.encode())
    for data in (message, message.encode()):
        with pytest.raises(InvalidResult) as refused:
            parse_result_message(data)
        assert refused.value.code == "too_large"


@pytest.mark.django_db
def test_the_ack_and_proxy_status_say_the_same_word_for_a_launch_pending_past_its_expiry(launch_for, user):
    """proxy:status says what the ack says of the same launch: ``pending``, with the reason ``expired``, not ``expired``."""
    from datetime import timedelta

    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from proxy.models import Launch
    from proxy.protocol import ack

    launch, _ = launch_for(user)
    Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # no sweep closed it
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING
    client = Client()
    client.force_login(user)
    status = client.get(reverse("proxy:status", args=[launch.pk])).json()

    acked = ack(launch, "m1")
    assert status["status"] == acked["status"] == "expired"
    assert status["reason"] == acked["reason"] and acked["reason"]["code"] == "expired"
