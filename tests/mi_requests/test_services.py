"""The request workflow through its services: intake, acknowledgement, the approval engine
(manager; tech review for non-standard; appeal once to an Admin), questions that pause the
clock, withdrawal; every refusal says why and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from instances.choices import LifecycleState
from mi_admin.accounts.models import User
from mi_admin.approvals.choices import RequestState as ApprovalState
from mi_admin.approvals.services import ApprovalError, approval_review_submit
from mi_admin.audit.models import AuditEvent
from mi_requests.choices import ApprovalPurpose, RequestState
from mi_requests.models import CustomerRequest, RequestApproval, RequestEvent, RequestPause
from mi_requests.services.requests import (
    RequestError,
    request_acknowledge,
    request_answer,
    request_appeal,
    request_ask,
    request_submit,
    request_withdraw,
)
from tests.mi_requests.conftest import file_suspension

pytestmark = pytest.mark.django_db


def decide(approval, reviewer, decision, capture, comment=""):
    with capture(execute=True):
        return approval_review_submit(
            request=approval, reviewer=reviewer, decision=decision, comment=comment
        )


def test_a_suspension_goes_from_submitted_to_approved(
    policies, people, acme, django_capture_on_commit_callbacks
):
    # given CE files a suspension request
    request = file_suspension(people["ce"], acme)
    assert request.state == RequestState.SUBMITTED
    assert request.response_due_at == request.submitted_at + timedelta(hours=24)
    # when DevOps acknowledges it
    request_acknowledge(request=request, actor=people["devops"], comment="on it")
    request.refresh_from_db()
    # then the response clock stopped, DevOps handles it, and a manager's approval is filed
    assert request.state == RequestState.ACKNOWLEDGED
    assert request.handler == people["devops"]
    assert request.acknowledged_at is not None
    link = request.approvals.get()
    assert link.purpose == ApprovalPurpose.APPROVAL
    assert link.approval.policy.slug == "request-approval"
    assert link.approval.requester == people["ce"]
    assert link.approval.subject_summary.startswith(f"Request #{request.pk}: Suspension")
    # when the manager approves it
    decide(link.approval, people["manager"], "approve", django_capture_on_commit_callbacks)
    request.refresh_from_db()
    # then it is approved and its resolution clock runs from the approval
    assert request.state == RequestState.APPROVED
    assert request.approved_at is not None
    assert request.resolution_due_at is not None
    assert request.resolution_due_at - request.approved_at >= timedelta(days=19)
    # and every transition is on the timeline and in the audit trail
    assert list(request.events.values_list("action", flat=True)) == [
        "submit",
        "acknowledge",
        "approve",
    ]
    assert list(
        AuditEvent.objects.filter(action__startswith="request.")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["request.submit", "request.acknowledge", "request.approve"]


def test_the_requester_never_approves_their_own_request(
    policies, people, acme, django_capture_on_commit_callbacks
):
    # given a manager files a request themselves, and DevOps acknowledges it
    request = file_suspension(people["manager"], acme)
    request_acknowledge(request=request, actor=people["devops"])
    approval = request.approvals.get().approval
    # when the manager tries to approve it; then refused, saying why, and nothing changes
    with pytest.raises(ApprovalError, match="You filed this request"):
        decide(approval, people["manager"], "approve", django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.state == RequestState.ACKNOWLEDGED
    approval.refresh_from_db()
    assert approval.state == ApprovalState.PENDING


def test_a_non_standard_new_instance_adds_tech_review(
    policies, people, django_capture_on_commit_callbacks
):
    # given a non-standard new-instance request for a new customer, acknowledged
    request = request_submit(
        requester=people["ce"],
        kind="new_instance",
        new_customer_name="Initech",
        non_standard=True,
        details={"architecture": "v1.1"},
    )
    request_acknowledge(request=request, actor=people["devops"])
    approval = request.approvals.get().approval
    # then its approval has two steps: the manager, then tech review
    assert [step["name"] for step in approval.steps] == ["Manager", "Tech review"]
    # when the manager approves, it still waits for tech review
    decide(approval, people["manager"], "approve", django_capture_on_commit_callbacks)
    request.refresh_from_db()
    assert request.state == RequestState.ACKNOWLEDGED
    # when tech review (an Admin) approves, with its reason; then it is approved
    decide(approval, people["admin"], "approve", django_capture_on_commit_callbacks, "scale ok")
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def test_a_denial_is_appealed_once_and_an_appeal_of_an_appeal_is_refused(
    policies, people, acme, django_capture_on_commit_callbacks
):
    # given a teardown request denied by the manager
    request = request_submit(
        requester=people["ce"], kind="teardown", instance=acme, reason="lost the deal"
    )
    request_acknowledge(request=request, actor=people["devops"])
    first = request.approvals.get().approval
    decide(first, people["manager"], "deny", django_capture_on_commit_callbacks, "keep it")
    request.refresh_from_db()
    assert request.state == RequestState.DENIED
    # when the requester appeals; then an Admin's approval is filed
    request_appeal(request=request, actor=people["ce"], reason="the customer insists")
    request.refresh_from_db()
    assert request.state == RequestState.APPEALED
    appeal = request.approvals.get(purpose=ApprovalPurpose.APPEAL).approval
    assert appeal.policy.slug == "request-appeal"
    assert [step["roles"] for step in appeal.steps] == [["mi-admins"]]
    # a manager may not decide an appeal
    with pytest.raises(ApprovalError, match="not one of them"):
        decide(appeal, people["manager"], "approve", django_capture_on_commit_callbacks)
    # when the Admin denies the appeal too
    decide(appeal, people["admin"], "deny", django_capture_on_commit_callbacks, "final")
    request.refresh_from_db()
    assert request.state == RequestState.DENIED
    # and each denial names who gave it
    assert list(request.events.filter(action="deny").values_list("actor__username", flat=True)) == [
        "manager",
        "admin",
    ]
    events, audits = request.events.count(), AuditEvent.objects.count()
    # then appealing again is refused, saying why, and nothing changes
    with pytest.raises(RequestError, match="already appealed once"):
        request_appeal(request=request, actor=people["ce"], reason="please")
    request.refresh_from_db()
    assert request.state == RequestState.DENIED
    assert request.approvals.count() == 2
    assert (request.events.count(), AuditEvent.objects.count()) == (events, audits)


def test_the_database_holds_one_appeal_per_request(
    policies, people, acme, django_capture_on_commit_callbacks
):
    # given an appealed request
    request = request_submit(requester=people["ce"], kind="teardown", instance=acme, reason="x")
    request_acknowledge(request=request, actor=people["devops"])
    decide(
        request.approvals.get().approval,
        people["manager"],
        "deny",
        django_capture_on_commit_callbacks,
    )
    request_appeal(request=request, actor=people["ce"], reason="please")
    link = request.approvals.get(purpose=ApprovalPurpose.APPEAL)
    # when a second appeal row is written past the service; then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        RequestApproval.objects.create(
            request=request,
            approval=request.approvals.get(purpose=ApprovalPurpose.APPROVAL).approval,
            purpose=ApprovalPurpose.APPEAL,
            created_at=link.created_at,
        )


def test_only_the_requester_appeals(policies, people, acme, django_capture_on_commit_callbacks):
    request = request_submit(requester=people["ce"], kind="teardown", instance=acme, reason="x")
    request_acknowledge(request=request, actor=people["devops"])
    decide(
        request.approvals.get().approval,
        people["manager"],
        "deny",
        django_capture_on_commit_callbacks,
    )
    with pytest.raises(RequestError, match="Only the requester"):
        request_appeal(request=request, actor=people["devops"], reason="I agree with CE")
    request.refresh_from_db()
    assert request.state == RequestState.DENIED


def test_a_question_pauses_the_clock_and_moves_the_deadline_out(approved_suspension, people):
    # given an approved request and its resolution deadline
    request = approved_suspension
    due = request.resolution_due_at
    # when DevOps asks a question, and the requester answers three days later
    request_ask(request=request, actor=people["devops"], question="Which date exactly?")
    request.refresh_from_db()
    assert request.state == RequestState.WAITING
    assert request.resume_state == RequestState.APPROVED
    pause = RequestPause.objects.get(request=request)
    # (as if approved four days ago and asked three days ago)
    CustomerRequest.objects.filter(pk=request.pk).update(
        approved_at=request.approved_at - timedelta(days=4)
    )
    RequestPause.objects.filter(pk=pause.pk).update(started_at=pause.started_at - timedelta(days=3))
    request_answer(request=request, actor=people["ce"], answer="March 1st")
    request.refresh_from_db()
    # then it is back where it was and its deadline moved out by the three days waited
    assert request.state == RequestState.APPROVED
    assert request.resume_state == ""
    moved = request.resolution_due_at - due
    assert timedelta(days=3) <= moved < timedelta(days=3, minutes=1)
    pause.refresh_from_db()
    assert pause.answer == "March 1st"
    assert pause.ended_at is not None


def test_only_the_requester_answers_and_only_handlers_ask(approved_suspension, people):
    request = approved_suspension
    with pytest.raises(RequestError, match="Only DevOps and Admins"):
        request_ask(request=request, actor=people["ce"], question="?")
    request_ask(request=request, actor=people["devops"], question="When?")
    with pytest.raises(RequestError, match="Only the requester"):
        request_answer(request=request, actor=people["manager"], answer="now")
    request.refresh_from_db()
    assert request.state == RequestState.WAITING


def test_withdrawing_takes_the_pending_approval_back(
    policies, people, acme, django_capture_on_commit_callbacks
):
    # given an acknowledged request whose approval is pending
    request = file_suspension(people["ce"], acme)
    request_acknowledge(request=request, actor=people["devops"])
    # when the requester withdraws it
    with django_capture_on_commit_callbacks(execute=True):
        request_withdraw(request=request, actor=people["ce"], reason="customer stays")
    request.refresh_from_db()
    # then the request and its approval are withdrawn; nobody can approve it any more
    assert request.state == RequestState.WITHDRAWN
    assert request.closed_at is not None
    approval = request.approvals.get().approval
    assert approval.state == ApprovalState.WITHDRAWN
    # and someone else cannot withdraw a request
    other = file_suspension(people["ce"], acme)
    with pytest.raises(RequestError, match="Only the requester"):
        request_withdraw(request=other, actor=people["devops"])


def test_acknowledging_twice_is_refused_with_the_reason(policies, people, acme):
    request = file_suspension(people["ce"], acme)
    request_acknowledge(request=request, actor=people["devops"])
    with pytest.raises(RequestError, match="acknowledged cannot be acknowledged"):
        request_acknowledge(request=request, actor=people["admin"])
    request.refresh_from_db()
    assert request.handler == people["devops"]
    assert request.approvals.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"kind": "suspension", "reason": "x"}, "names an instance", id="no instance"),
        pytest.param(
            {"kind": "suspension", "instance": "acme"}, "reason is required", id="no reason"
        ),
        pytest.param(
            {"kind": "resume", "instance": "acme", "reason": "back"},
            "not suspended",
            id="resume an active instance",
        ),
        pytest.param({"kind": "new_instance"}, "Name the customer", id="no customer"),
        pytest.param(
            {"kind": "feature", "reason": "SAML"}, "instance or customer", id="feature for nobody"
        ),
    ],
)
def test_intake_refusals(policies, people, acme, kwargs, message):
    if kwargs.get("instance") == "acme":
        kwargs["instance"] = acme
    with pytest.raises(RequestError, match=message):
        request_submit(requester=people["ce"], **kwargs)
    assert CustomerRequest.objects.count() == 0


def test_a_suspended_instance_cannot_be_suspended_again(policies, people, acme):
    acme.state = LifecycleState.SUSPENDED
    acme.save()
    with pytest.raises(RequestError, match="only an active instance"):
        file_suspension(people["ce"], acme)


def test_a_stranger_cannot_file(policies, acme):
    from tests.fixtures.personas import make_persona

    with pytest.raises(RequestError, match="Only CE, Sales"):
        file_suspension(make_persona("stranger"), acme)


def test_the_timeline_keeps_who_did_what(approved_suspension, people):
    actors = list(
        RequestEvent.objects.filter(request=approved_suspension).values_list(
            "actor__username", "action", "to_state"
        )
    )
    assert actors == [
        ("ce", "submit", "submitted"),
        ("devops", "acknowledge", "acknowledged"),
        # the engine applies the decision; the manager who gave it stands on the timeline
        ("manager", "approve", "approved"),
    ]
    approval = AuditEvent.objects.get(action="request.approve")
    assert approval.actor_label == "manager"


def test_an_expired_approval_is_said_once_and_devops_asks_again(
    policies, people, acme, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from mi_admin.approvals.services import approval_requests_expire
    from mi_requests.services.requests import request_approval_again, request_approval_decided

    # given an acknowledged request whose approval nobody decided in time
    request = file_suspension(people["ce"], acme)
    request_acknowledge(request=request, actor=people["devops"])
    approval = request.approvals.get().approval
    with django_capture_on_commit_callbacks(execute=True):
        approval_requests_expire(now=timezone.now() + timedelta(days=8))
    approval.refresh_from_db()
    request_approval_decided(approval)  # the hook heard twice
    # then the timeline says so once, and the request waits for DevOps to ask again
    request.refresh_from_db()
    assert request.state == RequestState.ACKNOWLEDGED
    assert request.events.filter(action="approval_expired").count() == 1
    request_approval_again(request=request, actor=people["devops"])
    assert request.approvals.count() == 2
    with pytest.raises(RequestError, match="still pending"):
        request_approval_again(request=request, actor=people["devops"])


def _regional_policy(region: str, okta_group: str) -> None:
    """What an Admin adds for a region: the request policy whose one step is that region's
    CE managers' Okta group."""
    from mi_admin.approvals.models import ApprovalPolicy, ApprovalStep

    policy = ApprovalPolicy.objects.create(
        slug=f"request-approval-{region}",
        name=f"Request: {region.upper()} CE manager approval",
        ttl=timedelta(days=7),
    )
    ApprovalStep.objects.create(
        policy=policy,
        position=1,
        name=f"{region.upper()} CE manager",
        reviewer_roles=[],
        okta_groups=[okta_group],
        quorum=1,
    )


