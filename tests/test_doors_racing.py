"""The three doors racing for one install: the proxy page's socket, the HTTP door and Cyclr's webhook.

On SQLite with the settings proxy.W011 asks for (tests/settings.py has them), and on PostgreSQL in the scale-out
pass: each door answers as documented, one arrival is the record, the launch completes once, and nothing logs an
error (no "database is locked")."""
import json
import logging
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import connections
from django.test import Client
from django.urls import reverse

from proxy.models import Arrival, Launch
from proxy.testing.fake_cyclr.state import marketplace_notification

from .test_consumers import cookie_for, deliver_once

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_memory_layer")]

SECRET = "whsec-doors-racing-0123456789abcdef"


@pytest.fixture
def fake_cyclr_settings(fake_cyclr_settings):
    return {**fake_cyclr_settings, "WEBHOOK_SECRET": SECRET}


@pytest.mark.parametrize("round_", range(4))
def test_the_socket_the_http_door_and_the_webhook_racing_make_one_record_and_log_no_error(
        round_, cyclr, installed, user, settled, completed_receiver, caplog):
    launch, data = installed()
    notification = json.dumps(marketplace_notification(cyclr.installs[-1]))
    cookie = cookie_for(user)
    browser = Client()
    browser.force_login(user)
    start = threading.Barrier(3)
    answers, failures = {}, []

    def socket():
        answers["socket"] = async_to_sync(deliver_once)(launch, cookie, data)

    def http_door():
        answers["http"] = browser.post(reverse("proxy:result", args=[launch.pk]),
                                       json.dumps({"type": "result", "id": "h1", "result": data}),
                                       content_type="application/json").json()

    def webhook():
        answers["webhook"] = Client().post(reverse("proxy:webhook", args=[SECRET]), notification,
                                           content_type="application/json").json()

    def race(door):
        try:
            start.wait(timeout=10)
            door()
        except Exception as exc:  # reported below, with the door's name
            failures.append((door.__name__, repr(exc)))
        finally:
            connections.close_all()

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=race, args=(door,)) for door in (socket, http_door, webhook)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        launch = settled(launch)

    assert failures == []
    assert answers["socket"]["type"] == "ack" and answers["http"]["type"] == "ack", answers
    assert answers["webhook"]["status"] == "accepted", answers["webhook"]
    assert launch.status == Launch.Status.COMPLETED
    assert Arrival.objects.filter(launch=launch, duplicate=False).count() == 1
    completed_receiver.assert_called_once()
    assert "database is locked" not in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
