"""Input that used to crash the HTTP doors: each gets a stable code and a sentence, writes nothing, logs no traceback.

Chunked bodies go through the project's real ASGI application (a body without Content-Length
exists only there); the rest through Django's test client. The result doors check CSRF themselves,
so these tests enforce it (``Client(enforce_csrf_checks=True)``, a real cookie and header): Django's
CSRF middleware used to parse a form body before the view, and answer what it could not parse in HTML.
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


def post_scope(path, headers):
    """The ASGI scope of a POST to ``path`` on the test host, with ``headers``."""
    return {"type": "http", "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
            "raw_path": path.encode(), "query_string": b"", "headers": headers, "server": ("localhost", 8000),
            "client": ("127.0.0.1", 50000)}


def post_chunked(path, body, cookie="", content_type="application/json"):
    """POST ``body`` in 64 KiB chunks with no Content-Length; returns (status, headers, body)."""
    headers = [(b"host", b"localhost:8000"), (b"content-type", content_type.encode()), (b"transfer-encoding", b"chunked"),
               (b"cookie", f"csrftoken={CSRF}; {cookie}".encode()), (b"x-csrftoken", CSRF.encode())]
    scope = post_scope(path, headers)

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


# --- bodies that are not JSON, with CSRF enforced: Django must never parse them as a form ------------------

FORM = "application/x-www-form-urlencoded"
UPLOAD_LIMIT = 20_000  # DATA_UPLOAD_MAX_MEMORY_SIZE in these tests: a form past it is still a small body
NOT_JSON = {
    # Each made Django's CSRF middleware raise before the view: an HTML 400, or a 500 from the ASGI app.
    "form-1001-fields": (FORM, "&".join(f"f{i}=1" for i in range(1001))),
    "form-past-the-upload-limit": (FORM, "f=" + "x" * (UPLOAD_LIMIT + 1)),
    "form-in-latin-1": (FORM + "; charset=latin-1", "f=caf\xe9"),
    "multipart-without-a-boundary": ("multipart/form-data", "--b\r\nContent-Disposition: form-data; name=f\r\n\r\n1\r\n--b--"),
    "multipart-with-an-empty-boundary": ("multipart/form-data; boundary=", "--\r\n--"),
    "multipart-with-a-bad-boundary": ("multipart/form-data; boundary=" + "b" * 80, "--b--"),
    # JSON in another wrapper: the message is JSON, sent as JSON.
    "json-as-text-plain": ("text/plain;charset=UTF-8", '{"type": "result", "id": "m1", "result": {}}'),
    "no-content-type": ("", '{"type": "result", "id": "m1", "result": {}}'),
}


def csrf_checked(user=None):
    """A client as a browser page of this site is: CSRF enforced, the cookie set, and (given a user) signed in."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF
    return client


def post_raw(client, path, content_type, body, **headers):
    """POST ``body`` with exactly this Content-Type (the test client would otherwise add its own)."""
    return client.generic("POST", path, body.encode("latin-1") if "latin-1" in content_type else body.encode(),
                          content_type=content_type, **headers)


def assert_json_refusal(status, content_type, content, code, expected_status):
    assert status == expected_status, content[:300]
    assert content_type == "application/json", content[:300]
    error = json.loads(content)
    assert error["type"] == "error" and error["code"] == code, error
    assert error["message"].endswith(".") and error["terminal"] is True, error


@pytest.mark.parametrize("name", ["result", "complete"])
@pytest.mark.parametrize("content_type, body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_body_that_is_not_json_is_415_in_json_even_with_csrf_enforced(launch_for, user, settings, name, content_type, body,
                                                                        errors_logged):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_LIMIT
    launch, _ = launch_for(user)
    response = post_raw(csrf_checked(user), door(name, launch), content_type, body, HTTP_X_CSRFTOKEN=CSRF)
    assert_json_refusal(response.status_code, response["Content-Type"], response.content, "unsupported_media_type", 415)
    assert_nothing_written(launch)
    assert errors_logged() == []


@pytest.mark.parametrize("name", ["result", "complete"])
@pytest.mark.parametrize("content_type, body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_body_that_is_not_json_without_a_csrf_token_is_403_csrf_failed(launch_for, user, settings, name, content_type, body,
                                                                          errors_logged):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_LIMIT
    launch, _ = launch_for(user)
    response = post_raw(csrf_checked(user), door(name, launch), content_type, body)  # the cookie, no header
    assert_json_refusal(response.status_code, response["Content-Type"], response.content, "csrf_failed", 403)
    assert_nothing_written(launch)
    assert errors_logged() == []


