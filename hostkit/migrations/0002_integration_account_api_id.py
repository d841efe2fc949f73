"""The example host's integrations name their Cyclr account by the API id the site chose (proxy.accounts)."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("hostkit", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="integration", old_name="cyclr_account_id", new_name="account_api_id"),
        migrations.AlterField(model_name="integration", name="account_api_id", field=models.CharField(max_length=255)),
    ]
