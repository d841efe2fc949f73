"""The scale-out path: PostgreSQL row locks and channels-redis across processes.

These run in `make test`'s second pass, with DATABASE_URL (PostgreSQL) and REDIS_URL set.
Outside CI they skip, with the reason, when that pass is not configured; in CI they fail.
"""
import os
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection, connections
from django.db.models import Sum

from tests.asgi import application
from proxy import signals
from proxy.exceptions import LaunchRejected
from proxy.models import Arrival, Launch, RecordedCycle
from proxy.services import accept_result
from proxy.settlement import drain

from .test_consumers import ORIGIN, cookie_for

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def require_scaleout():
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    problems = []
    if connection.vendor != "postgresql":
        problems.append("DATABASE_URL is not a PostgreSQL URL")
    if not layer.startswith("channels_redis."):
        problems.append("REDIS_URL is not set")
    if problems:
        message = f"Scale-out tests need PostgreSQL and Redis ({'; '.join(problems)}); `make test` runs them."
        (pytest.fail if os.environ.get("CI") else pytest.skip)(message)


def test_concurrent_deliveries_make_one_record_and_one_signal(installed, user):
    launch, data = installed()
    handler = mock.Mock()
    signals.install_completed.connect(handler, dispatch_uid="scaleout-count")
    deliveries = 6
    barrier = threading.Barrier(deliveries)
    outcomes, errors = [], []

    def deliver(source):
        try:
            barrier.wait(timeout=10)
            outcomes.append(accept_result(launch.pk, data, source=source, user=user))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(("socket", "http")[i % 2],)) for i in range(deliveries)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert drain(60)  # verified and signalled after the acks, in the kit's threads
    finally:
        signals.install_completed.disconnect(dispatch_uid="scaleout-count")

    assert errors == []
    assert sorted(o.duplicate for o in outcomes) == [False] + [True] * (deliveries - 1)
    assert Arrival.objects.filter(launch=launch, duplicate=False).count() == 1
    # Repeats collapse onto one row per source; their counts add up to every delivery.
    assert Arrival.objects.filter(launch=launch).aggregate(total=Sum("count"))["total"] == deliveries
    handler.assert_called_once()
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED


def test_one_result_raced_onto_two_launches_completes_one(installed, launch_for, user):
    """Both deliveries read no recorded cycle; PostgreSQL's unique index lets one insert, and the other is replayed."""
    first, data = installed()
    second, _ = launch_for(user)
    handler = mock.Mock()
    signals.install_completed.connect(handler, dispatch_uid="scaleout-replay")
    barrier = threading.Barrier(2)
    outcomes, codes = [], []

    def deliver(launch):
        try:
            barrier.wait(timeout=10)
            outcomes.append(accept_result(launch.pk, data, source="socket", user=user))
        except LaunchRejected as exc:
            codes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(launch,)) for launch in (first, second)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert drain(60)
    finally:
        signals.install_completed.disconnect(dispatch_uid="scaleout-replay")

    assert codes == ["replayed"] and len(outcomes) == 1
    (winner,) = {row.launch_id for row in RecordedCycle.objects.all()}
    assert Launch.objects.get(pk=winner).status == Launch.Status.COMPLETED
    loser = second.pk if winner == first.pk else first.pk
    assert Launch.objects.get(pk=loser).status == Launch.Status.PENDING
    assert not Arrival.objects.filter(launch_id=loser).exists()
    handler.assert_called_once()


def test_a_result_settled_by_another_process_reaches_the_users_socket(installed, user, cyclr):
    """A worker process replays a stored result; the event crosses Redis to this process's socket."""
    launch, data = installed()
    cyclr.api_down = True  # this process cannot verify it: the worker will
    accept_result(launch.pk, data, source="socket", user=user)
    assert drain(timeout=60)
    cyclr.api_down = False
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.RECEIVED
    cookie = cookie_for(user)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CYCLR_API_URL": cyclr.url,
        "CYCLR_CLIENT_ID": settings.CYCLR_PROXY["CLIENT_ID"],
        "CYCLR_CLIENT_SECRET": settings.CYCLR_PROXY["CLIENT_SECRET"],
    }

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/proxy/events/", headers=[ORIGIN, cookie])
        connected, _ = await socket.connect()
        assert connected
        worker = await _run([sys.executable, "manage.py", "proxy_replay", str(launch.pk)], env)
        event = await socket.receive_json_from(timeout=20)
        await socket.disconnect()
        return worker, event

    worker, event = async_to_sync(scenario)()
    assert worker.returncode == 0, worker.stderr
    assert "settled as completed" in worker.stdout
    assert event["type"] == "proxy.install.completed" and event["launch"] == str(launch.pk)
    assert Launch.objects.get(pk=launch.pk).status == Launch.Status.COMPLETED


async def _run(command, env):
    from asgiref.sync import sync_to_async

    return await sync_to_async(subprocess.run, thread_sensitive=False)(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_redis_layer_carries_group_messages_between_layer_instances():
    from channels.layers import channel_layers

    sender = get_channel_layer()
    receiver = channel_layers.make_backend("default")  # a second client, as another process would have

    async def scenario():
        channel = await receiver.new_channel()
        await receiver.group_add("proxy.scaleout-test", channel)
        await sender.group_send("proxy.scaleout-test", {"type": "install.event", "event": {"ok": True}})
        message = await receiver.receive(channel)
        await receiver.group_discard("proxy.scaleout-test", channel)
        return message

    assert async_to_sync(scenario)() == {"type": "install.event", "event": {"ok": True}}

