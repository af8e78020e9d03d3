"""Approval policies in Django admin: Admins only, validated, audited by the admin site."""

from __future__ import annotations

from typing import Any

import pytest

from mi_admin.approvals.models import ApprovalPolicy
from mi_admin.audit.models import AuditEvent

ADD_URL = "/admin/approvals/approvalpolicy/add/"


def _form(**step: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "two-step",
        "name": "Two step",
        "description": "",
        "ttl": "12:00:00",
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "1",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "1",
        "steps-0-name": "Manager",
        "steps-0-reviewer_roles": ["mi-managers"],
        "steps-0-okta_groups": "",
        "steps-0-quorum": "1",
        "steps-1-position": "2",
        "steps-1-name": "Security",
        "steps-1-okta_groups": "security, sre-leads",
        "steps-1-quorum": "2",
        "steps-1-reason_required": "on",
    }
    data.update(step)
    return data


def test_an_admin_adds_a_two_step_policy_and_it_is_audited(client_for):
    # given an Admin; when they add a policy with two steps
    response = client_for("admin").post(ADD_URL, _form())
    # then it is saved with its steps, and the admin site audited the addition
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = ApprovalPolicy.objects.get(slug="two-step")
    steps = list(policy.steps.values_list("position", "reviewer_roles", "okta_groups", "quorum"))
    assert steps == [
        (1, ["mi-managers"], [], 1),
        (2, [], ["security", "sre-leads"], 2),
    ]
    assert AuditEvent.objects.filter(object_id=str(policy.pk), actor_label="admin").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"steps-1-okta_groups": ""}, "A step needs at least one reviewer role or Okta group."),
        ({"steps-1-quorum": "0"}, "greater than or equal to 1"),
        ({"steps-1-okta_groups": "a|b"}, "may not contain"),
    ],
)
def test_a_bad_step_is_refused_with_a_reason(client_for, override, message):
    response = client_for("admin").post(ADD_URL, _form(**override))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApprovalPolicy.objects.filter(slug="two-step").exists()


@pytest.mark.parametrize("persona_name", ["manager", "devops"])
def test_only_admins_edit_policies(client_for, persona_name):
    response = client_for(persona_name).post(ADD_URL, _form())
    # our 403 (Django admin's password form could never let an Okta user in)
    assert response.status_code == 403
    assert not ApprovalPolicy.objects.filter(slug="two-step").exists()
