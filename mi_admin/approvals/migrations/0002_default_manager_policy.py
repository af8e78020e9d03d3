"""The default policy: one manager's approval, 24 hours to decide. Admins edit it in Django
admin; reversing the migration removes it only if nothing was filed under it."""

from datetime import timedelta

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

SLUG = "manager-approval"


def create(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    step_model = apps.get_model("approvals", "ApprovalStep")
    policy, created = policy_model.objects.get_or_create(
        slug=SLUG,
        defaults={
            "name": "Manager approval",
            "description": "One manager approves; the requester never counts.",
            "ttl": timedelta(hours=24),
        },
    )
    if created:
        step_model.objects.create(
            policy=policy,
            position=1,
            name="Manager",
            reviewer_roles=["mi-managers"],
            okta_groups=[],
            quorum=1,
            reason_required=False,
        )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    policy_model.objects.filter(slug=SLUG, requests__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
