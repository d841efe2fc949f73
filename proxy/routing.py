"""WebSocket routes; mount under AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))."""
from django.urls import path

from .consumers import EventsConsumer, LaunchConsumer

websocket_urlpatterns = [
    path("ws/proxy/launches/<uuid:launch_id>/", LaunchConsumer.as_asgi()),
    path("ws/proxy/events/", EventsConsumer.as_asgi()),
]
