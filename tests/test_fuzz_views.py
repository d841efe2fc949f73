"""Fuzzing the HTTP doors: ``proxy:result``, ``proxy:complete`` (POST), ``proxy:orbit`` (POST) and ``proxy:webhook``.

Any body, bytes or JSON, under any ``Content-Type`` (JSON with any charset, forms, multipart with good
and bad boundaries, text, any printable header), gets a JSON answer: an ack (or, for the webhook, a
``status``), or a 4xx refusal with a stable ``code`` and a sentence, never a 500; a refusal writes
nothing (the webhook keeps a JSON object from a caller with the secret, by design, and nothing else).
The result doors are fuzzed with CSRF enforced too, with the right token, a wrong one or none: the
doors check it themselves, and no body may reach Django's form parser on the way.

Each test opens its launch once and sends every example through Django's test client.
Bodies without a Content-Length (chunked) go through the real ASGI application.
"""
import asyncio
import json

import pytest
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.db import connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import parse_header_parameters
from hypothesis import given
from hypothesis import strategies as st

from tests.asgi import application
from proxy.models import Launch, WebhookDelivery

from .fuzzing import LIMIT, as_bytes, content_types, deep_json_text, form_bodies, frames, json_values, mutated, with_deep_key
from .test_webhooks import SECRET, notified, webhook_secret  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_commits", "unlimited")]

WEBHOOK_ANSWERS = {"accepted", "recorded", "ignored"}
DELIVERIES = WebhookDelivery._meta.db_table


def post(client, path, body, content_type="application/json", **headers):
    """POST ``body`` as ``content_type``; returns the response and the tables the request wrote to.

    The request runs in this thread on this connection, so its statements are all captured:
    "writes nothing" is checked without querying the database around every example.
    """
    with CaptureQueriesContext(connection) as queries:
        response = client.generic("POST", path, body, content_type=content_type, **headers)
    return response, {_written_table(query["sql"]) for query in queries} - {None}


def _written_table(sql):
    words = sql.replace('"', " ").replace("`", " ").split()
    verb = words[0].upper() if words else ""
    if verb == "INSERT" or verb == "DELETE":
        return words[2]  # INSERT INTO t, DELETE FROM t
    if verb == "UPDATE":
        return words[1]
    return None


def json_answer(response):
    assert response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", (response.status_code, response.content[:300])
    return json.loads(response.content)


def assert_refusal(status, answer):
    """A refusal as the contract gives it: 4xx, a stable code and a sentence."""
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer.get("code"), str) and answer["code"].strip(), answer
    assert isinstance(answer.get("message"), str) and answer["message"].strip(), answer


class PendingLaunch:
    """The user's launch under test, replaced by a fresh pending one whenever an example settles it.

    So that every example meets a pending launch, as an attacker's first message would.
    """

    def __init__(self, launch_for, user):
        self.launch_for, self.user = launch_for, user
        self.launch, _ = launch_for(user)

    def renew_if_settled(self):
        self.launch.refresh_from_db()
        if self.launch.status != Launch.Status.PENDING:
            self.launch, _ = self.launch_for(self.user)


def check_delivery(client, path, body, pending, content_type="application/json", csrf_token=None, expected_code=None):
    headers = {"HTTP_X_CSRFTOKEN": csrf_token} if csrf_token is not None else {}
    response, tables = post(client, path(), body, content_type, **headers)
    answer = json_answer(response)
    if expected_code is not None:  # refused before the body is read
        assert answer.get("code") == expected_code, (response.status_code, answer)
    if response.status_code == 200:
        assert answer["type"] == "ack" and answer["status"] in Launch.Status.values, answer
        pending.renew_if_settled()
    else:
        assert_refusal(response.status_code, answer)
        assert answer["type"] == "error" and isinstance(answer["terminal"], bool), answer
        assert not tables, f"a refused body wrote to {tables}"


def sent_as_json(content_type, body):
    """True if a door reads this request as a JSON message: what Django makes of the header (the test
    client sends no Content-Type with an empty body)."""
    return bool(body) and parse_header_parameters(content_type)[0] == "application/json"


