"""What the example host keeps of an install: one row per completed launch."""
from django.conf import settings
from django.db import models


class Integration(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="integrations")
    launch_id = models.UUIDField(unique=True)
    # The Cyclr account, by the API id the site chose for it (proxy.accounts).
    account_api_id = models.CharField(max_length=255)
    package_id = models.PositiveIntegerField(null=True)
    message = models.CharField(max_length=2000, blank=True)
    # [{"id", "name", "status"}]; webhook URLs are secrets and are not copied here.
    cycles = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    installed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-installed_at"]

    def __str__(self):
        return f"Package {self.package_id} for {self.user}"

    def as_json(self):
        return {
            "launch": str(self.launch_id),
            "package_id": self.package_id,
            "message": self.message,
            "cycles": self.cycles,
            "errors": self.errors,
            "installed_at": self.installed_at.isoformat(),
        }
