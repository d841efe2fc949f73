"""What a forked child must not share with its parent: Django's PostgreSQL connection pools, and SQLite connections.

With ``OPTIONS["pool"]`` (psycopg's pool, Django 5.1+, the way to reuse connections under ASGI), the pool
lives in the process: its connections are sockets, and its worker threads do not survive a fork. A child
(a preforking server, a test's live server) that used the parent's pool would talk over the parent's
sockets, interleaving both processes' queries on one connection. So the child forgets the inherited
pools, without closing them (psycopg never closes a connection from a process that did not open it), and
opens its own on first use.

SQLite's rule is stricter: no connection may be open across a fork at all, since SQLite keeps per-process
state about the file's locks and its write-ahead log's shared memory, which a child inherits but whose
locks it does not hold. In WAL mode (the example host's) a test's live server, forked while the test
process held its connection, read a snapshot from before the previous test's teardown for good: a user
the next test created could not sign in. So the parent closes its SQLite connections just before it
forks (outside a transaction; they reopen on next use). Both hooks are registered once, when
``ProxyConfig.ready`` imports this module.
"""
import os


def forget_parents_pools():
    """In a forked child: drop the database pools inherited from the parent (the child makes its own)."""
    from django.db import connections

    for alias in connections:
        wrapper = connections[alias]
        if wrapper.vendor != "postgresql":
            continue
        pools = getattr(type(wrapper), "_connection_pools", None)
        if isinstance(pools, dict):
            pools.pop(alias, None)
        # The parent's open connection on this thread is the parent's too: forget it, do not close it.
        wrapper.connection = None
        wrapper.in_atomic_block = False
        wrapper.savepoint_ids = []
        wrapper.needs_rollback = False


def close_sqlite_before_fork():
    """In the parent, about to fork: close this thread's SQLite connections (not one inside a transaction)."""
    from django.db import connections

    for alias in connections:
        wrapper = connections[alias]
        if wrapper.vendor == "sqlite" and wrapper.connection is not None and not wrapper.in_atomic_block:
            wrapper.close()


if hasattr(os, "register_at_fork"):  # once, on first import (as proxy.settlement registers its own hook)
    os.register_at_fork(before=close_sqlite_before_fork, after_in_child=forget_parents_pools)
