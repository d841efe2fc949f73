"""The kit's WebSocket routes.

Mount them in your ``asgi.py`` as
``AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([*websocket_urlpatterns, fallback_route])))``:
the consumers check the exact ``HOST_ORIGINS`` themselves (see ``proxy.consumers``).
``websocket_urlpatterns`` ends with a catch-all for the rest of ``ws/proxy/``, so a malformed
kit path (``ws/proxy/launches/not-a-uuid/``) is answered with an error frame and close code
4404 instead of the exception Channels' router raises for a path it cannot match.
``fallback_route`` does the same for every other path: put it last, after your own routes.
"""
from django.urls import path, re_path

from .consumers import EventsConsumer, LaunchConsumer, UnknownPathConsumer

websocket_urlpatterns = [
    path("ws/proxy/launches/<uuid:launch_id>/", LaunchConsumer.as_asgi()),
    path("ws/proxy/events/", EventsConsumer.as_asgi()),
    re_path(r"^ws/proxy/", UnknownPathConsumer.as_asgi()),
]

fallback_route = re_path(r"", UnknownPathConsumer.as_asgi())
