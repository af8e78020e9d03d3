"""The approval engine's rules, table-driven: given a policy and a requester, when reviewers
act in order, then each action is accepted or refused with its sentence, and the request ends
in the expected state, having told the subject's app exactly once if decided."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.models import ApprovalPolicy, ApprovalRequest, Review
from mi_admin.approvals.services import (
    ApprovalError,
    approval_request_create,
    approval_request_withdraw,
    approval_requests_expire,
    approval_review_submit,
)
from mi_admin.approvals.tasks import approval_requests_expire_task
from mi_admin.audit.models import AuditEvent
from tests.approvals.conftest import (
    MANAGER_STEP,
    SECURITY_STEP,
    SUBJECT_KIND,
    StepSpec,
    file_request,
    make_person,
    make_policy,
)

A, D = Decision.APPROVE, Decision.DENY


@dataclass(frozen=True)
class Act:
    who: str
    decision: Decision
    refused: str | None = None  # a fragment of the refusal; None: accepted
    comment: str = ""


@dataclass(frozen=True)
class Case:
    steps: tuple[StepSpec, ...]
    acts: tuple[Act, ...]
    state: RequestState
    step: int = 1  # the open step at the end (while pending)
    requester: str = "requester"


CASES: dict[str, Case] = {
    "quorum 1: one manager approves": Case((MANAGER_STEP,), (Act("m1", A),), RequestState.APPROVED),
    "quorum 1: an admin is not a manager": Case(
        (MANAGER_STEP,), (Act("adm", A, "Manager; you are not one of them"),), RequestState.PENDING
    ),
    "quorum 2: one approval is not enough": Case(
        (StepSpec("Managers", roles=("mi-managers",), quorum=2),),
        (Act("m1", A),),
        RequestState.PENDING,
    ),
    "quorum 2: two different managers approve": Case(
        (StepSpec("Managers", roles=("mi-managers",), quorum=2),),
        (Act("m1", A), Act("m2", A)),
        RequestState.APPROVED,
    ),
    "quorum 2: the same manager twice counts once": Case(
        (StepSpec("Managers", roles=("mi-managers",), quorum=2),),
        (Act("m1", A), Act("m1", A, "You already reviewed this request")),
        RequestState.PENDING,
    ),
    "one deny ends the request, whatever the quorum": Case(
        (StepSpec("Managers", roles=("mi-managers",), quorum=2),),
        (Act("m1", A), Act("m2", D), Act("m3", A, "already denied")),
        RequestState.DENIED,
    ),
    "self-review is refused, even for a manager requesting": Case(
        (MANAGER_STEP,),
        (Act("m1", A, "You filed this request"), Act("m1", D, "You filed this request")),
        RequestState.PENDING,
        requester="m1",
    ),
    "a manager requesting: another manager approves": Case(
        (MANAGER_STEP,),
        (Act("m1", A, "You filed"), Act("m2", A)),
        RequestState.APPROVED,
        requester="m1",
    ),
    "a non-manager is refused": Case(
        (MANAGER_STEP,),
        (Act("dev2", A, "Step 1 of 1 (Manager) is reviewed by Manager; you are not one of them"),),
        RequestState.PENDING,
    ),
    "a non-manager cannot deny either": Case(
        (MANAGER_STEP,), (Act("ce1", D, "you are not one of them"),), RequestState.PENDING
    ),
    "a named Okta group reviews its step": Case(
        (SECURITY_STEP,),
        (Act("m1", A, "Okta group security-reviewers"), Act("sec2", A)),
        RequestState.APPROVED,
    ),
    "2 steps: step 2's reviewers wait for step 1": Case(
        (MANAGER_STEP, SECURITY_STEP),
        (Act("sec1", A, "Step 1 of 2 (Manager)"),),
        RequestState.PENDING,
        step=1,
    ),
    "2 steps: step 1's quorum opens step 2": Case(
        (MANAGER_STEP, SECURITY_STEP),
        (Act("m1", A), Act("m2", A, "Step 2 of 2 (Security)")),
        RequestState.PENDING,
        step=2,
    ),
    "2 steps: both quorums approve": Case(
        (MANAGER_STEP, SECURITY_STEP),
        (Act("m1", A), Act("sec1", A)),
        RequestState.APPROVED,
        step=2,
    ),
    "2 steps: a deny in step 2 ends it": Case(
        (MANAGER_STEP, SECURITY_STEP),
        (Act("m1", A), Act("sec1", D)),
        RequestState.DENIED,
        step=2,
    ),
    "2 steps: the step 1 approver cannot review step 2": Case(
        (StepSpec("Manager", roles=("mi-managers",)), StepSpec("Second", roles=("mi-managers",))),
        (Act("m1", A), Act("m1", A, "already reviewed"), Act("m2", A)),
        RequestState.APPROVED,
        step=2,
    ),
    "reason required: a bare decision is refused": Case(
        (StepSpec("Manager", roles=("mi-managers",), reason=True),),
        (Act("m1", A, "needs a reason"), Act("m1", A, comment="Ticket OPS-1 checked")),
        RequestState.APPROVED,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_review_rules(name, db, decisions, django_capture_on_commit_callbacks):
    case = CASES[name]
    # given a policy and a request filed under it
    policy = make_policy(*case.steps)
    request = file_request(policy, make_person(case.requester))
    # when the reviewers act in order
    with django_capture_on_commit_callbacks(execute=True):
        for act in case.acts:
            reviewer = make_person(act.who)
            if act.refused is None:
                approval_review_submit(
                    request=request, reviewer=reviewer, decision=act.decision, comment=act.comment
                )
            else:
                with pytest.raises(ApprovalError, match=re.escape(act.refused)):
                    approval_review_submit(
                        request=request,
                        reviewer=reviewer,
                        decision=act.decision,
                        comment=act.comment,
                    )
    # then the request ends as expected, and the subject heard it once if it was decided
    request.refresh_from_db()
    assert request.state == case.state
    assert request.current_step == case.step
    accepted = [act for act in case.acts if act.refused is None]
    assert request.reviews.count() == len(accepted)
    if case.state == RequestState.PENDING:
        assert decisions.calls == []
        assert request.decided_at is None
    else:
        assert decisions.calls == [(request.pk, case.state)]
        assert request.decided_at is not None
        assert request.awaiting_groups == ""


def test_audit_rows_for_each_step_of_a_two_step_approval(db, decisions):
    # given a 2-step request
    request = file_request(make_policy(MANAGER_STEP, SECURITY_STEP), make_person("requester"))
    # when a manager then security approve
    approval_review_submit(request=request, reviewer=make_person("m1"), decision=A, comment="ok")
    approval_review_submit(request=request, reviewer=make_person("sec1"), decision=A)
    # then every step is in the audit trail, with who did it
    events = list(
        AuditEvent.objects.filter(object_id=str(request.pk), action__startswith="approval.")
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert events == [
        ("approval.requested", "requester"),
        ("approval.reviewed", "m1"),
        ("approval.step_opened", "system"),
        ("approval.reviewed", "sec1"),
        ("approval.approved", "sec1"),
    ]
    reviewed = AuditEvent.objects.filter(object_id=str(request.pk), actor_label="m1").get()
    assert reviewed.after == {"step": 1, "decision": "approve", "comment": "ok", "via": "web"}


def test_deny_and_withdraw_and_expiry_are_audited(db, decisions):
    policy = make_policy(MANAGER_STEP)
    denied = file_request(policy, make_person("requester"), subject_id="1")
    withdrawn = file_request(policy, make_person("requester"), subject_id="2")
    expired = file_request(policy, make_person("requester"), subject_id="3")
    approval_review_submit(request=denied, reviewer=make_person("m1"), decision=D, comment="no")
    approval_request_withdraw(request=withdrawn, actor=make_person("requester"))
    approval_requests_expire(now=expired.expires_at)
    actions = dict(
        AuditEvent.objects.filter(
            action__in=["approval.denied", "approval.withdrawn", "approval.expired"]
        ).values_list("object_id", "action")
    )
    assert actions == {
        str(denied.pk): "approval.denied",
        str(withdrawn.pk): "approval.withdrawn",
        str(expired.pk): "approval.expired",
    }


def test_a_policy_edit_does_not_change_a_pending_request(db, decisions):
    # given a pending request under a quorum-1 policy
    policy = make_policy(MANAGER_STEP)
    request = file_request(policy, make_person("requester"))
    # when an admin raises the quorum to 2 and adds a second step
    policy.steps.update(quorum=2)
    policy.steps.create(position=2, name="Security", okta_groups=["security-reviewers"])
    # then the pending request still needs one manager, and is approved by one
    outcome = approval_review_submit(request=request, reviewer=make_person("m1"), decision=A)
    assert outcome.decided
    assert outcome.request.state == RequestState.APPROVED
    # and a new request follows the edited policy
    later = file_request(policy, make_person("requester"), subject_id="43")
    assert [step["quorum"] for step in later.steps] == [2, 1]


def test_review_twice_is_refused_by_the_database_too(db, decisions):
    # given an approved review by m1
    request = file_request(
        make_policy(StepSpec("M", roles=("mi-managers",), quorum=2)), make_person("requester")
    )
    m1 = make_person("m1")
    approval_review_submit(request=request, reviewer=m1, decision=A)
    # when a second row for m1 is written around the service
    with (
        pytest.raises(IntegrityError, match="approvals_review_once_per_person"),
        transaction.atomic(),
    ):
        Review.objects.create(
            request=request,
            step=1,
            reviewer=m1,
            requester=request.requester,
            decision=A,
            created_at=timezone.now(),
        )


def test_self_review_is_refused_by_the_database_too(db, decisions):
    requester = make_person("m1")
    request = file_request(make_policy(MANAGER_STEP), requester)
    with (
        pytest.raises(IntegrityError, match="approvals_review_not_requester"),
        transaction.atomic(),
    ):
        Review.objects.create(
            request=request,
            step=1,
            reviewer=requester,
            requester=requester,
            decision=A,
            created_at=timezone.now(),
        )


def _age(request: ApprovalRequest, by: timedelta) -> None:
    """Move a request's clock back, as if it had been filed ``by`` ago."""
    ApprovalRequest.objects.filter(pk=request.pk).update(
        created_at=request.created_at - by, expires_at=request.expires_at - by
    )


