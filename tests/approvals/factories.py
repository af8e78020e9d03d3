"""An approval request written directly (no subject kind registered): for tests of pages that
only need one to exist, such as the authorization matrix and the query baselines."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from mi_admin.accounts.models import User
from mi_admin.approvals.models import ApprovalPolicy, ApprovalRequest, pack_groups


def make_approval_request(requester: User, **fields: Any) -> ApprovalRequest:
    """A pending request under the seeded manager-approval policy."""
    # Seeded by migration 0002; a flush by an earlier transactional test removes it.
    policy, created = ApprovalPolicy.objects.get_or_create(
        slug="manager-approval", defaults={"name": "Manager approval"}
    )
    if created:
        policy.steps.create(position=1, name="Manager", reviewer_roles=["mi-managers"])
    steps = [step.snapshot() for step in policy.steps.order_by("position")]
    now = timezone.now()
    values: dict[str, Any] = {
        "policy": policy,
        "policy_name": policy.name,
        "steps": steps,
        "requester": requester,
        "subject_kind": "test.subject",
        "subject_id": "1",
        "subject_summary": "Matrix subject",
        "created_at": now,
        "expires_at": now + policy.ttl,
        "awaiting_groups": pack_groups(steps[0]["roles"] + steps[0]["groups"]),
    }
    values.update(fields)
    return ApprovalRequest.objects.create(**values)
