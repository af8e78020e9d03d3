"""The approval policy of an emergency release's schedule waiver: one Admin approves, with a
comment; the requester never counts (the engine's rule). Admins may edit it in Django
admin; reversing removes it only if nothing was filed under it."""

from datetime import timedelta

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

SLUG = "admin-schedule-waiver"


def create(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    step_model = apps.get_model("approvals", "ApprovalStep")
    policy, created = policy_model.objects.get_or_create(
        slug=SLUG,
        defaults={
            "name": "Emergency schedule waiver",
            "description": (
                "An emergency release's rollout skips the staged schedule only once an Admin "
                "(never the requester) approves, saying why."
            ),
            "ttl": timedelta(hours=24),
        },
    )
    if created:
        step_model.objects.create(
            policy=policy,
            position=1,
            name="Admin",
            reviewer_roles=["mi-admins"],
            okta_groups=[],
            quorum=1,
            reason_required=True,
        )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    policy_model.objects.filter(slug=SLUG, requests__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rollouts", "0003_supersede_share_waiver"),
        ("approvals", "0002_default_manager_policy"),
    ]

    operations = [migrations.RunPython(create, remove)]