def test_an_expired_request_refuses_a_review_before_the_task_ran(
    db, decisions, django_capture_on_commit_callbacks
):
    # given a request whose 24 hours passed, and no expiry task run yet
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    _age(request, timedelta(hours=25))
    # when a manager approves it
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ApprovalError, match=r"expired at .* UTC without a decision"),
    ):
        approval_review_submit(request=request, reviewer=make_person("m1"), decision=A)
    # then no review was recorded, the request is expired (committed), and the subject heard
    request.refresh_from_db()
    assert request.state == RequestState.EXPIRED
    assert request.reviews.count() == 0
    assert decisions.calls == [(request.pk, RequestState.EXPIRED)]
    assert AuditEvent.objects.filter(action="approval.expired", object_id=str(request.pk)).exists()


def test_the_expiry_task_expires_due_requests_once(
    db, decisions, django_capture_on_commit_callbacks
):
    # given one request past its time and one still running
    policy = make_policy(MANAGER_STEP, ttl=timedelta(hours=1))
    due = file_request(policy, make_person("requester"), subject_id="1")
    running = file_request(policy, make_person("requester"), subject_id="2")
    _age(due, timedelta(hours=2))
    # when the beat task runs twice
    with django_capture_on_commit_callbacks(execute=True):
        first = approval_requests_expire_task()
        second = approval_requests_expire_task()
    # then the due one expired, once; the other is still pending
    assert (first, second) == (1, 0)
    due.refresh_from_db()
    running.refresh_from_db()
    assert (due.state, running.state) == (RequestState.EXPIRED, RequestState.PENDING)
    assert decisions.calls == [(due.pk, RequestState.EXPIRED)]
    # and a review of the expired request is refused with the same sentence
    with pytest.raises(ApprovalError, match="expired at"):
        approval_review_submit(request=due, reviewer=make_person("m1"), decision=A)


