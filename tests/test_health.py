"""``proxy:health``: the database and a channel-layer round trip, login-free, never cached."""
import socket

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

HEALTH_URL = reverse("proxy:health")


def unreachable_redis_layer(url):
    return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}}


def closed_port():
    """A local port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_health_is_ok_when_the_database_and_the_layer_answer():
    response = Client().get(HEALTH_URL)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": {"ok": True}, "channel_layer": {"ok": True}}}


def test_health_is_never_cached():
    response = Client().get(HEALTH_URL)
    cache_control = response["Cache-Control"]
    assert "no-cache" in cache_control and "no-store" in cache_control and "max-age=0" in cache_control


def test_health_refuses_post():
    assert Client().post(HEALTH_URL).status_code == 405


def test_health_is_503_naming_the_layer_when_redis_refuses(settings):
    settings.CHANNEL_LAYERS = unreachable_redis_layer(f"redis://127.0.0.1:{closed_port()}/0")
    response = Client().get(HEALTH_URL)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["channel_layer"]
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["channel_layer"]["code"] == "channel_layer_unavailable"
    assert "127.0.0.1" not in response.content.decode()  # names what failed, not how


def test_health_is_503_when_the_layer_does_not_answer_in_time(settings):
    # A socket that accepts connections (the kernel's backlog) but never replies: Redis hung.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        settings.CHANNEL_LAYERS = unreachable_redis_layer(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        response = Client().get(HEALTH_URL)
    assert response.status_code == 503
    assert response.json()["checks"]["channel_layer"]["code"] == "channel_layer_timeout"


def test_health_answers_without_a_login_under_login_required_middleware(settings, django_user_model):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    client = Client()
    # The middleware is really on: a page with no login rule of its own now sends a visitor to sign in.
    assert client.get(reverse("home"))["Location"].startswith(reverse(settings.LOGIN_URL))
    response = client.get(HEALTH_URL)
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_health_does_not_need_a_session():
    response = Client().get(HEALTH_URL)
    assert settings.SESSION_COOKIE_NAME not in response.cookies
