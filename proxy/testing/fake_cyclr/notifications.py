"""The fake Cyclr's Marketplace webhook: POSTs the PascalCase notification to the "Marketplace Notification URL".

Standard library only (`urllib.request`). Each attempt is recorded, answered or not, so tests can assert on
what was sent and what the host answered. The URL holds the host's webhook secret: it is never logged.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

logger = logging.getLogger("proxy.testing.fake_cyclr")

MAX_RECORDED_RESPONSE = 4096


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected notification is a misconfigured URL: record the 3xx instead of following it as a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class NotificationSender:
    """Sends notifications to one URL (changeable, e.g. once a live test server has its port)."""

    def __init__(self, url: str | None = None, timeout: float = 10) -> None:
        self._url = url
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects)
        self._changed = threading.Condition()
        self._attempts: list[dict] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str | None:
        with self._changed:
            return self._url

    def set_url(self, url: str | None) -> None:
        with self._changed:
            self._url = url

    def send(self, body: dict, url: str | None = None) -> int | None:
        """POST `body` as JSON now; return the HTTP status (None if there was no answer at all)."""
        url = url or self.url
        if not url:
            raise RuntimeError("No Marketplace Notification URL is set: pass notification_url or call set_notification_url().")
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "FakeCyclr/1.0"},
        )
        status, response, error = None, "", None
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                status, response = answer.status, answer.read(MAX_RECORDED_RESPONSE).decode("utf-8", "replace")
        except urllib.error.HTTPError as failure:  # 3xx (not followed), 4xx, 5xx: still an answer
            status, response = failure.code, failure.read(MAX_RECORDED_RESPONSE).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as failure:
            error = str(getattr(failure, "reason", failure))
        logger.info("Marketplace notification %s to %s: %s", body.get("Status"), urlsplit(url).netloc, status or error)
        with self._changed:
            self._attempts.append(
                {"url": url, "status": status, "body": copy.deepcopy(body), "response": response, "error": error}
            )
            self._changed.notify_all()
        return status

    def send_in_background(self, body: dict) -> None:
        """Send from a daemon thread, as Cyclr does after an install, racing the browser's result."""
        url = self.url  # the URL in force now, even if a test changes it meanwhile
        thread = threading.Thread(target=self.send, args=(body, url), name="fake-cyclr-notification", daemon=True)
        with self._changed:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    @property
    def attempts(self) -> list[dict]:
        with self._changed:
            return copy.deepcopy(self._attempts)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until at least `count` attempts are recorded; False if `timeout` seconds pass first."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._attempts) >= count, timeout)

    def join(self, timeout: float) -> None:
        """Wait (up to `timeout` seconds in all) for background sends still under way."""
        deadline = time.monotonic() + timeout
        with self._changed:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