def test_expiry_leaves_decided_requests_alone(db, decisions):
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    approval_review_submit(request=request, reviewer=make_person("m1"), decision=A)
    assert approval_requests_expire(now=request.expires_at + timedelta(hours=1)) == 0
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def test_withdraw(db, decisions, django_capture_on_commit_callbacks):
    # given a pending request
    requester = make_person("requester")
    request = file_request(make_policy(MANAGER_STEP), requester)
    # when someone else tries to withdraw it, then it is refused
    with pytest.raises(ApprovalError, match="Only the requester can withdraw"):
        approval_request_withdraw(request=request, actor=make_person("m1"))
    # when the requester withdraws it
    with django_capture_on_commit_callbacks(execute=True):
        approval_request_withdraw(request=request, actor=requester)
    # then it is withdrawn, takes no review, and cannot be withdrawn again
    assert request.state == RequestState.WITHDRAWN
    assert decisions.calls == [(request.pk, RequestState.WITHDRAWN)]
    with pytest.raises(ApprovalError, match="already withdrawn; it takes no more reviews"):
        approval_review_submit(request=request, reviewer=make_person("m1"), decision=A)
    with pytest.raises(ApprovalError, match="already withdrawn; there is nothing to withdraw"):
        approval_request_withdraw(request=request, actor=requester)


def test_a_decided_request_cannot_be_withdrawn(db, decisions):
    requester = make_person("requester")
    request = file_request(make_policy(MANAGER_STEP), requester)
    approval_review_submit(request=request, reviewer=make_person("m1"), decision=A)
    with pytest.raises(ApprovalError, match="already approved"):
        approval_request_withdraw(request=request, actor=requester)


@pytest.mark.parametrize(
    ("kind", "policy_steps", "message"),
    [
        ("nobody.handles.this", (MANAGER_STEP,), "Nothing handles approvals of kind"),
        (SUBJECT_KIND, (), "has no steps"),
        (SUBJECT_KIND, (StepSpec("Empty"),), "has a step nobody may review (Empty)"),
    ],
)
def test_filing_is_refused_with_a_reason(db, decisions, kind, policy_steps, message):
    policy = make_policy(*policy_steps)
    with pytest.raises(ApprovalError, match=re.escape(message)):
        approval_request_create(
            policy=policy,
            requester=make_person("requester"),
            subject_kind=kind,
            subject_id="1",
            subject_summary="x",
        )
    assert not ApprovalRequest.objects.exists()


def test_an_unknown_decision_is_refused(db, decisions):
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    with pytest.raises(ApprovalError, match="approve or deny"):
        approval_review_submit(request=request, reviewer=make_person("m1"), decision="maybe")


def test_the_default_policy_is_seeded(db):
    policy = ApprovalPolicy.objects.get(slug="manager-approval")
    steps = list(policy.steps.values("position", "reviewer_roles", "quorum"))
    assert steps == [{"position": 1, "reviewer_roles": ["mi-managers"], "quorum": 1}]
    assert policy.ttl == timedelta(hours=24)
