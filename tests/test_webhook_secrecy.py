"""The webhook's secret (it is in the URL) never leaves in a redirect, a page, a header or a log line.

Under ``LoginRequiredMiddleware`` the webhook still answers itself (it is ``login_not_required``),
and every path under ``webhook/`` is answered by the kit: with or without the trailing slash,
so ``APPEND_SLASH`` has nothing to redirect and no 404 page echoes the path.
"""
import logging

import pytest
from django.contrib.auth.decorators import login_not_required  # noqa: F401  (Django >= 5.1: the contract relies on it)
from django.test import Client
from django.urls import reverse

from proxy.models import Launch, WebhookDelivery
from proxy.testing.fake_cyclr.state import marketplace_notification

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-0123456789abcdef-current"
WRONG = "whsec-not-the-secret-0123456789"
LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"


@pytest.fixture(params=[False, True], ids=["login-optional", "login-required"])
def site(request, cyclr, settings):
    """The kit with a webhook secret, with and without LoginRequiredMiddleware; DEBUG on, as in development."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    settings.DEBUG = True  # the debug 404 page would list the path, secret included
    if request.param:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, LOGIN_REQUIRED)
        settings.MIDDLEWARE = middleware
    return request.param


@pytest.fixture
def every_log_record(caplog, monkeypatch):
    for name in ("django.request", "django.security", "django.server"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    with caplog.at_level(logging.DEBUG):
        yield caplog


def assert_secret_kept(response, records, *secrets):
    exposed = [str(response.status_code), response.content.decode("utf-8", "replace")]
    exposed += [f"{name}: {value}" for name, value in response.items()]
    exposed += [record.getMessage() for record in records]
    exposed += [str(record.args) for record in records]
    for secret in secrets:
        assert not any(secret in text for text in exposed), secret


def test_the_webhook_answers_itself_with_or_without_the_trailing_slash(site, installed, cyclr, every_log_record, settled):
    launch, _ = installed()
    body = marketplace_notification(cyclr.installs[-1])
    path = reverse("proxy:webhook", args=[SECRET])
    assert path.endswith(f"/{SECRET}/")

    first = Client().post(path, body, content_type="application/json")
    again = Client().post(path.rstrip("/"), body, content_type="application/json")

    assert first.status_code == again.status_code == 200
    assert first.json() == {"status": "accepted", "launch": str(launch.pk), "duplicate": False}
    assert again.json()["duplicate"] is True
    assert settled(Launch.objects.get(pk=launch.pk)).status == Launch.Status.COMPLETED
    for response in (first, again):
        assert_secret_kept(response, every_log_record.records, SECRET)


@pytest.mark.parametrize("path", [
    f"webhook/{WRONG}/",
    f"webhook/{WRONG}",
    f"webhook/{SECRET}/more/{SECRET}",  # a path below the secret matches no secret
    f"webhook/{SECRET}//",
    "webhook/",
])
@pytest.mark.parametrize("method", ["post", "get"])
def test_any_other_path_under_webhook_is_a_404_json_answer_that_repeats_nothing(site, path, method, every_log_record):
    client = Client()
    response = client.get("/proxy/" + path) if method == "get" else client.post("/proxy/" + path, "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}
    assert not WebhookDelivery.objects.exists()
    assert_secret_kept(response, every_log_record.records, SECRET, WRONG)
    assert any("Refused a Marketplace webhook" in r.getMessage() for r in every_log_record.records)


@pytest.mark.parametrize("path", [f"webhook/{SECRET}/", f"webhook/{SECRET}"])
def test_refusals_with_the_right_secret_repeat_nothing_either(site, path, every_log_record):
    client = Client()
    answers = [
        client.get("/proxy/" + path),
        client.post("/proxy/" + path, "not json", content_type="application/json"),
        client.post("/proxy/" + path, '{"Status": "exploded"}', content_type="application/json"),
    ]
    assert [a.status_code for a in answers] == [405, 400, 400]
    assert [a.json()["code"] for a in answers] == ["method_not_allowed", "malformed", "invalid_result"]
    for response in answers:
        assert_secret_kept(response, every_log_record.records, SECRET)


def test_the_webhooks_log_lines_escape_the_callers_address(cyclr, settings, caplog):
    """The address can come from a header (daphne --proxy-headers): a newline in it starts no forged line."""
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    with caplog.at_level(logging.WARNING, logger="proxy.webhooks"):
        response = Client(REMOTE_ADDR="10.0.0.1\nERROR forged line").post(f"/proxy/webhook/{WRONG}/", "{}",
                                                                          content_type="application/json")
    assert response.status_code == 404
    (line,) = [r.getMessage() for r in caplog.records if r.name == "proxy.webhooks"]
    assert line == "Refused a Marketplace webhook from 10.0.0.1\\nERROR forged line: wrong secret."


# --- access logs: the servers' own lines ---------------------------------------------------------------


@pytest.mark.parametrize("path", [
    f"/proxy/webhook/{SECRET}/",
    f"/proxy/webhook/{SECRET}",
    f"/proxy/webhook%2F{SECRET}%2F",        # the server decodes %2F: the same view
    f"/proxy/%77ebhook/{SECRET}/?x=1",      # and %77 ("w")
    f"/proxy/webhook/{SECRET}/%0Aforged",
])
def test_the_log_filter_masks_the_webhooks_path_in_runservers_access_lines(path):
    """daphne's runserver logs ``"HTTP %(method)s %(path)s …"`` with a dict; Django's a formatted request line."""
    from proxy.logs import WebhookSecretFilter

    daphne_style = logging.LogRecord("django.channels.server", logging.INFO, __file__, 1,
                                     "HTTP %(method)s %(path)s %(status)s [%(client)s]",
                                     ({"method": "POST", "path": path, "status": 200, "client": "127.0.0.1:5"},), None)
    django_style = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                                     (f"POST {path} HTTP/1.1", "200", "12"), None)
    for record in (daphne_style, django_style):
        assert WebhookSecretFilter().filter(record) is True  # masks, never drops
        line = record.getMessage()
        assert SECRET not in line and "\n" not in line
        assert "/proxy/webhook/…" in line and "200" in line


def test_the_log_filter_leaves_other_paths_alone():
    from proxy.logs import WebhookSecretFilter

    record = logging.LogRecord("django.channels.server", logging.INFO, __file__, 1, "HTTP %(method)s %(path)s",
                               ({"method": "GET", "path": "/proxy/launch/?mode=popup"},), None)
    WebhookSecretFilter().filter(record)
    assert record.getMessage() == "HTTP GET /proxy/launch/?mode=popup"


def test_runservers_logger_without_the_filter_is_W008(settings):
    """The test project installs the filter as the quickstart says; taken off, ``check`` says so."""
    from proxy.checks import check_access_log_masks_the_webhook_secret
    from proxy.logs import WebhookSecretFilter

    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    logger = logging.getLogger("django.channels.server")
    installed = [each for each in logger.filters if isinstance(each, WebhookSecretFilter)]
    assert installed and check_access_log_masks_the_webhook_secret() == []
    for each in installed:
        logger.removeFilter(each)
    try:
        assert [message.id for message in check_access_log_masks_the_webhook_secret()] == ["proxy.W008"]
        settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": ""}
        assert check_access_log_masks_the_webhook_secret() == []  # no secret, nothing to show
    finally:
        for each in installed:
            logger.addFilter(each)


@pytest.mark.parametrize("value", ["demo-webhook-secret-change-me", [SECRET, "demo-webhook-secret-change-me"]])
def test_the_demos_published_webhook_secret_is_W007_on_deploy(settings, value):
    from proxy.checks import check_webhook_secret_not_published

    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": value}
    assert [message.id for message in check_webhook_secret_not_published()] == ["proxy.W007"]
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    assert check_webhook_secret_not_published() == []


def test_djangos_request_log_leaves_out_the_webhooks_answers_and_masks_any_other_line_about_it():
    """``proxy.logs.RequestLogFilter`` (on ``django.request``, added by the app) in place of a private response flag."""
    from types import SimpleNamespace

    from proxy.logs import LOGGED_BY_THE_KIT, RequestLogFilter

    assert any(isinstance(each, RequestLogFilter) for each in logging.getLogger("django.request").filters)
    path = f"/proxy/webhook/{SECRET}/"

    def record(request, exc_info=None):
        made = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%s: %s", ("Forbidden", request.path),
                                 exc_info)
        made.request = request
        return made

    answered = record(SimpleNamespace(path=path, **{LOGGED_BY_THE_KIT: True}))
    assert RequestLogFilter().filter(answered) is False  # the view logged its own line, without the path
    try:
        raise RuntimeError("before the view")
    except RuntimeError:
        import sys

        failed = record(SimpleNamespace(path=path), sys.exc_info())
    assert RequestLogFilter().filter(failed) is True
    assert SECRET not in failed.getMessage() and failed.request is None  # no handler can mail the path
    other = record(SimpleNamespace(path="/elsewhere/"))
    assert RequestLogFilter().filter(other) is True and other.getMessage() == "Forbidden: /elsewhere/"
    assert other.request.path == "/elsewhere/"  # any other record is left as it is
