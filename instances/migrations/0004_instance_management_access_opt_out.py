"""The customer's opt-out of management access: no access grant on the instance."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("instances", "0003_operation_upgrade_slot")]

    operations = [
        migrations.AddField(
            model_name="instance",
            name="management_access_opt_out",
            field=models.BooleanField(
                default=False,
                help_text="No access level can be granted on this instance while set.",
                verbose_name="customer opted out of management access",
            ),
        ),
    ]
