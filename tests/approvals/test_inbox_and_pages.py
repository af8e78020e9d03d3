"""The approvals inbox and a request's page: what waits for whom, the review form shown only
to who may use it, and the same refusals through the UI as in the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.selectors import approval_inbox
from mi_admin.approvals.services import approval_review_submit
from tests.approvals.conftest import (
    MANAGER_STEP,
    SECURITY_STEP,
    StepSpec,
    file_request,
    make_person,
    make_policy,
)

pytestmark = pytest.mark.usefixtures("decisions")


def _client(name: str) -> Client:
    client = Client()
    client.force_login(make_person(name))
    return client


def _age(request: ApprovalRequest, by: timedelta) -> None:
    ApprovalRequest.objects.filter(pk=request.pk).update(
        created_at=request.created_at - by, expires_at=request.expires_at - by
    )


def test_inbox_lists_what_waits_for_the_person_oldest_first(db):
    # given requests: two for managers (the older one aged), one a manager filed, one
    # already reviewed by m1, one expired, and one whose open step is security's
    managers = make_policy(MANAGER_STEP, slug="managers")
    quorum2 = make_policy(StepSpec("M", roles=("mi-managers",), quorum=2), slug="q2")
    two_step = make_policy(SECURITY_STEP, MANAGER_STEP, slug="two-step")
    requester = make_person("requester")
    newer = file_request(managers, requester, subject_id="newer")
    older = file_request(managers, requester, subject_id="older")
    _age(older, timedelta(hours=1))
    file_request(managers, make_person("m1"), subject_id="own")
    reviewed = file_request(quorum2, requester, subject_id="reviewed")
    approval_review_submit(request=reviewed, reviewer=make_person("m1"), decision=Decision.APPROVE)
    expired = file_request(managers, requester, subject_id="expired")
    _age(expired, timedelta(hours=25))
    security_first = file_request(two_step, requester, subject_id="security-first")
    # when m1 and sec1 look at their inboxes
    m1_inbox = [r.subject_id for r in approval_inbox(user=make_person("m1"))]
    sec_inbox = [r.subject_id for r in approval_inbox(user=make_person("sec1"))]
    # then each sees only what waits for them, oldest first
    assert m1_inbox == ["older", "newer"]
    assert sec_inbox == ["security-first"]
    # and once security approved, the two-step request moves to the managers
    approval_review_submit(
        request=security_first, reviewer=make_person("sec1"), decision=Decision.APPROVE
    )
    assert [r.subject_id for r in approval_inbox(user=make_person("m2"))] == [
        "older",
        "newer",
        "own",  # filed by m1: m2 may review it
        "reviewed",
        "security-first",
    ]
    m2_inbox = approval_inbox(user=make_person("m2"))
    m2_rows = {r.subject_id: r.step_approvals for r in m2_inbox}  # type: ignore[attr-defined]
    assert (m2_rows["reviewed"], m2_rows["newer"]) == (1, 0)  # approvals of the open step
    assert list(approval_inbox(user=make_person("sec1"))) == []
    assert newer.pk  # filed


def test_inbox_query_count_does_not_grow_with_the_requests(db, django_assert_num_queries):
    policy = make_policy(MANAGER_STEP)
    requester = make_person("requester")
    m1 = make_person("m1")
    for n in range(3):
        file_request(policy, requester, subject_id=str(n))
    # one query for m1's groups, one for the rows (with the open step's approvals)
    with django_assert_num_queries(2):
        rows = list(approval_inbox(user=m1))
    for n in range(3, 20):
        file_request(policy, requester, subject_id=str(n))
    m1 = make_person("m1")  # a fresh object: its groups are read again
    with django_assert_num_queries(2):
        more = list(approval_inbox(user=m1))
    assert (len(rows), len(more)) == (3, 20)
    assert all(row.step_approvals == 0 for row in more)  # type: ignore[attr-defined]


def test_inbox_page_shows_time_left_and_approvals(db):
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    response = _client("m1").get(reverse("approvals:inbox"))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"#{request.pk}" in body
    assert "Test subject 42" in body
    assert "23\xa0hours" in body  # time left before it expires
    assert "0 / 1" in body
    assert "1 waiting for you" in body


def test_nav_shows_approvals_to_managers_only(db):
    url = reverse("approvals:inbox")
    assert f'href="{url}"' in _client("m1").get("/").content.decode()
    assert f'href="{url}"' not in _client("dev2").get("/").content.decode()


@pytest.mark.parametrize(
    ("viewer", "requester", "form_shown", "why"),
    [
        ("m1", "requester", True, None),
        ("m1", "m1", False, "You filed this request"),
        ("dev2", "requester", False, "you are not one of them"),
        ("requester", "requester", False, "You filed this request"),
    ],
)
def test_review_form_shown_only_to_eligible_reviewers(db, viewer, requester, form_shown, why):
    # given a pending manager-approval request
    request = file_request(make_policy(MANAGER_STEP), make_person(requester))
    # when the viewer opens it
    body = _client(viewer).get(reverse("approvals:request_detail", args=[request.pk])).content
    text = body.decode()
    # then the form is there only for an eligible reviewer, and the others are told why
    assert ('data-testid="review-form"' in text) is form_shown
    if why:
        assert why in text


def _post_review(client: Client, request: ApprovalRequest, decision: str = "approve", comment=""):
    return client.post(
        reverse("approvals:review", args=[request.pk]),
        {"decision": decision, "comment": comment},
    )


@pytest.mark.parametrize(
    ("who", "requester", "setup", "message"),
    [
        ("m1", "m1", None, "You filed this request: someone else must review it."),
        ("dev2", "requester", None, "is reviewed by Manager; you are not one of them."),
        ("m1", "requester", "reviewed", "You already reviewed this request; nobody reviews twice."),
        ("m1", "requester", "expired", "without a decision; it takes no more reviews."),
    ],
)
def test_the_ui_refuses_with_the_services_sentence(db, who, requester, setup, message):
    # given a pending request (quorum 2, so a first review leaves it open)
    policy = make_policy(StepSpec("M", roles=("mi-managers",), quorum=2))
    request = file_request(policy, make_person(requester))
    if setup == "reviewed":
        approval_review_submit(request=request, reviewer=make_person(who), decision="approve")
    if setup == "expired":
        _age(request, timedelta(hours=25))
    # when the person posts an approval anyway
    response = _post_review(_client(who), request)
    # then it is refused with the service's sentence, and nothing more was recorded
    assert response.status_code == 400
    assert message in response.content.decode()
    expected_reviews = 1 if setup == "reviewed" else 0
    assert request.reviews.count() == expected_reviews


def test_approving_through_the_ui(db, decisions):
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    client = _client("m1")
    response = _post_review(client, request, comment="looks fine")
    assert response.status_code == 302
    assert response["Location"] == reverse("approvals:inbox")
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    page = client.get(reverse("approvals:request_detail", args=[request.pk])).content.decode()
    assert "looks fine" in page
    assert 'data-testid="review-form"' not in page


def test_reason_required_is_asked_through_the_ui(db):
    policy = make_policy(StepSpec("Manager", roles=("mi-managers",), reason=True))
    request = file_request(policy, make_person("requester"))
    response = _post_review(_client("m1"), request, decision="deny")
    assert response.status_code == 400
    assert "needs a reason" in response.content.decode()
    assert request.reviews.count() == 0


def test_withdrawing_through_the_ui(db):
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    detail = reverse("approvals:request_detail", args=[request.pk])
    # another person is refused with a message
    _client("m1").post(reverse("approvals:withdraw", args=[request.pk]))
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    # the requester sees the button and withdraws
    client = _client("requester")
    assert 'data-testid="withdraw"' in client.get(detail).content.decode()
    response = client.post(reverse("approvals:withdraw", args=[request.pk]), follow=True)
    assert "withdrawn" in response.content.decode()
    request.refresh_from_db()
    assert request.state == RequestState.WITHDRAWN


def test_denying_through_the_ui_shows_who_denied_and_why(
    db, decisions, django_capture_on_commit_callbacks
):
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_review(_client("m1"), request, decision="deny", comment="no ticket")
    assert response.status_code == 302
    page = _client("requester").get(reverse("approvals:request_detail", args=[request.pk]))
    text = page.content.decode()
    assert "m1</strong> denied" in text
    assert "no ticket" in text
    assert 'data-testid="withdraw"' not in text  # decided: nothing to withdraw
    assert decisions.calls == [(request.pk, RequestState.DENIED)]
