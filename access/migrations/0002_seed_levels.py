"""The two IAM levels of the first slice, under the default manager-approval policy.
Admins edit them in Django admin; reversing removes only levels nothing was granted at."""

from datetime import timedelta

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

LEVELS = [
    {
        "name": "SSH (OS Login)",
        "iam_roles": ["roles/compute.osAdminLogin"],
        "description": "SSH to the VM through IAP and OS Login, with sudo.",
    },
    {
        "name": "VM admin",
        "iam_roles": ["roles/compute.instanceAdmin.v1"],
        "description": "Manage the VM itself (stop, start, metadata, disks).",
    },
]


def create(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy = apps.get_model("approvals", "ApprovalPolicy").objects.get(slug="manager-approval")
    level_model = apps.get_model("access", "AccessLevel")
    for level in LEVELS:
        level_model.objects.get_or_create(
            name=level["name"],
            defaults={
                "kind": "gcp_iam",
                "iam_roles": level["iam_roles"],
                "description": level["description"],
                "max_duration": timedelta(hours=1),
                "approval_policy": policy,
                "ticket_required": False,
                "consent_required_for_production": False,
            },
        )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    level_model = apps.get_model("access", "AccessLevel")
    level_model.objects.filter(
        name__in=[level["name"] for level in LEVELS], grants__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
        ("approvals", "0002_default_manager_policy"),
    ]

    operations = [migrations.RunPython(create, remove)]
