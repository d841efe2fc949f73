"""One ASGI application serving the kit (``hostkit``'s routes) and the floors, in the same process."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

import proxy.routing  # noqa: E402

from . import floors  # noqa: E402

# The floors sit behind the same middleware as the kit's routes: the same session lookup per socket.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter([
            *proxy.routing.websocket_urlpatterns,
            path("ws/bench/floor/insert/", floors.InsertFloor.as_asgi()),
            path("ws/bench/floor/get/", floors.GetFloor.as_asgi()),
            path("ws/bench/floor/idle/", floors.IdleFloor.as_asgi()),
            path("ws/bench/floor/verdict/", floors.VerdictFloor.as_asgi()),
            path("ws/bench/floor/verdicts/", floors.VerdictEventsFloor.as_asgi()),
            proxy.routing.fallback_route,
        ]))),
    }
)
