"""Requesting, deciding and ending grants in the service, without a worker: every refusal
says why and leaves nothing behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from access.choices import GrantState
from access.models import AccessGrant, AccessLevel
from access.services import (
    AccessError,
    access_grant_end,
    access_grant_extend_request,
    access_grants_sweep,
)
from instances.choices import OperationKind
from instances.models import Operation
from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.services import (
    ApprovalError,
    approval_request_withdraw,
    approval_requests_expire,
    approval_review_submit,
)
from mi_admin.audit.models import AuditEvent
from tests.access.conftest import SSH, VM_ADMIN, level, make_instance, request_grant

pytestmark = pytest.mark.django_db


def test_the_seeded_levels_are_there():
    # given the data migration; then the two IAM levels exist with their roles, 1 h max
    assert level(SSH).iam_roles == ["roles/compute.osAdminLogin"]
    assert level(VM_ADMIN).iam_roles == ["roles/compute.instanceAdmin.v1"]
    assert level(SSH).max_duration == timedelta(hours=1)
    assert level(SSH).approval_policy.slug == "manager-approval"


def test_a_level_longer_than_14_days_is_refused_by_the_database():
    # given the SSH level; when someone sets 15 days; then the check constraint refuses it
    with pytest.raises(IntegrityError):
        AccessLevel.objects.filter(name=SSH).update(max_duration=timedelta(days=15))


def test_devops_files_a_grant_and_its_approval(persona):
    # given an instance and devops
    devops, instance = persona("devops"), make_instance()
    # when devops asks for 30 min of SSH
    grant = request_grant(devops, instance)
    # then the grant waits for approval, filed under the level's policy, and is audited
    assert grant.state == GrantState.PENDING
    assert grant.member == "user:devops@example.com"
    assert grant.approval_request is not None
    assert grant.approval_request.state == RequestState.PENDING
    assert grant.activated_at is None
    assert grant.expires_at is None
    assert AuditEvent.objects.filter(
        action="access.grant.requested", object_id=str(grant.pk)
    ).exists()


@pytest.mark.parametrize(
    ("who", "kwargs", "message"),
    [
        ("ce", {}, "Only DevOps engineers and admins"),
        ("manager", {}, "Only DevOps engineers and admins"),
        ("devops", {"justification": "  "}, "justification is required"),
        ("devops", {"duration": timedelta(hours=1, seconds=1)}, "lasts at most"),
        ("devops", {"duration": timedelta(0)}, "must be positive"),
        ("devops", {"start_in": timedelta(days=7, minutes=5)}, "at most 7 days ahead"),
        ("devops", {"start_in": timedelta(hours=-1)}, "cannot be in the past"),
    ],
)
def test_bad_requests_are_refused_and_leave_nothing(persona, who, kwargs, message):
    # given an instance
    instance = make_instance()
    start_in = kwargs.pop("start_in", None)
    if start_in is not None:
        kwargs["start"] = timezone.now() + start_in
    # when the request breaks a rule; then it is refused with the reason, nothing stored
    with pytest.raises(AccessError, match=message):
        request_grant(persona(who), instance, **kwargs)
    assert not AccessGrant.objects.exists()


def test_an_opted_out_instance_refuses_every_level(persona):
    # given an instance whose customer opted out of management access
    instance = make_instance(opted_out=True)
    for name in (SSH, VM_ADMIN):
        # when devops asks for any level; then it is refused, saying why
        with pytest.raises(AccessError, match="opted out of management access"):
            request_grant(persona("devops"), instance, level_name=name)
    assert not AccessGrant.objects.exists()


def test_ticket_and_consent_required_where_the_level_says(persona):
    # given a level needing a ticket and, on production, a consent reference
    AccessLevel.objects.filter(name=SSH).update(
        ticket_required=True, consent_required_for_production=True
    )
    devops, instance = persona("devops"), make_instance()
    # when asked without a ticket, then without consent; then each is refused
    with pytest.raises(AccessError, match="needs a ticket link"):
        request_grant(devops, instance)
    with pytest.raises(AccessError, match="consent reference"):
        request_grant(devops, instance, ticket_url="https://tickets.example.com/1")
    # and with both it is filed
    grant = request_grant(
        devops, instance, ticket_url="https://tickets.example.com/1", consent_ref="CONS-7"
    )
    assert grant.consent_ref == "CONS-7"


def test_the_requester_cannot_approve_their_own_grant(persona):
    # given an admin (who may review) asking for access
    admin = persona("admin")
    grant = request_grant(admin, make_instance())
    assert grant.approval_request is not None
    # when they approve it themselves; then the engine refuses, the grant stays pending
    with pytest.raises(ApprovalError):
        approval_review_submit(
            request=grant.approval_request, reviewer=admin, decision=Decision.APPROVE
        )
    grant.refresh_from_db()
    assert grant.state == GrantState.PENDING


def test_a_manager_approval_approves_and_queues_one_grant_operation(
    persona, django_capture_on_commit_callbacks
):
    # given a pending grant
    grant = request_grant(persona("devops"), make_instance())
    assert grant.approval_request is not None
    # when the manager approves (the outcome is heard on commit)
    with django_capture_on_commit_callbacks(execute=True):
        approval_review_submit(
            request=grant.approval_request, reviewer=persona("manager"), decision=Decision.APPROVE
        )
    # then the grant is approved (its clock not started) and one grant operation waits
    grant.refresh_from_db()
    assert grant.state == GrantState.APPROVED
    assert grant.activated_at is None
    operations = Operation.objects.filter(
        kind=OperationKind.GRANT, subject=f"access.grant:{grant.pk}"
    )
    assert operations.count() == 1


def test_a_denial_closes_the_grant(persona, django_capture_on_commit_callbacks):
    grant = request_grant(persona("devops"), make_instance())
    assert grant.approval_request is not None
    with django_capture_on_commit_callbacks(execute=True):
        approval_review_submit(
            request=grant.approval_request,
            reviewer=persona("manager"),
            decision=Decision.DENY,
            comment="not now",
        )
    grant.refresh_from_db()
    assert grant.state == GrantState.DENIED
    assert not Operation.objects.filter(subject=f"access.grant:{grant.pk}").exists()


def test_revoke_needs_a_manager_and_a_reason(persona):
    # given a pending grant
    grant = request_grant(persona("devops"), make_instance())
    # when a devops or a reasonless manager revokes; then refused
    with pytest.raises(AccessError, match="Only a manager or an admin"):
        access_grant_end(grant=grant, actor=persona("devops"), state=GrantState.REVOKED, reason="x")
    with pytest.raises(AccessError, match="reason is required"):
        access_grant_end(grant=grant, actor=persona("manager"), state=GrantState.REVOKED)
    # and a manager with a reason revokes it (no binding could exist: no removal queued)
    access_grant_end(
        grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="wrong instance"
    )
    assert grant.state == GrantState.REVOKED
    assert grant.end_reason == "wrong instance"
    assert not Operation.objects.filter(kind=OperationKind.REVOKE).exists()


def test_only_the_holder_ends_early_and_only_a_live_grant(persona):
    grant = request_grant(persona("devops"), make_instance())
    with pytest.raises(AccessError, match="Only the person who holds the grant"):
        access_grant_end(grant=grant, actor=persona("admin"), state=GrantState.ENDED_EARLY)
    with pytest.raises(AccessError, match="already waiting for approval"):
        access_grant_end(grant=grant, actor=persona("devops"), state=GrantState.ENDED_EARLY)


def test_the_sweep_expires_a_live_grant_past_its_expiry_and_queues_its_removal(persona):
    # given an active grant whose expiry passed (no worker ran)
    grant = request_grant(persona("devops"), make_instance())
    past = timezone.now() - timedelta(minutes=2)
    AccessGrant.objects.filter(pk=grant.pk).update(
        state=GrantState.ACTIVE, activated_at=past - grant.duration, expires_at=past
    )
    # when the sweep runs twice
    first = access_grants_sweep()
    second = access_grants_sweep()
    # then the grant expired once, and one removal operation waits
    grant.refresh_from_db()
    assert grant.state == GrantState.EXPIRED
    assert first["expired"] == 1
    assert second["expired"] == 0
    assert (
        Operation.objects.filter(
            kind=OperationKind.REVOKE, subject=f"access.grant:{grant.pk}"
        ).count()
        == 1
    )
    assert AuditEvent.objects.filter(action="access.grant.expired").count() == 1


def test_the_sweep_leaves_a_grant_not_yet_expired(persona):
    grant = request_grant(persona("devops"), make_instance())
    now = timezone.now()
    AccessGrant.objects.filter(pk=grant.pk).update(
        state=GrantState.ACTIVE, activated_at=now, expires_at=now + timedelta(minutes=5)
    )
    assert access_grants_sweep()["expired"] == 0
    assert grant_state_of(grant) == GrantState.ACTIVE


def grant_state_of(grant: AccessGrant) -> str:
    grant.refresh_from_db()
    return grant.state


def test_a_withdrawn_or_expired_approval_closes_the_grant(
    persona, django_capture_on_commit_callbacks
):
    # given two pending grants
    devops, instance = persona("devops"), make_instance()
    withdrawn = request_grant(devops, instance)
    lapsed = request_grant(devops, instance)
    assert withdrawn.approval_request is not None
    assert lapsed.approval_request is not None
    # when devops withdraws the first, and the second's approval request runs out of time
    with django_capture_on_commit_callbacks(execute=True):
        approval_request_withdraw(request=withdrawn.approval_request, actor=devops)
    later = timezone.now() + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        approval_requests_expire(now=later)
    # then the grants close accordingly, and neither can be activated
    withdrawn.refresh_from_db()
    lapsed.refresh_from_db()
    assert withdrawn.state == GrantState.WITHDRAWN
    assert lapsed.state == GrantState.DENIED
    assert lapsed.end_reason == "The approval request expired."
    assert access_grants_sweep(now=later)["activated"] == 0
    assert not Operation.objects.exists()


def test_the_sweep_starts_a_scheduled_grant_whose_start_came(persona):
    # given an approved grant scheduled in an hour (its eta'd task lost)
    grant = request_grant(persona("devops"), make_instance())
    start = timezone.now() + timedelta(hours=1)
    AccessGrant.objects.filter(pk=grant.pk).update(state=GrantState.APPROVED, requested_start=start)
    # when the sweep runs before the start, then after it
    before = access_grants_sweep(now=start - timedelta(minutes=1))
    after = access_grants_sweep(now=start + timedelta(minutes=1))
    # then only the second queues its activation, once
    assert before["activated"] == 0
    assert after["activated"] == 1
    assert Operation.objects.filter(kind=OperationKind.GRANT).count() == 1


def test_an_extension_is_refused_unless_the_holder_asks_on_an_active_grant(persona):
    # given a pending grant (not active yet)
    devops = persona("devops")
    grant = request_grant(devops, make_instance())
    # then asking for more time is refused, saying why; so is another person asking
    with pytest.raises(AccessError, match="Only an active grant"):
        access_grant_extend_request(
            grant=grant, requester=devops, extra=timedelta(minutes=10), justification="j"
        )
    now = timezone.now()
    AccessGrant.objects.filter(pk=grant.pk).update(
        state=GrantState.ACTIVE, activated_at=now, expires_at=now + timedelta(minutes=30)
    )
    with pytest.raises(AccessError, match="Only the person who holds the grant"):
        access_grant_extend_request(
            grant=grant, requester=persona("admin"), extra=timedelta(minutes=10), justification="j"
        )
    with pytest.raises(AccessError, match="between 1 minute and"):
        access_grant_extend_request(
            grant=grant, requester=devops, extra=timedelta(hours=2), justification="j"
        )
    # and the holder's request is filed once (a second waits for the first)
    access_grant_extend_request(
        grant=grant, requester=devops, extra=timedelta(minutes=10), justification="j"
    )
    with pytest.raises(AccessError, match="already waits"):
        access_grant_extend_request(
            grant=grant, requester=devops, extra=timedelta(minutes=10), justification="j"
        )
