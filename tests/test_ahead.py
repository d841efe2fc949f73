"""Cyclr asked ahead (``proxy.ahead``): the settlement's round, started by the socket door, taken once, never more.

Against the real fake Cyclr over HTTP; the socket through the project's real ASGI stack.
"""
import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from proxy import ahead
from proxy.models import Launch
from proxy.results import InstallResult
from tests.test_consumers import cookie_for, deliver_after_logout, deliver_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_layer")]


@pytest.fixture(autouse=True)
def nothing_asked_before_or_after():
    ahead.forget()
    yield
    ahead.forget()


def cycle_calls(fake):
    return [path for method, path in fake.api_calls if method == "GET" and path.startswith("/v1.0/cycles/")]


def ids_of(data):
    return [c.cycle_id for c in InstallResult.parse(data).cycles]


def test_the_round_asked_ahead_is_cyclrs_answers_taken_once(cyclr, installed):
    launch, data = installed()
    ahead.ask(launch, data)
    ids, account = ids_of(data), launch.x_cyclr_account
    answers = ahead.take(launch.pk, ids, account)
    assert [answer["Id"].lower() for answer in answers] == [i.lower() for i in ids]
    assert len(cycle_calls(cyclr)) == len(ids)
    assert ahead.take(launch.pk, ids, account) is None  # once


def test_answers_count_only_for_the_same_ids_and_account(cyclr, installed):
    launch, data = installed()
    ids, account = ids_of(data), launch.x_cyclr_account
    ahead.ask(launch, data)
    assert ahead.take(launch.pk, [*ids, "another-cycle"], account) is None
    ahead.forget()
    ahead.ask(launch, data)
    assert ahead.take(launch.pk, ids, "another-account") is None
    assert ahead.take(Launch().pk, ids, account) is None  # nothing asked for that launch


def test_a_launch_gets_one_round_ahead_in_its_time(cyclr, installed):
    launch, data = installed()
    ahead.ask(launch, data)
    ahead.ask(launch, data)  # a second socket, a reloaded page: nothing more asked
    assert ahead.take(launch.pk, ids_of(data), launch.x_cyclr_account) is not None
    ahead.ask(launch, data)  # taken, but it still stands for the launch
    assert len(cycle_calls(cyclr)) == len(ids_of(data))


def test_a_round_older_than_it_is_kept_for_is_asked_anew(cyclr, installed, monkeypatch):
    launch, data = installed()
    ahead.ask(launch, data)
    monkeypatch.setattr(ahead, "KEPT_FOR", -1)  # every round is older than that
    assert ahead.take(launch.pk, ids_of(data), launch.x_cyclr_account) is None


def test_a_round_that_failed_is_asked_anew_by_the_settlement(cyclr, installed):
    launch, data = installed()
    cyclr.api_down = True
    ahead.ask(launch, data)
    assert ahead.take(launch.pk, ids_of(data), launch.x_cyclr_account) is None  # 503: the settlement asks itself
    cyclr.api_down = False


def test_nothing_is_asked_for_a_claim_verification_would_not_ask_about(cyclr, installed):
    launch, data = installed()
    ahead.ask(launch, {**data, "accountId": "someone-else", "accountApiId": "someone-else"})
    assert ahead.take(launch.pk, ids_of(data), launch.x_cyclr_account) is None
    ahead.forget()
    ahead.ask(launch, {**data, "cycles": []})
    assert ahead.take(launch.pk, [], launch.x_cyclr_account) is None
    assert cycle_calls(cyclr) == []


@pytest.mark.parametrize("setting", [{"TASK_BACKEND": "default"}, {"VERIFY_WITH_API": False}])
def test_nothing_is_asked_where_the_answers_could_not_be_taken(cyclr, installed, settings, setting):
    """A task backend settles in a worker (no shared memory); without VERIFY_WITH_API nothing is asked at all."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, **setting}
    launch, data = installed()
    ahead.ask(launch, data)
    assert ahead.take(launch.pk, ids_of(data), launch.x_cyclr_account) is None
    assert cycle_calls(cyclr) == []


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=JSON, cycles=st.lists(st.text(max_size=40), max_size=12))
def test_any_result_asked_ahead_never_raises_and_costs_at_most_one_round(cyclr, installed, result, cycles):
    """Whatever the page sends (the door refuses what does not parse), ``ask`` never raises, ``take`` answers or
    says None, and a forged list of ids costs at most one round (``CyclrClient.get_cycles``)."""
    launch, data = installed()
    before = len(cycle_calls(cyclr))
    shaped = {**data, "cycles": [{**data["cycles"][0], "cycleId": each} for each in cycles]} if cycles else result
    ahead.ask(launch, shaped)
    answers = ahead.take(launch.pk, cycles, launch.x_cyclr_account)
    assert answers is None or isinstance(answers, list)
    assert len(cycle_calls(cyclr)) - before <= 10  # MAX_PARALLEL: one round at most


# --- through the launch socket ---------------------------------------------------------------------------


def test_a_socket_result_is_settled_on_the_round_asked_ahead(cyclr, installed, user, settled, monkeypatch):
    taken = []
    real_take = ahead.take

    def recording_take(*args):
        taken.append(real_take(*args))
        return taken[-1]

    monkeypatch.setattr(ahead, "take", recording_take)
    launch, data = installed()
    assert async_to_sync(deliver_once)(launch, cookie_for(user), data)["status"] == "received"
    assert settled(launch).status == Launch.Status.COMPLETED
    assert len(taken) == 1 and taken[0] is not None  # the settlement asked nothing itself
    assert len(cycle_calls(cyclr)) == len(data["cycles"])


def test_the_round_leaves_before_the_arrival_is_stored(cyclr, installed, user):
    """The round is asked as the frame arrives, before the session re-check: a result whose person signed out
    meanwhile is refused and stores nothing, and costs its launch's one round ahead (and no more)."""
    launch, data = installed()
    refused, _closed = deliver_after_logout(launch, user, data)
    assert refused["code"] == "unauthenticated"
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.PENDING
    assert ahead.take(launch.pk, ids_of(data), launch.x_cyclr_account) is not None
    assert len(cycle_calls(cyclr)) == len(data["cycles"])


def test_a_socket_opened_on_a_launch_that_has_its_result_asks_nothing_ahead(cyclr, installed, user, settled):
    launch, data = installed()
    cookie = cookie_for(user)
    async_to_sync(deliver_once)(launch, cookie, data)
    settled(launch)
    ahead.forget()
    calls = len(cycle_calls(cyclr))
    assert async_to_sync(deliver_once)(launch, cookie, data, message_id="m2")["type"] == "ack"  # a repeat: acked
    assert ahead.take(launch.pk, ids_of(data), launch.x_cyclr_account) is None
    assert len(cycle_calls(cyclr)) == calls
    assert settled(launch).status == Launch.Status.COMPLETED
