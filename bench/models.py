"""The one table the floors write: a received result, as any correct receiver must store it."""
from django.db import models


class FloorRow(models.Model):
    launch = models.CharField(max_length=64)
    message_id = models.CharField(max_length=64)
    result = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
