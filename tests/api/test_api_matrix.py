"""Every API endpoint x method x persona against the expected status, through a bearer token
and (for people) the browser session: the same rules as the UI, from the role table.

An API view or method without a row here fails ``test_every_endpoint_method_has_a_row``;
a method without a rule fails ``manage.py check`` (mi_admin.E010) and answers 403.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import reverse

from access.models import AccessGrant
from access.services import SUBJECT_KIND
from instances.choices import OperationState
from instances.models import Release
from mi_admin.accounts.checks import iter_patterns
from mi_admin.accounts.rules import RULE_ATTR, Rule
from mi_admin.api.checks import view_methods
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.services import approval_request_create
from rollouts.models import Rollout
from tests.access.conftest import seed_access_levels
from tests.access.factories import make_access_grant
from tests.api.conftest import API_PERSONAS, MACHINE
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance, make_operation
from tests.mi_requests.factories import make_request

UNAUTHENTICATED = 401
DENY = 403
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Row:
    expect: dict[str, int]
    kwargs: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def everyone(code: int) -> dict[str, int]:
    expect = dict.fromkeys(API_PERSONAS, code)
    expect.update(anonymous=UNAUTHENTICATED, stranger=DENY)
    return expect


def only(code: int, *allowed: str) -> dict[str, int]:
    expect = dict.fromkeys(API_PERSONAS, DENY)
    expect["anonymous"] = UNAUTHENTICATED
    expect.update(dict.fromkeys(allowed, code))
    return expect


SLUG = {"slug": "acme-prod"}
GRANT = {"pk": 900002}
ROLLOUT = {"pk": 900004}
OPERATORS = ("devops", "admin", MACHINE)  # the machine client mi-ci is DevOps

# (URL name, method) → expected status per persona. POST bodies are empty or incomplete on
# purpose: who may act reaches the view and is told what is missing (400), except sync,
# which needs nothing and starts (202).
MATRIX: dict[tuple[str, str], Row] = {
    ("api:schema", "GET"): Row(everyone(200)),
    ("api:docs", "GET"): Row(everyone(200)),
    ("instances_api:instance_list", "GET"): Row(everyone(200)),
    ("instances_api:instance_detail", "GET"): Row(everyone(200), SLUG),
    ("instances_api:release_list", "GET"): Row(everyone(200)),
    ("instances_api:operation_detail", "GET"): Row(everyone(200), {"pk": 900001}),
    ("instances_api:instance_sync", "POST"): Row(only(202, *OPERATORS), SLUG),
    ("instances_api:instance_upgrade", "POST"): Row(only(400, *OPERATORS), SLUG, {}),
    ("instances_api:instance_suspend", "POST"): Row(only(400, *OPERATORS), SLUG, {}),
    ("instances_api:instance_resume", "POST"): Row(only(400, *OPERATORS), SLUG, {}),
    ("instances_api:instance_teardown", "POST"): Row(only(400, *OPERATORS), SLUG, {}),
    # Access: anyone with a role reads grants; operators request (an empty body: 400);
    # anyone with a role may try a review (the engine decides who reviews: an empty body
    # is a 400 first); ending is the holder's (devops: the grant is still pending, 400) or
    # a revoke by a manager or admin (no reason: 400).
    ("access_api:grant_list", "GET"): Row(everyone(200)),
    ("access_api:grant_list", "POST"): Row(only(400, *OPERATORS), body={}),
    ("access_api:grant_detail", "GET"): Row(everyone(200), GRANT),
    ("access_api:grant_review", "POST"): Row(everyone(400), GRANT, {}),
    ("access_api:grant_end", "POST"): Row(only(400, "devops", "manager", "admin"), GRANT, {}),
    # Rollouts: anyone with a role reads; operators plan (an empty body: 400) and act on the
    # planned rollout #900004: start succeeds, pause and abort want a reason, resume wants a
    # paused rollout (400, the service's sentence).
    ("rollouts_api:rollout_list", "GET"): Row(everyone(200)),
    ("rollouts_api:rollout_list", "POST"): Row(only(400, *OPERATORS), body={}),
    ("rollouts_api:rollout_detail", "GET"): Row(everyone(200), ROLLOUT),
    ("rollouts_api:rollout_start", "POST"): Row(only(200, *OPERATORS), ROLLOUT, {}),
    ("rollouts_api:rollout_pause", "POST"): Row(only(400, *OPERATORS), ROLLOUT, {}),
    ("rollouts_api:rollout_resume", "POST"): Row(only(400, *OPERATORS), ROLLOUT, {}),
    ("rollouts_api:rollout_abort", "POST"): Row(only(400, *OPERATORS), ROLLOUT, {}),
    ("approvals_api:approval_list", "GET"): Row(everyone(200)),
    ("approvals_api:approval_detail", "GET"): Row(everyone(200), {"pk": 900003}),
    ("audit_api:event_list", "GET"): Row(only(200, *OPERATORS)),
    ("audit_api:event_export", "GET"): Row(only(200, *OPERATORS)),
}

# Requests: everyone with a role files requests and sees #900004 (ce's own; the others see
# every request); an empty filing is a 400, and so is a comment with no text (the service).
REQUEST = {"pk": 900004}
MATRIX.update(
    {
        ("mi_requests_api:request_list", "GET"): Row(everyone(200)),
        ("mi_requests_api:request_list", "POST"): Row(everyone(400), body={}),
        ("mi_requests_api:request_detail", "GET"): Row(everyone(200), REQUEST),
        ("mi_requests_api:request_act", "POST"): Row(everyone(400), REQUEST, {"action": "comment"}),
        # Health: anyone with a role reads incidents and uptime.
        ("health_api:incident_list", "GET"): Row(everyone(200)),
        ("health_api:instance_uptime", "GET"): Row(everyone(200), SLUG),
    }
)


@pytest.fixture
def matrix_objects(db):
    instance = make_instance("acme-prod")
    make_operation(instance, state=OperationState.SUCCEEDED, pk=900001)
    release = Release.objects.create(version="6.10.0", released_at="2026-03-05T12:00:00Z")
    Rollout.objects.create(pk=900004, release=release)
    # A pending grant of devops with its approval request (#900003) waiting for a manager.
    seed_access_levels()
    grant = make_access_grant(make_persona("devops"), instance, pk=900002)
    approval = approval_request_create(
        policy=grant.level.approval_policy,
        requester=grant.requester,
        subject_kind=SUBJECT_KIND,
        subject_id=str(grant.pk),
        subject_summary="matrix",
    )
    ApprovalRequest.objects.filter(pk=approval.pk).update(id=900003)
    AccessGrant.objects.filter(pk=grant.pk).update(approval_request_id=900003)
    make_request(make_persona("ce"), instance, pk=900004)


def _api_endpoints() -> list[tuple[str, str]]:
    found = []
    for _route, name, pattern in iter_patterns():
        view = pattern.callback
        if getattr(view, RULE_ATTR, None) is Rule.API:
            found += [(name, method) for method in view_methods(view.cls)]  # type: ignore[attr-defined]
    return found


def test_every_endpoint_method_has_a_row():
    # given every API view and the methods it answers
    endpoints = _api_endpoints()
    # then each (name, method) has a row, and no row names something gone
    assert endpoints, "no API views found"
    missing = sorted(set(endpoints) - set(MATRIX))
    stale = sorted(set(MATRIX) - set(endpoints))
    assert missing == [], f"add rows to MATRIX for: {missing}"
    assert stale == [], f"rows for endpoints that no longer exist: {stale}"


CASES = [
    (name, method, persona, transport)
    for (name, method) in sorted(MATRIX)
    for persona in API_PERSONAS
    for transport in (("bearer", "session") if persona not in ("anonymous", MACHINE) else ("-",))
]


@pytest.mark.usefixtures("matrix_objects")
@pytest.mark.parametrize(("url_name", "method", "persona", "transport"), CASES)
def test_endpoint_by_persona(api_client_for, url_name, method, persona, transport):
    # given a persona (token or session) and an endpoint
    row = MATRIX[(url_name, method)]
    client = api_client_for(persona, transport if transport != "-" else "bearer")
    url = reverse(url_name, kwargs=row.kwargs)
    # when they call it
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(
            url, data=json.dumps(row.body or {}), content_type="application/json"
        )
    # then the status is the table's, and every refusal is problem+json
    assert response.status_code == row.expect[persona], (
        f"{persona} ({transport}) {method} {url}: {response.content[:300]!r}"
    )
    if response.status_code >= 400:
        assert response["Content-Type"] == PROBLEM
        problem = response.json()
        assert problem["status"] == response.status_code
        assert problem["title"]
        assert problem["detail"]
    if response.status_code == UNAUTHENTICATED:
        assert response["WWW-Authenticate"].startswith("Bearer")
