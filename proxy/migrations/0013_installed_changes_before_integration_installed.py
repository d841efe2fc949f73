"""``integration_installed`` is new: the installs recorded before it, which no launch explained, are past news.

Without this, ``proxy_replay`` would find their ``installed`` changes unsignalled and send the new signal for every
one of them, however old. They are marked as if sent when they were made; from now on each such change sends it.
"""
from django.db import migrations
from django.db.models import F


def mark_past_installs_signalled(apps, schema_editor):
    InstallationChange = apps.get_model("proxy", "InstallationChange")
    (InstallationChange.objects.filter(kind="installed", signal_sent_at__isnull=True).exclude(source="install")
     .update(signal_sent_at=F("created_at")))


class Migration(migrations.Migration):

    dependencies = [
        ("proxy", "0012_arrival_refusals"),
    ]

    operations = [
        migrations.RunPython(mark_past_installs_signalled, migrations.RunPython.noop),
    ]
