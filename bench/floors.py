"""The floors: the least any correct receiver of a result must do, served beside the kit.

Each floor parses the same message the kit takes (``{"type": "result", "id", "result"}``), checks
its shape, stores one row and acks; ``GetFloor`` also asks Cyclr about each claimed cycle, as any
receiver that verifies must. They share the kit's middleware, database and (for sockets) the way the
kit's consumers reach the database (``proxy.consumers.database_call``, a pool thread per call), so a
ratio to them is the kit's own overhead.
"""
import json
from concurrent.futures import ThreadPoolExecutor

import requests
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from proxy.conf import proxy_settings
from proxy.consumers import database_call
from proxy.cyclr import CyclrClient

from .models import FloorRow

# One pooled HTTP session for the process: the least a receiver that calls Cyclr must pay is one
# kept-alive connection, not a new one per call.
_cyclr_session = requests.Session()


def cyclr():
    return CyclrClient(session=_cyclr_session)


# The time-to-truth floor's one round of Cyclr calls: a pool kept for the process (no thread started per
# delivery), as wide as the kit's rounds (proxy.cyclr.MAX_PARALLEL).
_cyclr_round = ThreadPoolExecutor(max_workers=10, thread_name_prefix="bench-floor-cyclr")


def parse(text):
    """The message, or None when it is not the shape of a result message."""
    try:
        message = json.loads(text)
    except (TypeError, ValueError):
        return None
    if (not isinstance(message, dict) or message.get("type") != "result" or not isinstance(message.get("id"), str)
            or not 0 < len(message["id"]) <= 64 or not isinstance(message.get("result"), dict)):
        return None
    return message


def store(message, launch=""):
    FloorRow.objects.create(launch=launch, message_id=message["id"], result=message["result"])


def x_cyclr_account(result):
    """What ``X-Cyclr-Account`` holds: the account's API id (docs/cyclr-api.md; the kit's default)."""
    return result.get("accountApiId", "")


def ask_cyclr(message):
    result = message["result"]
    for cycle in result.get("cycles") or ():
        cyclr().get_cycle(cycle["cycleId"], account=x_cyclr_account(result))


def ack(message_id):
    return {"type": "ack", "id": message_id}


def error(message_id=None):
    return {"type": "error", "id": message_id, "code": "malformed"}


class InsertFloor(AsyncWebsocketConsumer):
    """Parse, shape check, INSERT, ack."""

    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        message = parse(text_data)
        if message is None:
            await self.send(text_data=json.dumps(error()))
            return
        await self.handle(message)
        await self.send(text_data=json.dumps(ack(message["id"])))

    @database_call
    def handle(self, message):
        store(message)


class GetFloor(InsertFloor):
    """Parse, shape check, one Cyclr GET per claimed cycle, INSERT, ack."""

    @database_call
    def handle(self, message):
        ask_cyclr(message)
        store(message)


def ask_cyclr_at_once(message):
    """One round of ``GET /v1.0/cycles/{id}``, every claimed cycle in flight at once; Cyclr's answers in order."""
    result = message["result"]
    account = x_cyclr_account(result)
    return list(_cyclr_round.map(lambda cycle: cyclr().get_cycle(cycle["cycleId"], account=account),
                                 result.get("cycles") or ()))


def verdict_group(user_id):
    return f"bench-floor-verdicts-{user_id}"


class VerdictFloor(InsertFloor):
    """Time to truth's floor: parse, shape check, one round of Cyclr GETs for all claimed cycles in parallel,
    INSERT, push the verdict to the person's ``VerdictEventsFloor`` sockets (then ack)."""

    async def receive(self, text_data=None, bytes_data=None):
        message = parse(text_data)
        if message is None:
            await self.send(text_data=json.dumps(error()))
            return
        known = await self.handle(message)
        event = {"type": "proxy.install.completed" if all(known) else "proxy.install.failed", "launch": message["id"]}
        await self.channel_layer.group_send(verdict_group(self.scope["user"].pk), {"type": "verdict", "event": event})
        await self.send(text_data=json.dumps(ack(message["id"])))

    @database_call
    def handle(self, message):
        answers = ask_cyclr_at_once(message)
        store(message)
        return [isinstance(answer, dict) for answer in answers]


class VerdictEventsFloor(AsyncWebsocketConsumer):
    """The events socket's floor: joins the person's group, forwards each verdict pushed to it."""

    async def connect(self):
        self.group = verdict_group(self.scope["user"].pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def verdict(self, message):
        await self.send(text_data=json.dumps(message["event"]))


class IdleFloor(AsyncWebsocketConsumer):
    """A socket that just accepts: the floor of an idle events socket's memory."""

    async def connect(self):
        await self.accept()


def take_over_http(request, *, ask_first):
    message = parse(request.body)
    if message is None:
        return JsonResponse(error(), status=400)
    if ask_first:
        ask_cyclr(message)
    store(message)
    return JsonResponse(ack(message["id"]))


@require_POST
@login_required
def result(request):
    """The HTTP fallback's floor: parse, shape check, INSERT, JSON ack."""
    return take_over_http(request, ask_first=False)


@require_POST
@login_required
def result_after_get(request):
    """The same, plus one Cyclr GET per claimed cycle before the INSERT (the HTTP twin of ``GetFloor``)."""
    return take_over_http(request, ask_first=True)


@require_GET
@login_required
def launch(request):
    """``proxy:launch``'s floor: an empty ``login_required`` view plus the one mint call it cannot skip."""
    account = proxy_settings.ACCOUNT_RESOLVER(request)
    minted = cyclr().mint_marketplace_url(account.api_id, marketplace_id=proxy_settings.MARKETPLACE_ID,
                                          complete_parameter="bench", account_name=account.name)
    return HttpResponse(minted.url, content_type="text/plain")
