"""End to end over the API: DevOps requests access with a real token from the local IdP
(authorization code + PKCE, as `mi login` gets it), a manager approves with theirs, and the
real worker activates the grant on the fleet simulator's VM."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from access.choices import GrantState
from access.models import AccessGrant
from mi_admin.audit.models import AuditEvent
from tests.access.conftest import (
    bindings_of,
    grant_state,
    make_instance,
    seed_access_levels,
    sim_vm,
    wait_until,
)
from tests.api.test_idp_tokens import pkce_login_token

pytestmark = pytest.mark.django_db(transaction=True)


def _post(client: Client, url: str, body: dict) -> dict:
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def test_request_approve_and_the_grant_becomes_active(api_settings, celery_worker, fleetsim):
    # given an instance whose VM is in the simulator, and real tokens of devops and a manager
    seed_access_levels()
    instance = make_instance("acme-prod")
    sim_vm(fleetsim, instance)
    devops = Client(HTTP_AUTHORIZATION=f"Bearer {pkce_login_token('devops')}")
    manager = Client(HTTP_AUTHORIZATION=f"Bearer {pkce_login_token('manager')}")
    # when devops requests 30 minutes of SSH through the API
    grant = _post(
        devops,
        reverse("access_api:grant_list"),
        {"instance": "acme-prod", "level": "ssh", "minutes": 30, "justification": "disk full"},
    )
    assert grant["state"] == "pending"
    # and the manager finds it in their inbox and approves it
    inbox = manager.get(reverse("approvals_api:approval_list")).json()["results"]
    assert [row["id"] for row in inbox] == [grant["approval_request"]]
    reviewed = _post(
        manager,
        reverse("access_api:grant_review", kwargs={"pk": grant["id"]}),
        {"decision": "approve", "comment": "go"},
    )
    # then the answer already shows it approved, and the worker makes it active with its
    # binding on the VM
    assert reviewed["state"] == "approved"
    stored = AccessGrant.objects.get(pk=grant["id"])
    wait_until(lambda: grant_state(stored) == GrantState.ACTIVE, what="grant active")
    assert [b.role for b in bindings_of(instance, stored)] == ["roles/compute.osAdminLogin"]
    active = devops.get(reverse("access_api:grant_detail", kwargs={"pk": grant["id"]})).json()
    assert active["state"] == "active"
    assert active["activated_at"] is not None
    assert active["expires_at"] is not None
    # and both steps are audited as the tokens' people and client
    requested = AuditEvent.objects.get(action="access.grant.requested")
    assert requested.actor_label.endswith("[api sub=devops@example.com cid=mi-cli]")
    review = AuditEvent.objects.get(action="approval.reviewed")
    assert review.actor_label.endswith("[api sub=manager@example.com cid=mi-cli]")