def bodies(data):
    """HTTP bodies for the result doors: every frame the socket fuzzing sends, as bytes, and form-shaped ones."""
    return frames(data).map(as_bytes) | form_bodies


CSRF = _get_new_csrf_string()  # the page's token: the cookie, and the header when it is sent right


def signed_in_client(user, *, enforce_csrf_checks):
    client = Client(enforce_csrf_checks=enforce_csrf_checks, raise_request_exception=False)  # a crash shows as a 500
    client.force_login(user)
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF
    return client


@pytest.mark.parametrize("csrf", ["not-enforced", "enforced"])
@pytest.mark.parametrize("door", ["proxy:result", "proxy:complete"])
def test_the_result_doors_answer_any_body_in_json_and_refusals_write_nothing(installed, launch_for, user, door, csrf):
    # proxy:result and proxy:complete read the message with one reader and differ in how they find
    # the launch (its URL, or the binding in the message): each door gets the profile's examples. With
    # CSRF enforced, each example also draws the token it sends: the right one, a wrong one, or none.
    _, data = installed()
    pending = PendingLaunch(launch_for, user)
    doors = {
        "proxy:result": lambda: reverse("proxy:result", args=[pending.launch.pk]),
        "proxy:complete": lambda: reverse("proxy:complete"),
    }
    enforced = csrf == "enforced"
    client = signed_in_client(user, enforce_csrf_checks=enforced)
    tokens = st.sampled_from([CSRF, CSRF, _get_new_csrf_string(), "", None]) if enforced else st.just(None)

    @given(bodies(data), content_types, tokens)
    def deliver(body, content_type, token):
        expected = None
        if enforced and token != CSRF:
            expected = "csrf_failed"
        elif not sent_as_json(content_type, body):
            expected = "unsupported_media_type"
        check_delivery(client, doors[door], body, pending, content_type, token, expected)

    deliver()


def test_orbits_close_notice_answers_any_body_in_json_and_refusals_write_nothing(cyclr, user, unlimited):
    """``proxy:orbit``'s POST (the ORBIT page's beacon as it goes away), with CSRF enforced: any body under any
    Content-Type gets the reconciled changes or a coded refusal, and no body reaches Django's form parser."""
    from proxy.bodies import FORM_MEDIA_TYPE
    from proxy.orbit import CLOSE_NOTICE_MAX_BYTES

    client = signed_in_client(user, enforce_csrf_checks=True)
    path = reverse("proxy:orbit")
    tokens = st.sampled_from([CSRF, _get_new_csrf_string(), "", "x" * 64])
    notices = st.one_of(
        st.builds(lambda token, extra: f"csrfmiddlewaretoken={token}".encode() + extra, tokens, form_bodies),
        form_bodies,
        st.binary(max_size=300),
        st.integers(min_value=CLOSE_NOTICE_MAX_BYTES - 100, max_value=LIMIT)
        .map(lambda n: f"csrfmiddlewaretoken={CSRF}&pad=".encode() + b"x" * n),
    )

    taken = []

    @given(notices, st.just(FORM_MEDIA_TYPE) | content_types)
    def close(body, content_type):
        response, tables = post(client, path, body, content_type)
        answer = json_answer(response)
        if response.status_code == 200:
            taken.append(body)
            assert answer["type"] == "proxy.integrations.changed" and isinstance(answer["ok"], bool), answer
            assert parse_header_parameters(content_type)[0] == FORM_MEDIA_TYPE and f"={CSRF}".encode() in body
        else:
            assert_refusal(response.status_code, answer)
            assert answer["type"] == "error" and isinstance(answer["terminal"], bool), answer
            assert not tables, f"a refused close notice wrote to {tables}"

    close()
    assert taken, "no example carried the page's token in a form: the property never reached the reconcile"


