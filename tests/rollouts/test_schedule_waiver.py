"""An emergency release may skip the staged schedule only with an Admin's approval and a
reason, through the approval engine: without it the rollout follows the schedule, the
requester never approves their own waiver, and once approved the waves start at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from instances.choices import OperationKind
from instances.models import Operation, Release
from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Role
from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.services import ApprovalError, approval_review_submit
from mi_admin.audit.models import AuditEvent
from mi_admin.sla import add_working_days, work_calendar_from_settings
from rollouts.models import Rollout, RolloutTarget, TargetState
from rollouts.services import (
    RolloutError,
    rollout_advance,
    rollout_create,
    rollout_schedule_waiver_request,
    rollout_start,
)
from tests.rollouts.conftest import make_fleet, make_releases


def _released_just_now() -> datetime:
    """A release time at most a minute ago whose working day 0 has begun (on a weekend, the
    Friday before): its wave 0 may start now, its customer wave (day 3) not yet. Real time,
    because the approval's handler drives the rollout at once, with the clock's now."""
    calendar = work_calendar_from_settings()
    now = timezone.now()
    moment = now - timedelta(minutes=1)
    while add_working_days(moment, 0, calendar=calendar) > now:
        moment -= timedelta(days=1)
    return moment


def _second_admin() -> User:
    user = User.objects.create(username="admin2", oidc_sub="sub-admin2", email="a2@example.com")
    user.groups.add(Group.objects.get_or_create(name=Role.ADMIN.value)[0])
    return user


CUSTOMERS = {"trial-a", "trial-b", "prod-a", "prod-b", "prod-c"}  # wave 1 ("Everyone")


def _customers_started(rollout: Rollout) -> set[str]:
    return _started(rollout) & CUSTOMERS


def _started(rollout: Rollout) -> set[str]:
    return set(
        RolloutTarget.objects.filter(rollout=rollout, operation__isnull=False).values_list(
            "instance__slug", flat=True
        )
    )


@pytest.fixture
def emergency(db: None, devops) -> Rollout:
    # given the fleet, and an emergency release 6.10.1 rolled out with a 1-hour hold, whose
    # test instances finished
    make_releases()
    make_fleet(None)
    release = Release.objects.create(
        version="6.10.1", kind="emergency", released_at=_released_just_now()
    )
    rollout = rollout_create(release=release, actor=devops, hold_seconds=3600)
    rollout_start(rollout=rollout, actor=devops)
    rollout_advance(rollout_id=rollout.pk)
    assert _started(rollout) == {"dev", "demo"}
    Operation.objects.filter(kind=OperationKind.UPGRADE).update(state="succeeded")
    rollout_advance(rollout_id=rollout.pk)
    return rollout


def test_without_approval_an_emergency_rollout_follows_the_schedule(emergency, devops) -> None:
    # when a waiver is asked for but nobody approved it yet
    rollout_schedule_waiver_request(rollout=emergency, actor=devops, reason="CVE-2026-1234")
    rollout_advance(rollout_id=emergency.pk)
    # then no customer upgrade starts before the customer stage's day
    assert _started(emergency) == {"dev", "demo"}
    emergency.refresh_from_db()
    assert emergency.schedule_waived_at is None
    # and on that day (past the hold) it does, as any rollout would
    customer = emergency.waves.get(position=1)
    rollout_advance(rollout_id=emergency.pk, now=customer.earliest_start)
    assert _customers_started(emergency)  # as many as the upgrade slots allow


def test_a_waiver_needs_a_reason_and_an_emergency_release(emergency, devops, release) -> None:
    with pytest.raises(RolloutError, match="Say why"):
        rollout_schedule_waiver_request(rollout=emergency, actor=devops, reason="  ")
    monthly = rollout_create(release=release, actor=devops)
    with pytest.raises(RolloutError, match="Only an emergency release"):
        rollout_schedule_waiver_request(rollout=monthly, actor=devops, reason="hurry")
    # one waiting request at a time
    rollout_schedule_waiver_request(rollout=emergency, actor=devops, reason="CVE-2026-1234")
    with pytest.raises(RolloutError, match="already waiting"):
        rollout_schedule_waiver_request(rollout=emergency, actor=devops, reason="again")


def test_only_another_admin_approves_and_then_the_waves_start_at_once(
    emergency, devops, admin_user, django_capture_on_commit_callbacks
) -> None:
    # given an Admin asks for the waiver, with a reason
    request = rollout_schedule_waiver_request(
        rollout=emergency, actor=admin_user, reason="CVE-2026-1234 is exploited"
    )
    assert request.policy_name == "Emergency schedule waiver"
    assert "CVE-2026-1234 is exploited" in request.subject_summary
    # when the requester approves their own waiver: refused
    with pytest.raises(ApprovalError):
        approval_review_submit(
            request=request, reviewer=admin_user, decision="approve", comment="mine"
        )
    # when DevOps (not an Admin) approves: refused too
    with pytest.raises(ApprovalError):
        approval_review_submit(request=request, reviewer=devops, decision="approve", comment="ok")
    emergency.refresh_from_db()
    assert emergency.schedule_waived_at is None
    # when a second Admin approves, saying why
    with django_capture_on_commit_callbacks(execute=True):
        approval_review_submit(
            request=request, reviewer=_second_admin(), decision="approve", comment="agreed"
        )
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    # then the schedule is waived (audited), and the customer wave starts at once: before
    # its earliest start and inside the previous wave's hold
    emergency.refresh_from_db()
    assert emergency.schedule_waived_at is not None
    rollout_advance(rollout_id=emergency.pk)
    started = _customers_started(emergency)
    assert started
    for slug in started:
        target = RolloutTarget.objects.get(rollout=emergency, instance__slug=slug)
        assert target.state == TargetState.UPGRADING
    waived = AuditEvent.objects.get(action="rollout.schedule_waived")
    assert waived.after is not None
    assert (waived.after["approval"], waived.after["reason"]) == (
        request.pk,
        "CVE-2026-1234 is exploited",
    )


def test_a_denied_waiver_leaves_the_schedule_in_force(
    emergency, devops, admin_user, django_capture_on_commit_callbacks
) -> None:
    request = rollout_schedule_waiver_request(rollout=emergency, actor=devops, reason="hurry")
    with django_capture_on_commit_callbacks(execute=True):
        approval_review_submit(
            request=request, reviewer=admin_user, decision="deny", comment="not an emergency"
        )
    emergency.refresh_from_db()
    assert emergency.schedule_waived_at is None
    rollout_advance(rollout_id=emergency.pk)
    assert _started(emergency) == {"dev", "demo"}
    assert AuditEvent.objects.filter(action="rollout.schedule_waiver_refused").exists()
    # a new request may be filed after a decision
    again = rollout_schedule_waiver_request(rollout=emergency, actor=devops, reason="now it is")
    assert again.pk != request.pk


def test_the_database_refuses_a_waiver_without_an_approval(emergency) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Rollout.objects.filter(pk=emergency.pk).update(schedule_waived_at=timezone.now())
