"""What a forked live server must not share with the test process (``proxy.testing.live``)."""
import os

import pytest
from django.db import connection, transaction

from proxy.models import Launch
from proxy.testing.live import LiveServerProcess, close_connections_before_forking

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_parent_closes_its_sqlite_connection_before_a_fork_and_reopens_it_on_use():
    # SQLite: no connection may cross a fork (WAL's per-process lock state would be wrong in the child).
    # PostgreSQL: the pool is closed too; the child makes its own (tests/example/test_forking_pool.py).
    Launch.objects.exists()  # the parent holds an open connection
    assert connection.connection is not None
    close_connections_before_forking()
    pid = os.fork()
    if pid == 0:
        os._exit(0)  # the child leaves at once, without touching the database or running any teardown
    os.waitpid(pid, 0)
    assert connection.connection is None
    assert not Launch.objects.exists()  # and the parent goes on: the connection reopens on use


def test_a_connection_inside_a_transaction_is_left_open():
    with transaction.atomic():
        Launch.objects.exists()
        close_connections_before_forking()
        assert connection.connection is not None and connection.in_atomic_block
        assert not Launch.objects.exists()


def test_the_live_server_process_closes_them_before_it_forks(monkeypatch):
    started = []
    monkeypatch.setattr("daphne.testing.DaphneProcess.start", lambda process: started.append(connection.connection))
    Launch.objects.exists()
    LiveServerProcess("localhost", lambda: None).start()
    assert started == [None]
