"""ASGI entry point: HTTP through Django, WebSockets through the kit's routes."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostkit.settings")
# Build the Django application (and so populate the app registry) before importing
# anything that touches models, such as the consumers behind the routes.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

import proxy.routing  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # AllowedHostsOriginValidator checks host names against ALLOWED_HOSTS; the kit's consumers
        # then check the exact origin (scheme, host, port) against CYCLR_PROXY["HOST_ORIGINS"].
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([*proxy.routing.websocket_urlpatterns, proxy.routing.fallback_route]))
        ),
    }
)
