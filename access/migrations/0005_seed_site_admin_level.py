"""The site-admin level: membership of the Okta group ``mi-site-admins`` for up to an hour,
under the default manager-approval policy (like the IAM levels of 0002). Admins edit it in
Django admin; reversing removes it only if nothing was granted at it."""

from datetime import timedelta

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

NAME = "Site admin"


def create(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy = apps.get_model("approvals", "ApprovalPolicy").objects.get(slug="manager-approval")
    apps.get_model("access", "AccessLevel").objects.get_or_create(
        name=NAME,
        defaults={
            "kind": "okta_group",
            "iam_roles": [],
            "okta_group": "mi-site-admins",
            "description": "Site admin of the instance's application: membership of the Okta "
            "group its Sourcegraph trusts for site admins.",
            "max_duration": timedelta(hours=1),
            "approval_policy": policy,
            "ticket_required": False,
            "consent_required_for_production": False,
        },
    )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    apps.get_model("access", "AccessLevel").objects.filter(name=NAME, grants__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0004_site_admin_okta_group"),
        ("approvals", "0002_default_manager_policy"),
    ]

    operations = [migrations.RunPython(create, remove)]