def test_a_request_goes_to_its_regions_ce_manager_when_the_region_has_a_policy(
    policies, people, acme, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Group

    from tests.instances.factories import make_instance

    # given EMEA has its own policy naming its CE managers' Okta group, AMER has none
    _regional_policy("emea", "ce-managers-emea")
    acme.customer.region = "EMEA"
    acme.customer.save(update_fields=["region"])
    amer = make_instance("globex-prod")
    amer.customer.region = "AMER"
    amer.customer.save(update_fields=["region"])
    emea_manager = User.objects.create(
        username="emea-manager", oidc_sub="sub-emea-manager", email="emea-manager@example.com"
    )
    emea_manager.groups.add(Group.objects.get_or_create(name="ce-managers-emea")[0])
    # when DevOps acknowledges a suspension of each
    emea_request, amer_request = (
        file_suspension(people["ce"], acme),
        file_suspension(people["ce"], amer),
    )
    for request in (emea_request, amer_request):
        request_acknowledge(request=request, actor=people["devops"], comment="on it")
    # then the EMEA one waits for the EMEA policy, the AMER one for the fleet-wide one
    emea_approval = emea_request.approvals.get().approval
    assert emea_approval.policy.slug == "request-approval-emea"
    assert amer_request.approvals.get().approval.policy.slug == "request-approval"
    # and a manager of another region cannot approve the EMEA request; nothing changes
    with pytest.raises(ApprovalError, match="ce-managers-emea"):
        decide(emea_approval, people["manager"], "approve", django_capture_on_commit_callbacks)
    emea_request.refresh_from_db()
    assert emea_request.state == RequestState.ACKNOWLEDGED
    # when the EMEA CE manager approves it, then it is approved
    decide(emea_approval, emea_manager, "approve", django_capture_on_commit_callbacks)
    emea_request.refresh_from_db()
    assert emea_request.state == RequestState.APPROVED
