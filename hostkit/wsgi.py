"""WSGI entry point (HTTP only; the kit's sockets need ASGI, see asgi.py)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostkit.settings")
application = get_wsgi_application()
