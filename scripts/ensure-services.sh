#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, for the scale-out tests.
# Starts the local Debian services if they are installed but down.
set -uo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG || (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 0.5; done; return 1; }

status=0
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Starting Redis on 127.0.0.1:6379..."
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  fi
  wait_for redis_up || { echo "Redis is not answering on 127.0.0.1:6379. Install redis-server, or start yours there." >&2; status=1; }
fi
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "Starting PostgreSQL on 127.0.0.1:5432..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start 2>/dev/null
  fi
  wait_for pg_up || { echo "PostgreSQL is not answering on 127.0.0.1:5432. Install postgresql, or start yours there (see docs/testing.md)." >&2; status=1; }
fi
exit $status
