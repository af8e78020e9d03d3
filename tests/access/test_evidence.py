"""Evidence for access reviews: the fleet-wide list and its CSV/JSON export say who had what
on which instance, when, why, approved by whom, ended how, removal verified when."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from access.choices import GrantState
from access.models import AccessGrant
from access.services import (
    access_grant_activation_begin,
    access_grant_activation_confirm,
    access_grant_decided,
    access_grant_end,
    access_grant_removal_verified,
)
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.services import approval_review_submit
from tests.access.conftest import make_instance, request_grant
from tests.access.factories import make_access_grant

pytestmark = pytest.mark.django_db


def _revoked_grant(persona, django_capture_on_commit_callbacks) -> AccessGrant:
    """A grant through its whole life with the real services: approved by the manager,
    active, revoked by the admin, its removal verified."""
    grant = request_grant(persona("devops"), make_instance(), justification="disk full")
    assert grant.approval_request is not None
    with django_capture_on_commit_callbacks(execute=False):
        approval_review_submit(
            request=grant.approval_request, reviewer=persona("manager"), decision=Decision.APPROVE
        )
    grant.approval_request.refresh_from_db()
    access_grant_decided(grant.approval_request)
    access_grant_activation_begin(grant_pk=grant.pk)
    access_grant_activation_confirm(grant_pk=grant.pk)
    access_grant_end(
        grant=grant, actor=persona("admin"), state=GrantState.REVOKED, reason="incident over"
    )
    access_grant_removal_verified(grant_pk=grant.pk)
    grant.refresh_from_db()
    return grant


def test_the_export_tells_the_whole_story_of_a_grant(
    client_for, persona, django_capture_on_commit_callbacks
):
    # given a revoked grant, and an older one that ended before the period
    grant = _revoked_grant(persona, django_capture_on_commit_callbacks)
    old = make_access_grant(persona("devops"), make_instance("old-one"))
    long_ago = timezone.now() - timedelta(days=200)
    AccessGrant.objects.filter(pk=old.pk).update(
        state=GrantState.EXPIRED, created_at=long_ago, ended_at=long_ago + timedelta(hours=1)
    )
    since = (timezone.now() - timedelta(days=90)).strftime("%Y-%m-%dT%H:%MZ")
    client = client_for("admin")
    # when the admin exports the last 90 days as CSV and as JSON
    url = reverse("access:grant_export", args=["csv"])
    response = client.get(url, {"since": since})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    as_json = json.loads(
        b"".join(
            client.get(
                reverse("access:grant_export", args=["json"]), {"since": since}
            ).streaming_content
        )
    )
    # then only the grant open in the period is there, with its whole story
    assert [row["grant"] for row in rows] == [str(grant.pk)]
    row = as_json[0]
    assert len(as_json) == 1
    assert row["person"] == "Devops Persona"
    assert row["member"] == "user:devops@example.com"
    assert row["instance"] == "acme-prod"
    assert row["roles"] == ["roles/compute.osAdminLogin"]
    assert row["justification"] == "disk full"
    assert row["approved_by"] == ["Manager Persona"]
    assert row["state"] == GrantState.REVOKED
    assert row["ended_by"] == "Admin Persona"
    assert row["end_reason"] == "incident over"
    assert row["activated_at"] is not None
    assert row["binding_removal_verified_at"] is not None


def test_a_bad_period_is_refused_with_the_reason(client_for):
    response = client_for("devops").get(
        reverse("access:grant_export", args=["csv"]), {"since": "yesterday"}
    )
    assert response.status_code == 400
    assert "since" in response.content.decode()


def test_the_list_costs_the_same_at_any_size(client_for, persona):
    # given one grant with its approval request, then sixty more on as many instances
    devops = persona("devops")
    request_grant(devops, make_instance())
    client = client_for("manager")
    url = reverse("access:grant_list")
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    small = count()
    for n in range(60):
        request_grant(devops, make_instance(f"more-{n}"))
    large = count()
    # then both cost the baseline: session, user, groups; count; page; the page's approvals
    assert (small, large) == (6, 6)
