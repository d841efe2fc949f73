"""Forking a live server (``proxy.testing.live``) with the example host's pooled PostgreSQL connections.

Here, not in the kit's tests: the kit's test project does not pool. Its in-process ASGI tests (Django's
handler driven by ``ApplicationCommunicator``) left one pooled connection checked out per request, so after
ten the next test waited on an exhausted pool; why is not established (daphne returns them: the benchmark
serves hundreds of requests on a pool of ten). The example host's settings pool, as production should; this
runs in ``make test``'s PostgreSQL pass.
"""
import os

import pytest
from django.contrib.auth.models import User
from django.db import connection

from proxy.testing.live import close_connections_before_forking

from ..test_scaleout import require_scaleout  # noqa: F401 (autouse: skip, or fail in CI, without PostgreSQL and Redis)

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]


def test_a_forked_child_uses_its_own_connection_pool_not_its_parents():
    """A forked live server must not query over its parent's pooled sockets (``close_connections_before_forking``)."""
    assert connection.settings_dict["OPTIONS"].get("pool"), "the example host pools PostgreSQL connections"
    user = User.objects.create_user("forked")
    with connection.cursor() as cursor:  # the parent holds a pooled connection, and its pool is open
        cursor.execute("SELECT pg_backend_pid()")
        parent_backend = cursor.fetchone()[0]
    parent_pool = connection.pool
    close_connections_before_forking()  # what LiveCyclrTestCase's server process does before it forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its pool and backend, then leave without running any teardown
        code = 1
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                child_backend = cursor.fetchone()[0]
            os.write(write, f"{child_backend} {int(connection.pool is parent_pool)}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child_backend, shares_pool = map(int, os.read(read, 100).split())
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert shares_pool == 0
    assert child_backend != parent_backend
    # The parent goes on, on a pool of its own opened on use.
    assert User.objects.filter(pk=user.pk).exists()
    assert connection.pool is not parent_pool
