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

from instances.choices import OperationState
from instances.models import Release
from mi_admin.accounts.checks import iter_patterns
from mi_admin.accounts.rules import RULE_ATTR, Rule
from mi_admin.api.checks import view_methods
from tests.api.conftest import API_PERSONAS, MACHINE
from tests.instances.factories import make_instance, make_operation

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
}


@pytest.fixture
def matrix_objects(db):
    instance = make_instance("acme-prod")
    make_operation(instance, state=OperationState.SUCCEEDED, pk=900001)
    Release.objects.create(version="6.10.0", released_at="2026-03-05T12:00:00Z")


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
