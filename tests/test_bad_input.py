"""Input that used to crash the HTTP doors: each gets a stable code and a sentence, writes nothing, logs no traceback.

Chunked bodies go through the project's real ASGI application (a body without Content-Length
exists only there); the rest through Django's test client.
"""
import json
import logging

import pytest
from asgiref.sync import async_to_sync
from channels.testing import ApplicationCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.asgi import application
from proxy.models import Arrival, Launch, WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = "abcdefghijklmnopqrstuvwxyz012345"  # a CSRF secret, sent as both cookie and header
SECRET = "whsec-0123456789abcdef-current"


def nested(depth):
    return "[" * depth + "]" * depth


def with_extra(data, fragment):
    """A result message for ``data`` with ``"extra": <fragment>`` (raw JSON text) added to the result."""
    return '{"type": "result", "id": "m1", "result": ' + json.dumps(data)[:-1] + ', "extra": ' + fragment + "}}"


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def assert_nothing_written(launch):
    launch.refresh_from_db()
    assert launch.status == Launch.Status.PENDING and launch.result_raw is None
    assert not Arrival.objects.exists()


@pytest.fixture
def errors_logged(caplog):
    """The ERROR records and tracebacks logged during the test (there must be none)."""
    with caplog.at_level(logging.DEBUG):
        yield lambda: [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def door(name, launch):
    return reverse("proxy:result", args=[launch.pk]) if name == "result" else reverse("proxy:complete")


# --- deeply nested, NaN, NUL: under the size limit ------------------------------------------------------

FRAGMENTS = {"recursion": nested(30_000), "too-deep": nested(900), "nan": "Infinity", "nul": '"a\\u0000"'}


@pytest.mark.parametrize("name", ["result", "complete"])
@pytest.mark.parametrize("fragment", FRAGMENTS.values(), ids=FRAGMENTS.keys())
def test_json_the_kit_cannot_keep_is_400_malformed(installed, user, name, fragment, errors_logged):
    launch, data = installed()
    body = with_extra(data, fragment)
    assert len(body) < settings.CYCLR_PROXY["MAX_RESULT_BYTES"]
    response = logged_in(user).post(door(name, launch), body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["code"] == "malformed" and error["message"].endswith(".")
    assert_nothing_written(launch)
    assert errors_logged() == []


# --- a large body without Content-Length (chunked), through the ASGI application --------------------------


def post_chunked(path, body, cookie=""):
    """POST ``body`` in 64 KiB chunks with no Content-Length; returns (status, headers, body)."""
    headers = [(b"host", b"localhost:8000"), (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked"),
               (b"cookie", f"csrftoken={CSRF}; {cookie}".encode()), (b"x-csrftoken", CSRF.encode())]
    scope = {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": headers, "server": ("localhost", 8000),
             "client": ("127.0.0.1", 50000)}

    async def exchange():
        app = ApplicationCommunicator(application, scope)
        chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
        for i, chunk in enumerate(chunks):
            await app.send_input({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})
        start = await app.receive_output(timeout=10)
        content = b""
        while True:
            message = await app.receive_output(timeout=10)
            content += message.get("body", b"")
            if not message.get("more_body"):
                break
        return start["status"], dict(start["headers"]), content

    return async_to_sync(exchange)()


def session_cookie(user):
    client = logged_in(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.mark.parametrize("name", ["result", "complete"])
def test_a_chunked_body_past_djangos_upload_limit_is_413_too_large_json(installed, user, name, settings, errors_logged):
    launch, data = installed()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200_000
    body = with_extra(data, json.dumps("x" * 300_000)).encode()
    status, headers, content = post_chunked(door(name, launch), body, session_cookie(user))
    assert status == 413, content[:300]
    assert headers[b"Content-Type"] == b"application/json"
    error = json.loads(content)
    assert error["type"] == "error" and error["code"] == "too_large" and error["message"].endswith(".")
    assert_nothing_written(launch)
    assert errors_logged() == []


def test_a_chunked_body_within_the_limits_is_taken(installed, user):
    launch, data = installed()
    body = with_extra(data, "1").encode()
    status, _, content = post_chunked(door("result", launch), body, session_cookie(user))
    assert status == 200 and json.loads(content)["type"] == "ack"


def test_a_chunked_webhook_past_djangos_upload_limit_is_413_too_large_json(cyclr, settings, errors_logged):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200_000
    body = json.dumps({"Status": "installed", "Padding": "x" * 300_000}).encode()
    status, _, content = post_chunked(reverse("proxy:webhook", args=[SECRET]), body)
    assert status == 413 and json.loads(content)["code"] == "too_large"
    assert not WebhookDelivery.objects.exists()
    assert errors_logged() == []


def test_a_deeply_nested_webhook_is_400_malformed_and_not_stored(cyclr, settings, errors_logged):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    for body in ('{"Status": "installed", "x": ' + nested(900) + "}", '{"Status": "installed", "x": NaN}'):
        response = Client().post(reverse("proxy:webhook", args=[SECRET]), body, content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "malformed"
    assert not WebhookDelivery.objects.exists()
    assert errors_logged() == []