@pytest.mark.parametrize("name", ["result", "complete"])
def test_a_token_in_a_form_field_does_not_count(launch_for, user, name, errors_logged):
    # The kit's pages send the token in the X-CSRFToken header; the body is never read as a form.
    launch, _ = launch_for(user)
    response = post_raw(csrf_checked(user), door(name, launch), FORM, f"csrfmiddlewaretoken={CSRF}")
    assert_json_refusal(response.status_code, response["Content-Type"], response.content, "csrf_failed", 403)
    assert_nothing_written(launch)
    assert errors_logged() == []


@pytest.mark.parametrize("name, answer", [("result", "ack"), ("complete", "unbound")])
def test_a_json_message_with_a_charset_parameter_is_read(installed, user, name, answer, settled):
    # RFC 8259: JSON is UTF-8 and application/json defines no charset; a parameter changes nothing.
    # (proxy:complete reads the message, then refuses it for naming no launch: past the media type.)
    launch, data = installed()
    body = json.dumps({"type": "result", "id": "m1", "result": data})
    response = post_raw(csrf_checked(user), door(name, launch), "application/json; charset=latin-1", body,
                        HTTP_X_CSRFTOKEN=CSRF)
    reply = response.json()
    assert answer in (reply["type"], reply.get("code")), reply
    settled()


@pytest.mark.parametrize("name", ["result", "complete"])
def test_a_signed_out_post_with_a_forged_csrf_pair_is_401_in_json(launch_for, user, name, errors_logged):
    # No session needed to reach the door: a csrftoken cookie and a matching header anyone can make up.
    launch, _ = launch_for(user)
    response = post_raw(csrf_checked(), door(name, launch), FORM + "; charset=latin-1", "f=caf\xe9", HTTP_X_CSRFTOKEN=CSRF)
    assert_json_refusal(response.status_code, response["Content-Type"], response.content, "unauthenticated", 401)
    assert_nothing_written(launch)
    assert errors_logged() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_another_method_on_proxy_result_is_405_in_json(launch_for, user, method, errors_logged):
    launch, _ = launch_for(user)
    response = csrf_checked(user).generic(method, door("result", launch), "{}", HTTP_X_CSRFTOKEN=CSRF)
    assert response.status_code == 405 and response["Allow"] == "POST"
    if method != "HEAD":
        assert_json_refusal(405, response["Content-Type"], response.content, "method_not_allowed", 405)
    assert_nothing_written(launch)
    assert errors_logged() == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
def test_another_method_on_proxy_complete_is_405_in_json(launch_for, user, method, errors_logged):
    launch, _ = launch_for(user)
    response = csrf_checked(user).generic(method, door("complete", launch), "{}", HTTP_X_CSRFTOKEN=CSRF)
    assert response.status_code == 405 and response["Allow"] == "GET, POST"
    assert_json_refusal(405, response["Content-Type"], response.content, "method_not_allowed", 405)
    assert_nothing_written(launch)
    assert errors_logged() == []


# The same bodies through the real ASGI application, chunked: what a server in front of the app would pass on.

@pytest.mark.parametrize("name", ["result", "complete"])
@pytest.mark.parametrize("content_type, body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_through_the_asgi_app_a_body_that_is_not_json_is_415_in_json(launch_for, user, settings, name, content_type, body,
                                                                      errors_logged):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_LIMIT
    launch, _ = launch_for(user)
    raw = body.encode("latin-1") if "latin-1" in content_type else body.encode()
    status, headers, content = post_chunked(door(name, launch), raw, session_cookie(user), content_type)
    assert_json_refusal(status, headers[b"Content-Type"].decode(), content, "unsupported_media_type", 415)
    assert_nothing_written(launch)
    assert errors_logged() == []


@pytest.mark.parametrize("name", ["result", "complete"])
def test_through_the_asgi_app_a_signed_out_latin_1_form_is_401_in_json(launch_for, user, name, errors_logged):
    # This one escaped the ASGI application (a real server answers 500): the middleware raised, then Django's
    # 400 handler, which checks CSRF too, read the form again.
    launch, _ = launch_for(user)
    status, headers, content = post_chunked(door(name, launch), "f=caf\xe9".encode("latin-1"), "",
                                            FORM + "; charset=latin-1")
    assert_json_refusal(status, headers[b"Content-Type"].decode(), content, "unauthenticated", 401)
    assert_nothing_written(launch)
    assert errors_logged() == []
