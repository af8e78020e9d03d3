"""A grant's page tells its story in order, from the audit trail (one query however long)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access.choices import DeliveryState, GrantState
from access.models import AccessNotification
from access.notifications import WARNING_BEFORE, access_grant_warn, access_notification_deliver
from access.services import (
    access_extension_decided,
    access_grant_activation_begin,
    access_grant_activation_confirm,
    access_grant_decided,
    access_grant_end,
    access_grant_extend_request,
    access_grant_extension_confirm,
    access_grant_removal_verified,
)
from access.timeline import access_grant_timeline
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.services import approval_review_submit
from tests.access.conftest import make_instance, request_grant

pytestmark = pytest.mark.django_db


def _whole_life(persona, settings):
    """Requested, approved with a comment, active, warned, extended, revoked, removed."""
    settings.ACCESS_SLACK_WEBHOOK_URL = ""  # the messages are recorded, not posted
    grant = request_grant(persona("devops"), make_instance(), justification="disk full")
    assert grant.approval_request is not None
    approval_review_submit(
        request=grant.approval_request,
        reviewer=persona("manager"),
        decision=Decision.APPROVE,
        comment="go ahead",
    )
    grant.approval_request.refresh_from_db()
    access_grant_decided(grant.approval_request)
    access_grant_activation_begin(grant_pk=grant.pk)
    access_grant_activation_confirm(grant_pk=grant.pk)
    grant.refresh_from_db()
    assert grant.expires_at is not None
    assert access_grant_warn(grant_pk=grant.pk, now=grant.expires_at - WARNING_BEFORE)
    access_grant_extend_request(
        grant=grant, requester=persona("devops"), extra=timedelta(minutes=15), justification="j"
    )
    assert grant.extension_approval is not None
    approval_review_submit(
        request=grant.extension_approval, reviewer=persona("manager"), decision=Decision.APPROVE
    )
    grant.extension_approval.refresh_from_db()
    access_extension_decided(grant.extension_approval)
    access_grant_extension_confirm(
        grant_pk=grant.pk, expires_at=grant.expires_at + timedelta(minutes=15)
    )
    access_grant_end(
        grant=grant, actor=persona("admin"), state=GrantState.REVOKED, reason="incident over"
    )
    access_grant_removal_verified(grant_pk=grant.pk)
    for pk in AccessNotification.objects.filter(state=DeliveryState.PENDING).values_list(
        "pk", flat=True
    ):
        access_notification_deliver(notification_pk=pk)
    return grant


def test_the_timeline_tells_the_grant_in_order(persona, settings):
    # given a grant through its whole life
    grant = _whole_life(persona, settings)
    # when its timeline is read
    timeline = access_grant_timeline(grant=grant)
    # then every step is there, in order, with who did it
    assert [event.action for event in timeline] == [
        "access.grant.requested",
        "approval.reviewed",
        "access.grant.approved",
        "access.grant.activating",
        "access.grant.activated",
        "access.grant.extension_requested",
        "approval.reviewed",
        "access.grant.extension_approved",
        "access.grant.extended",
        "access.grant.revoked",
        "access.grant.binding_removed",
        # the holder's messages, delivered (recorded, notifications off) at the end here
        "access.grant.notified",
        "access.grant.notified",
        "access.grant.notified",
        "access.grant.notified",
    ]
    by_action = {event.action: event for event in timeline}
    assert timeline[1].title == "Review: approve (step 1)"
    assert timeline[1].detail == "go ahead"
    assert timeline[1].actor == "manager"
    assert by_action["access.grant.revoked"].actor == "admin"
    assert by_action["access.grant.revoked"].detail == "incident over"
    told = [e.title for e in timeline if e.action == "access.grant.notified"]
    assert told == [
        "Holder told: request decided",
        "Holder told: expiry warning",
        "Holder told: extension decided",
        "Holder told: grant ended",
    ]
    assert [e.at for e in timeline] == sorted(e.at for e in timeline)


def test_the_grant_page_shows_the_timeline_at_the_same_cost(persona, settings, client_for):
    # given a grant through its whole life
    grant = _whole_life(persona, settings)
    client = client_for("manager")
    url = reverse("access:grant", args=[grant.pk])
    client.get(url)  # warm per-process caches
    # when its page is opened
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url).content.decode()
    # then the timeline shows each step, in order, for the same query count as a new grant
    actions = re.findall(r'data-testid="timeline-event" data-action="([^"]+)"', page)
    assert actions[0] == "access.grant.requested"
    assert "access.grant.binding_removed" in actions
    assert actions.index("access.grant.revoked") < actions.index("access.grant.binding_removed")
    assert "Removal verified: the binding is gone" in page
    assert len(captured.captured_queries) == 7