def test_proxy_webhook_answers_any_body_in_json_and_stores_only_json_objects(notified):
    launch, _, notification = notified()
    client = Client(raise_request_exception=False)
    path = reverse("proxy:webhook", args=[SECRET])
    webhook_bodies = st.one_of(
        frames(notification).map(as_bytes),
        mutated(notification).map(lambda body: json.dumps(body).encode()),
        st.builds(lambda body, status: json.dumps({**body, "Status": status}).encode(), mutated(notification),
                  st.sampled_from(["installed", "uninstalled", "started", "stopped", "INSTALLED"]) | json_values),
        deep_json_text.map(lambda nested: with_deep_key(notification, nested).encode()),
    )

    # Cyclr's Content-Type is not documented: the webhook reads the body whatever the header says.
    @given(webhook_bodies, content_types)
    def notify(body, content_type):
        response, tables = post(client, path, body, content_type)
        answer = json_answer(response)
        if response.status_code == 200:
            assert answer["status"] in WEBHOOK_ANSWERS, answer
        else:
            assert_refusal(response.status_code, answer)
            # The delivery row, kept for an operator, is the one write a refusal may make.
            assert tables <= {DELIVERIES}, f"a refused notification wrote to {tables}"
            if answer["code"] in ("malformed", "too_large"):
                assert not tables, "a body that is not a JSON object, or too large, was stored"

    notify()


# --- bodies without a Content-Length, through the ASGI application -----------------------------------------


def asgi_post(loop, path, chunks, headers):
    """POST ``chunks`` as a chunked body (no Content-Length) through the real ASGI app: (status, headers, body)."""
    async def post():
        communicator = ApplicationCommunicator(application, {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": headers, "client": ("127.0.0.1", 50000), "server": ("localhost", 8000),
        })
        for i, chunk in enumerate(chunks):
            await communicator.send_input({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})
        start = await communicator.receive_output(timeout=30)
        body = b""
        while True:
            message = await communicator.receive_output(timeout=30)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(timeout=5)
        return start["status"], {name.lower(): value for name, value in start["headers"]}, body

    return loop.run_until_complete(post())


def test_chunked_bodies_of_any_size_get_a_json_answer(installed, user):
    launch, data = installed()
    client = Client()
    client.force_login(user)
    csrf = _get_new_csrf_string()
    headers = [
        (b"host", b"localhost:8000"), (b"content-type", b"application/json"), (b"transfer-encoding", b"chunked"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}; "
                    f"{settings.CSRF_COOKIE_NAME}={csrf}".encode()),
        (b"x-csrftoken", csrf.encode()),
    ]
    message = json.dumps({"type": "result", "id": "m1", "result": data}).encode()
    loop = asyncio.new_event_loop()

    # Sizes around MAX_RESULT_BYTES and past Django's DATA_UPLOAD_MAX_MEMORY_SIZE, on the profile's
    # examples (2,000 in CI: about 40 s, multi-megabyte bodies included).
    sizes = st.one_of(st.integers(0, 2 * LIMIT), st.integers(settings.DATA_UPLOAD_MAX_MEMORY_SIZE - 10,
                                                             settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 2 * LIMIT))

    @given(sizes, st.integers(min_value=LIMIT, max_value=1 << 20), st.sampled_from(["result", "complete"]))
    def post(size, chunk_size, door):
        body = message[:-1] + b" " * max(0, size - len(message)) + b"}"  # valid JSON, padded to size
        chunks = [body[i:i + chunk_size] for i in range(0, len(body), chunk_size)] or [b""]
        path = reverse("proxy:result", args=[launch.pk]) if door == "result" else reverse("proxy:complete")
        status, response_headers, content = asgi_post(loop, path, chunks, headers)
        assert status < 500, (status, content[:300])
        assert response_headers.get(b"content-type") == b"application/json", (status, content[:300])
        answer = json.loads(content)
        if status != 200:
            assert_refusal(status, answer)
        if len(body) > LIMIT:
            assert status == 413 and answer["code"] == "too_large", (status, answer)

    try:
        post()
    finally:
        loop.close()
