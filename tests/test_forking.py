"""``proxy.forking``: what a forked process (a preforking server, a test's live server) must not share."""
import os

import pytest
from django.db import connection

from proxy.models import Launch

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_parent_closes_its_sqlite_connection_before_a_fork_and_keeps_a_pooled_one():
    # SQLite: no connection may cross a fork (WAL's per-process lock state would be wrong in the child).
    # PostgreSQL: the pool stays the parent's; the child forgets it (tests/example/test_forking_pool.py).
    Launch.objects.exists()  # the parent holds an open connection
    assert connection.connection is not None
    pid = os.fork()
    if pid == 0:
        os._exit(0)  # the child leaves at once, without touching the database or running any teardown
    os.waitpid(pid, 0)
    if connection.vendor == "sqlite":
        assert connection.connection is None
    else:
        assert connection.connection is not None
    assert not Launch.objects.exists()  # and the parent goes on: the connection reopens on use
