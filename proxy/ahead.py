"""Cyclr asked ahead: the settlement's round of calls, started while the socket door is still storing the arrival.

A result sent on the launch socket is stored (the session re-check, the arrival's transaction), acked, and only
then settled: ``verify_result`` asks Cyclr about the claimed cycles, a round trip away (150 ms in the benchmark).
The door knows what that round will ask as soon as the frame arrives: the claimed cycle ids, under the account the
launch was minted for, which the socket read when it opened. ``ask`` starts the round then, in a kept thread, and
the settlement (``proxy.settle``) takes its answers (``take``) instead of asking again: the arrival's bookkeeping
runs while Cyclr answers instead of before it (docs/settling.md, "Cyclr asked ahead").

It is the same round the settlement makes, asked earlier, never another:

- only where the settlement runs in this process (``CYCLR_PROXY["TASK_BACKEND"]`` None, the default) and asks
  Cyclr at all (``VERIFY_WITH_API``); under a task backend the settlement runs in a worker that could not take
  the answers;
- only for a claim ``verify_result`` would ask about (``proxy.verification.asks_cyclr``: it names the launch's
  account and has cycles), as many ids as it would ask (``CyclrClient.get_cycles``: a forged list costs one round);
- once per launch in ``KEPT_FOR`` seconds in this process, from the first result a socket sends while its launch
  awaited one when the socket opened. A page reloaded, or a claim sent again, within that time costs no more.

The answers count only for the round the settlement would ask: the same ids in the same order under the same
``X-Cyclr-Account``, taken within ``KEPT_FOR`` seconds, once. Anything else, and a round that failed (Cyclr down,
a time-out), is asked anew by the settlement, which then keeps its own error and backoff as without this module.
"""
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .conf import proxy_settings
from .cyclr import CyclrClient
from .results import InstallResult
from .verification import asks_cyclr

logger = logging.getLogger(__name__)

# How long a round asked ahead is kept for its settlement, and how long it stands for its launch: no second round
# is asked ahead for the launch in that time.
KEPT_FOR = 30
# Threads asking ahead, each waiting on one round at a time (its other calls go out on the client's own threads).
THREADS = 8

_lock = threading.Lock()
_state = {"pid": None, "executor": None, "asked": {}}  # asked: launch id -> Asked


@dataclass
class Asked:
    future: object  # concurrent.futures.Future of (cycle ids, account, answers); None once taken
    at: float  # time.monotonic() when asked


def in_use() -> bool:
    """True if this process settles its own launches and asks Cyclr: the only case a round asked ahead is taken."""
    return proxy_settings.TASK_BACKEND is None and bool(proxy_settings.VERIFY_WITH_API)


def _asked():
    """The process's rounds, made anew in a forked child (its parent's threads did not follow it). Under ``_lock``."""
    if _state["pid"] != os.getpid():
        _state.update(pid=os.getpid(), executor=None, asked={})
    return _state["asked"]


def ask(launch, data):
    """Start the round ``verify_result`` will ask for ``data``, a result for ``launch`` (as the socket read it when
    it opened, still awaiting a result), unless its launch had one asked in the last ``KEPT_FOR`` seconds. Returns
    at once (the result is parsed and checked in the round's thread); never raises."""
    if not in_use():
        return
    now = time.monotonic()
    try:
        with _lock:
            asked = _asked()
            for key in [key for key, each in asked.items() if now - each.at > KEPT_FOR]:
                del asked[key]
            if launch.pk in asked:
                return
            if _state["executor"] is None:
                _state["executor"] = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="proxy-ahead")
            future = _state["executor"].submit(_round, launch, data)
            asked[launch.pk] = Asked(future, now)
    except Exception:  # an interpreter shutting down: the settlement asks for itself
        logger.exception("Could not ask Cyclr ahead for launch %s", launch.pk)


def _round(launch, data):
    """``(cycle ids, account, answers)``; ``answers`` None where ``verify_result`` would not ask (nothing asked)."""
    claim = InstallResult.parse(data)  # InvalidResult: the door refuses it too; nothing asked
    ids, account = tuple(c.cycle_id for c in claim.cycles), launch.x_cyclr_account
    if not asks_cyclr(claim, account_api_id=launch.account_api_id, cyclr_account_id=launch.cyclr_account_id):
        return ids, account, None
    return ids, account, CyclrClient().get_cycles(ids, account=account)


def take(launch_id, cycle_ids, account):
    """Cyclr's answers to the round ``get_cycles(cycle_ids, account=account)`` asked ahead for ``launch_id``,
    waiting for them if they are still coming; None if no such round was asked, it was taken already, it is older
    than ``KEPT_FOR`` seconds, asked other ids or under another account, or it failed: then ask anew."""
    with _lock:
        each = _asked().get(launch_id)
        if each is None or each.future is None or time.monotonic() - each.at > KEPT_FOR:
            return None
        # It still stands for the launch until KEPT_FOR (no second round asked ahead), without its answers.
        future, each.future = each.future, None
    try:
        ids, asked_account, answers = future.result()
    except Exception as exc:  # Cyclr down or slow, an invalid result: the settlement asks, and keeps its own error
        logger.info("Launch %s: the round asked ahead failed (%s); asking Cyclr again.", launch_id, type(exc).__name__)
        return None
    if answers is None or ids != tuple(cycle_ids) or asked_account != account:
        return None
    return answers


def forget():
    """Drop every round asked ahead (tests); a round in flight finishes, and nobody takes it."""
    with _lock:
        _asked().clear()
