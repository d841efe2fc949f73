from django.apps import AppConfig


class ProxyConfig(AppConfig):
    name = "proxy"
    verbose_name = "Cyclr Marketplace proxy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the system checks, the settings reloader and the fork hooks.
        from . import checks, conf, forking  # noqa: F401
