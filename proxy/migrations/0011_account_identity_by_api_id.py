"""Accounts identified by the API id the host chose; the GUID only once learned; Paused is Stopped.

Cyclr's pages document the mint answers' AccountId as the account's API id, which earlier versions stored
as the GUID: such a stored value (equal to the API id, or not a GUID at all) is cleared, to be learned again
from a notification or a verified result. Installations are keyed by API id and package (an installation
that had none takes its GUID, which is what Cyclr gives an account created without one). A cycle recorded
as Paused is Stopped, with Cyclr's word kept beside it.
"""
import re

from django.db import migrations, models


GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _guid_or_blank(value, api_id):
    if not GUID.fullmatch(value or "") or value.lower() == (api_id or "").lower():
        return ""
    return value.lower()


def forwards(apps, schema_editor):
    Launch = apps.get_model("proxy", "Launch")
    Installation = apps.get_model("proxy", "Installation")
    InstallationCycle = apps.get_model("proxy", "InstallationCycle")
    for launch in Launch.objects.exclude(cyclr_account_id="").only("pk", "cyclr_account_id", "account_api_id").iterator():
        guid = _guid_or_blank(launch.cyclr_account_id, launch.account_api_id)
        if guid != launch.cyclr_account_id:
            Launch.objects.filter(pk=launch.pk).update(cyclr_account_id=guid)
    for installation in Installation.objects.all().iterator():
        api_id = installation.account_api_id or installation.cyclr_account_id
        guid = _guid_or_blank(installation.cyclr_account_id, installation.account_api_id)
        Installation.objects.filter(pk=installation.pk).update(account_api_id=api_id, cyclr_account_id=guid)
    InstallationCycle.objects.filter(status="Paused").update(status="Stopped", cyclr_status="Paused")


class Migration(migrations.Migration):

    dependencies = [
        ('proxy', '0010_installationchange_signal_claim'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='installation',
            name='proxy_installation_account_package',
        ),
        migrations.AddField(
            model_name='installationcycle',
            name='cyclr_status',
            field=models.CharField(blank=True, help_text="Cyclr's own word for the status, as last reported.", max_length=16),
        ),
        migrations.AlterField(
            model_name='installation',
            name='account_api_id',
            field=models.CharField(max_length=255, verbose_name='account API id'),
        ),
        migrations.AlterField(
            model_name='installation',
            name='cyclr_account_id',
            field=models.CharField(blank=True, max_length=255, verbose_name='Cyclr account GUID'),
        ),
        migrations.AlterField(
            model_name='installationcycle',
            name='status',
            field=models.CharField(blank=True, help_text="Active or Stopped (the API's Paused is Stopped).", max_length=16),
        ),
        migrations.AlterField(
            model_name='launch',
            name='cyclr_account_id',
            field=models.CharField(blank=True, help_text="Cyclr's internal id for the account, once learned; empty until then.", max_length=255, verbose_name='Cyclr account GUID'),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='installation',
            constraint=models.UniqueConstraint(fields=('account_api_id', 'package_id'), name='proxy_installation_api_id_package'),
        ),
    ]
