"""The approval policies of requests: a manager (the regional CE manager) approves; a
non-standard new instance adds a tech-review step; an appeal goes to an Admin, with a
reason. Seven days to decide. Admins edit them in Django admin; reversing removes only
policies nothing was filed under."""

from datetime import timedelta

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

POLICIES = [
    (
        "request-approval",
        "Request: manager approval",
        "The regional CE manager approves a request; the requester never counts.",
        [("Manager", ["mi-managers"], [], False)],
    ),
    (
        "request-approval-tech-review",
        "Request: manager approval and tech review",
        "A non-standard new instance: the manager approves, then tech review.",
        [
            ("Manager", ["mi-managers"], [], False),
            ("Tech review", ["mi-admins"], ["tech-review"], True),
        ],
    ),
    (
        "request-appeal",
        "Request: appeal to an Admin",
        "A denied request appealed once; an Admin decides, with a reason, for good.",
        [("Admin", ["mi-admins"], [], True)],
    ),
]


def create(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    step_model = apps.get_model("approvals", "ApprovalStep")
    for slug, name, description, steps in POLICIES:
        policy, created = policy_model.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "description": description, "ttl": timedelta(days=7)},
        )
        if not created:
            continue
        for position, (step_name, roles, groups, reason_required) in enumerate(steps, start=1):
            step_model.objects.create(
                policy=policy,
                position=position,
                name=step_name,
                reviewer_roles=roles,
                okta_groups=groups,
                quorum=1,
                reason_required=reason_required,
            )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    policy_model = apps.get_model("approvals", "ApprovalPolicy")
    slugs = [slug for slug, *_ in POLICIES]
    policy_model.objects.filter(slug__in=slugs, requests__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mi_requests", "0001_requests_workflow"),
        ("approvals", "0002_default_manager_policy"),
    ]

    operations = [migrations.RunPython(create, remove)]
