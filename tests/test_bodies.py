"""One bounded body reader for every door (``proxy.bodies``): each door that reads a body refuses alike.

The doors: ``proxy:result`` and ``proxy:complete``'s POST (a result message), ``proxy:top_level`` and ORBIT's
close notice (a small form), the Marketplace webhook (a notification). Each has its own limit; over it, the
answer is ``too_large`` (413) with the same sentence; a body the client stopped sending is ``malformed`` (400),
never Django's 500.
"""
import io
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from proxy import bodies
from proxy.conf import proxy_settings
from proxy.models import Arrival, WebhookDelivery
from proxy.orbit import CLOSE_NOTICE_MAX_BYTES
from proxy.views import TOP_LEVEL_FORM_MAX_BYTES

from .test_top_level import refusal_code

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec-0123456789abcdef-current"
JSON = "application/json"


@dataclass
class Door:
    name: str
    path: str
    content_type: str
    limit: int
    page: bool = False  # answers with the kit's error page (a code in its markup), not JSON

    def refusal(self, response):
        """(status, code, the answer's text) of a refusal."""
        if self.page:
            return response.status_code, refusal_code(response), response.content.decode()
        return response.status_code, response.json()["code"], response.json()["message"]


@pytest.fixture(params=["result", "complete", "top_level", "orbit", "webhook"])
def door(request, installed, settings):
    settings.CYCLR_PROXY = {**settings.CYCLR_PROXY, "WEBHOOK_SECRET": SECRET}
    launch, _ = installed()
    form = bodies.FORM_MEDIA_TYPE
    return {
        "result": lambda: Door("result", reverse("proxy:result", args=[launch.pk]), JSON, proxy_settings.MAX_RESULT_BYTES),
        "complete": lambda: Door("complete", reverse("proxy:complete"), JSON, proxy_settings.MAX_RESULT_BYTES),
        "top_level": lambda: Door("top_level", reverse("proxy:top_level", args=[launch.pk]), form,
                                  TOP_LEVEL_FORM_MAX_BYTES, page=True),
        "orbit": lambda: Door("orbit", reverse("proxy:orbit"), form, CLOSE_NOTICE_MAX_BYTES),
        "webhook": lambda: Door("webhook", reverse("proxy:webhook", args=[SECRET]), JSON, proxy_settings.MAX_RESULT_BYTES),
    }[request.param]()


@pytest.fixture
def signed_in(user):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


class DroppedConnection(io.RawIOBase):
    """A request body whose client went away after sending part of it: reading it fails as a socket does."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise ConnectionResetError("the client went away")


def test_a_body_past_the_doors_limit_is_413_too_large_with_the_same_sentence(door, signed_in):
    body = b"x" * (door.limit + 1)
    status, code, text = door.refusal(signed_in.generic("POST", door.path, body, content_type=door.content_type))
    assert (status, code) == (413, "too_large")
    assert f"This request&#x27;s body is larger than the kit accepts here ({door.limit} bytes)." in text if door.page \
        else text == f"This request's body is larger than the kit accepts here ({door.limit} bytes)."
    assert not Arrival.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_body_that_cannot_be_read_to_its_end_is_400_malformed_not_a_server_error(door, signed_in):
    response = signed_in.generic("POST", door.path, b"x" * 10, content_type=door.content_type,
                                 **{"wsgi.input": DroppedConnection()})
    status, code, text = door.refusal(response)
    assert (status, code) == (400, "malformed")
    assert "could not be read to its end" in text
    assert not Arrival.objects.exists() and not WebhookDelivery.objects.exists()
