"""Reviews at the same moment, each on its own database connection (threads): the request's
row lock orders them, so the decision is taken, and announced, exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.services import (
    ApprovalError,
    approval_request_withdraw,
    approval_requests_expire,
    approval_review_submit,
)
from tests.approvals.conftest import MANAGER_STEP, StepSpec, file_request, make_person, make_policy
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("quorum", [1, 2])
def test_two_managers_approving_at_once_decide_once(decisions, quorum):
    # given a pending request needing `quorum` manager approvals
    policy = make_policy(StepSpec("Managers", roles=("mi-managers",), quorum=quorum))
    request = file_request(policy, make_person("requester"))
    m1, m2 = make_person("m1"), make_person("m2")
    # when two managers approve at the same moment
    results = run_at_once(
        lambda: approval_review_submit(request=request, reviewer=m1, decision=Decision.APPROVE),
        lambda: approval_review_submit(request=request, reviewer=m2, decision=Decision.APPROVE),
    )
    # then the request is approved once and the subject heard it once
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert decisions.calls == [(request.pk, RequestState.APPROVED)]
    errors = [r for r in results if isinstance(r, Exception)]
    if quorum == 1:
        # the second reviewer met a decided request and was told so
        assert len(errors) == 1
        assert isinstance(errors[0], ApprovalError)
        assert "already approved" in str(errors[0])
        assert request.reviews.count() == 1
    else:
        # both approvals counted, neither lost
        assert errors == []
        assert request.reviews.count() == 2


def test_the_same_manager_twice_at_once_counts_once(decisions):
    # given a quorum-2 request; when one manager submits twice at the same moment
    request = file_request(
        make_policy(StepSpec("Managers", roles=("mi-managers",), quorum=2)),
        make_person("requester"),
    )
    m1 = make_person("m1")
    results = run_at_once(
        lambda: approval_review_submit(request=request, reviewer=m1, decision=Decision.APPROVE),
        lambda: approval_review_submit(request=request, reviewer=m1, decision=Decision.APPROVE),
    )
    # then one review is recorded, the other refused, and the request still waits
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1
    assert "already reviewed" in str(errors[0])
    request.refresh_from_db()
    assert (request.state, request.reviews.count()) == (RequestState.PENDING, 1)
    assert decisions.calls == []


def test_a_review_racing_a_withdrawal_loses_cleanly(decisions):
    requester = make_person("requester")
    request = file_request(make_policy(MANAGER_STEP), requester)
    m1 = make_person("m1")
    results = run_at_once(
        lambda: approval_review_submit(request=request, reviewer=m1, decision=Decision.APPROVE),
        lambda: approval_request_withdraw(request=request, actor=requester),
    )
    # whichever came first decided; the other was refused; one announcement
    request.refresh_from_db()
    assert request.state in (RequestState.APPROVED, RequestState.WITHDRAWN)
    assert decisions.calls == [(request.pk, request.state)]
    assert sum(isinstance(r, ApprovalError) for r in results) == 1


def test_a_review_racing_the_expiry_task_loses_cleanly(decisions):
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    past = timedelta(hours=25)
    ApprovalRequest.objects.filter(pk=request.pk).update(
        created_at=request.created_at - past, expires_at=request.expires_at - past
    )
    m1 = make_person("m1")
    results = run_at_once(
        lambda: approval_review_submit(request=request, reviewer=m1, decision=Decision.APPROVE),
        approval_requests_expire,
    )
    # the review is refused as expired whoever won, and the expiry is announced once
    request.refresh_from_db()
    assert request.state == RequestState.EXPIRED
    assert request.reviews.count() == 0
    assert isinstance(results[0], ApprovalError)
    assert "expired" in str(results[0])
    assert decisions.calls == [(request.pk, RequestState.EXPIRED)]
