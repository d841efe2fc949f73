"""ASGI applications wired right and wrong, for the WebSocket-route check (proxy.E102/E103)."""
from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application
from django.urls import path

import proxy.routing

django_asgi_app = get_asgi_application()
routes = proxy.routing.websocket_urlpatterns

# As the README wires it.
readme = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(routes))),
})
# Nested under an empty prefix, beside routes of the host's own: still reaches the kit's consumers.
nested = ProtocolTypeRouter({"websocket": AuthMiddlewareStack(URLRouter([path("", URLRouter(routes))]))})
# Django's startproject asgi.py: `application = get_asgi_application()`, HTTP only.
startproject = django_asgi_app
# No WebSockets at all.
http_only = ProtocolTypeRouter({"http": django_asgi_app})
# The kit's routes under a prefix of their own: the pages connect to /ws/proxy/..., which no longer matches.
prefixed = ProtocolTypeRouter({"websocket": AuthMiddlewareStack(URLRouter([path("sockets/", URLRouter(routes))]))})
# Only one of the two routes.
half = ProtocolTypeRouter({"websocket": AuthMiddlewareStack(URLRouter(routes[:1]))})


async def opaque(scope, receive, send):
    """An application the check cannot see into."""


not_importable = "tests.asgi_variants.no_such_application"
