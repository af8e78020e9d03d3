"""An operation's subject within its target (e.g. one access grant): two grants on one
instance each get their own operation, while repeats for one grant still fold into one."""

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("instances", "0004_instance_management_access_opt_out")]

    operations = [
        migrations.RemoveConstraint(
            model_name="operation",
            name="one_active_operation_per_kind_and_target",
        ),
        migrations.AddField(
            model_name="operation",
            name="subject",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddConstraint(
            model_name="operation",
            constraint=models.UniqueConstraint(
                django.db.models.functions.comparison.Coalesce(
                    models.F("instance"), models.Value(0)
                ),
                models.F("kind"),
                models.F("subject"),
                condition=models.Q(("state__in", ("pending", "running"))),
                name="one_active_operation_per_kind_target_subject",
                violation_error_message="An operation of this kind is already under way here.",
            ),
        ),
    ]
