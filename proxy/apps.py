from django.apps import AppConfig


class ProxyConfig(AppConfig):
    name = "proxy"
    verbose_name = "Cyclr Marketplace proxy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the system checks and the settings reloader.
        from . import checks, conf  # noqa: F401
        from .logs import install_request_log_filter

        install_request_log_filter()  # Django's request log never quotes the webhook's secret
