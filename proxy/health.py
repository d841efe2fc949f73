"""``proxy:health``: can this process reach the database and the channel layer?

For load balancers, orchestrators and uptime monitors: ``GET proxy/health/`` answers without a
login (also under ``LoginRequiredMiddleware``), is never cached, and says in JSON whether

- ``database``: a query on the default database returns, and
- ``channel_layer``: a message sent to a fresh channel of the channel layer comes back within
  ``LAYER_TIMEOUT`` seconds (with channels-redis, a round trip through Redis; it is what carries
  pushes between worker processes).

200 ``{"status": "ok", "checks": {"database": {"ok": true}, "channel_layer": {"ok": true}}}`` when
both work; 503 ``{"status": "unavailable", "failed": [...], "checks": {...}}`` otherwise, where
each failed check has a stable ``code`` and a ``message``. The answer names what failed, never the
exception's text (anyone may call this URL); the server log has the details.
"""
import asyncio
import logging
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_not_required
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

# Seconds the channel-layer round trip may take before the layer counts as down: long enough for
# a busy Redis, short enough to answer before a load balancer's own time-out (often 5 s).
LAYER_TIMEOUT = 2.0
PING = "proxy.health.ping"


class CheckFailed(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def _query_database():
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone()[0] != 1:
            raise CheckFailed("database_error", "The database answered a test query wrongly.")


async def check_database():
    try:
        await sync_to_async(_query_database)()
    except CheckFailed:
        raise
    except Exception:
        logger.exception("Health check: the database query failed")
        raise CheckFailed("database_unavailable", "The database did not answer a test query.") from None


async def check_channel_layer():
    layer = get_channel_layer()
    if layer is None:
        raise CheckFailed("channel_layer_missing", "No channel layer is configured (CHANNEL_LAYERS).")
    token = uuid.uuid4().hex
    try:
        async with asyncio.timeout(LAYER_TIMEOUT):
            channel = await layer.new_channel()
            await layer.send(channel, {"type": PING, "token": token})
            message = await layer.receive(channel)
    except TimeoutError:
        logger.error("Health check: the channel layer did not answer within %s s", LAYER_TIMEOUT)
        raise CheckFailed("channel_layer_timeout",
                          f"The channel layer did not return a message within {LAYER_TIMEOUT:g} seconds.") from None
    except Exception:
        logger.exception("Health check: the channel-layer round trip failed")
        raise CheckFailed("channel_layer_unavailable", "The channel layer could not send and receive a message.") from None
    if message.get("token") != token:
        raise CheckFailed("channel_layer_error", "The channel layer returned a different message than was sent.")


CHECKS = {"database": check_database, "channel_layer": check_channel_layer}


async def run_checks():
    """``{name: {"ok": True} | {"ok": False, "code", "message"}}`` for every check, run concurrently."""
    outcomes = await asyncio.gather(*(check() for check in CHECKS.values()), return_exceptions=True)
    report = {}
    for name, outcome in zip(CHECKS, outcomes):
        if isinstance(outcome, CheckFailed):
            report[name] = {"ok": False, "code": outcome.code, "message": outcome.message}
        elif isinstance(outcome, BaseException):  # a bug in a check: still an answer, never a 500
            logger.error("Health check %s raised", name, exc_info=outcome)
            report[name] = {"ok": False, "code": "check_error", "message": "The check itself failed; see the server log."}
        else:
            report[name] = {"ok": True}
    return report


@login_not_required
@require_safe
@never_cache
async def health(request):
    """200 when the database and a channel-layer round trip both work, 503 naming what failed."""
    checks = await run_checks()
    failed = [name for name, check in checks.items() if not check["ok"]]
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed, "checks": checks}, status=503)
    return JsonResponse({"status": "ok", "checks": checks})
