"""The review context where a reviewer decides: the approval page's access panel (registered
by access; the engine's page never imports it) and the reviewer's Slack message."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from access.choices import GrantState
from access.models import AccessGrant
from mi_admin.approvals.slack import reviewers_notify
from tests.access.conftest import level, make_instance, request_grant
from tests.approvals.factories import make_approval_request

pytestmark = pytest.mark.django_db


def _context(persona) -> AccessGrant:
    """Devops asks for SSH on acme-prod with a ticket; they had a grant on it last month;
    the admin holds access on it now."""
    devops, admin = persona("devops"), persona("admin")
    instance = make_instance()
    now = timezone.now()
    past = AccessGrant.objects.create(
        requester=devops,
        instance=instance,
        level=level(),
        member="user:devops@example.com",
        justification="last month's outage",
        duration=timedelta(minutes=30),
        requested_start=now,
        state=GrantState.EXPIRED,
    )
    AccessGrant.objects.filter(pk=past.pk).update(created_at=now - timedelta(days=30))
    AccessGrant.objects.create(
        requester=admin,
        instance=instance,
        level=level(),
        member="user:admin@example.com",
        justification="on call",
        duration=timedelta(minutes=30),
        requested_start=now,
        state=GrantState.ACTIVE,
        activated_at=now,
        expires_at=now + timedelta(minutes=25),
    )
    return request_grant(
        devops,
        instance,
        justification="Disk full on the VM",
        ticket_url="https://tickets.example.com/OPS-7",
    )


def test_the_approval_page_shows_the_review_context(persona, client_for):
    # given an access request with history and another holder
    grant = _context(persona)
    assert grant.approval_request is not None
    # when a manager opens its approval page
    page = client_for("manager").get(f"/approvals/{grant.approval_request.pk}/")
    # then the access panel shows requester, instance (customer, kind, health), level and
    # roles, justification, ticket, the recent grant and who else holds access
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="access-review"' in html
    for expected in (
        "devops@example.com",
        "acme-prod",
        str(grant.instance.customer),
        grant.instance.get_kind_display(),
        "roles/compute.osAdminLogin",
        "Disk full on the VM",
        "https://tickets.example.com/OPS-7",
        'data-col="health"',
        "Admin Persona (SSH (OS Login),",
        "<dd>30 min, start",  # a span, not "0:30:00"
    ):
        assert expected in html, expected
    assert html.count('data-testid="recent-grant"') == 1
    assert html.count('data-testid="other-active"') == 1


def test_a_request_about_something_else_has_no_access_panel(persona, client_for):
    # given an approval request of another subject kind, whose id is also a grant's
    grant = request_grant(persona("devops"), make_instance())
    request = make_approval_request(persona("devops"), subject_id=str(grant.pk))
    # when its page is opened; then no access panel is there
    page = client_for("manager").get(f"/approvals/{request.pk}/")
    assert page.status_code == 200
    assert 'data-testid="access-review"' not in page.content.decode()


def test_the_reviewer_message_carries_the_same_context(persona, settings, http_receiver):
    # given Slack approvals on, and the access request
    settings.SLACK_APPROVALS_ENABLED = True
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}/services/T/B/x"
    grant = _context(persona)
    assert grant.approval_request is not None
    # when the reviewers are told
    assert reviewers_notify(request_pk=grant.approval_request.pk)
    # then the message's text names the context, with the link to the approval page
    message = json.dumps(http_receiver.requests[0].json())
    for expected in (
        "*Instance*: acme-prod",
        "roles/compute.osAdminLogin",
        "*Justification*: Disk full on the VM",
        "*Ticket*: https://tickets.example.com/OPS-7",
        "*Duration*: 30 min, starting",
        "*Their grants in the last 90 days*: 1: #",
        "*Who else has access now*: Admin Persona (SSH (OS Login), until ",
        f"/approvals/{grant.approval_request.pk}/|Open in MI Admin>",
    ):
        assert expected in message, expected
