from django.apps import AppConfig


class HostkitConfig(AppConfig):
    name = "hostkit"
    verbose_name = "Example host"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import receivers  # noqa: F401  (connects the example install_completed receiver)
