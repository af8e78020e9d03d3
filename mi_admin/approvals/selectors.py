"""Reads of the approval engine: the inbox, and one request with its steps and reviews."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from mi_admin.accounts.models import User
from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.eligibility import (
    review_refusal,
    step_reviewers_label,
    user_group_names,
)
from mi_admin.approvals.models import GROUP_SEPARATOR, ApprovalRequest, ApprovalStep, Review


def approval_inbox(*, user: User, now: datetime | None = None) -> QuerySet[ApprovalRequest]:
    """Everything waiting for ``user``: pending and not expired, its open step reviewed by one
    of their groups, not filed by them, not reviewed by them yet; oldest first. Each row
    carries ``step_approvals`` (approvals of the open step so far). One query (plus the
    user's groups, read once)."""
    groups = user_group_names(user)
    if not groups:
        return ApprovalRequest.objects.none()
    now = now or timezone.now()
    waiting_for_mine = Q()
    for name in sorted(groups):
        waiting_for_mine |= Q(awaiting_groups__contains=f"{GROUP_SEPARATOR}{name}{GROUP_SEPARATOR}")
    reviewed = Review.objects.filter(request=OuterRef("pk"), reviewer=user)
    return (
        ApprovalRequest.objects.filter(
            waiting_for_mine, state=RequestState.PENDING, expires_at__gt=now
        )
        .exclude(requester=user)
        .exclude(Exists(reviewed))
        .select_related("requester")
        .annotate(
            step_approvals=Count(
                "reviews",
                filter=Q(reviews__step=F("current_step"), reviews__decision=Decision.APPROVE),
            )
        )
        .order_by("created_at", "pk")
    )


@dataclass
class StepView:
    position: int
    name: str
    reviewers: str
    quorum: int
    reason_required: bool
    status: str  # "approved", "open", "waiting", "denied", "closed"
    reviews: list[Review] = field(default_factory=list)

    @property
    def approvals(self) -> int:
        return sum(1 for review in self.reviews if review.decision == Decision.APPROVE)


@dataclass
class RequestDetail:
    request: ApprovalRequest
    steps: list[StepView]
    refusal: str | None  # why the viewer may not review; None: show them the form
    can_withdraw: bool


def _step_status(request: ApprovalRequest, position: int, reviews: list[Review]) -> str:
    if any(review.decision == Decision.DENY for review in reviews):
        return "denied"
    if request.state == RequestState.APPROVED or position < request.current_step:
        return "approved"
    if request.state != RequestState.PENDING:
        return "closed"
    return "open" if position == request.current_step else "waiting"


def approval_request_detail(*, pk: int, viewer: User) -> RequestDetail | None:
    """One request, its frozen steps with their reviews, and what ``viewer`` may do. Three
    queries (request, reviews, the viewer's groups)."""
    request = ApprovalRequest.objects.select_related("requester").filter(pk=pk).first()
    if request is None:
        return None
    reviews = list(request.reviews.select_related("reviewer").order_by("created_at", "pk"))
    by_step: dict[int, list[Review]] = {}
    for review in reviews:
        by_step.setdefault(review.step, []).append(review)
    steps = []
    for step in request.steps:
        position = int(step["position"])
        step_reviews = by_step.get(position, [])
        steps.append(
            StepView(
                position=position,
                name=str(step["name"]),
                reviewers=step_reviewers_label(step),
                quorum=int(step["quorum"]),
                reason_required=bool(step.get("reason_required")),
                status=_step_status(request, position, step_reviews),
                reviews=step_reviews,
            )
        )
    already = any(review.reviewer_id == viewer.pk for review in reviews)
    refusal = review_refusal(request, viewer, already_reviewed=already)
    can_withdraw = viewer.pk == request.requester_id and request.state == RequestState.PENDING
    return RequestDetail(request=request, steps=steps, refusal=refusal, can_withdraw=can_withdraw)


def approval_okta_groups() -> set[str]:
    """Every Okta group an approval step names as reviewers: the policies' steps, and the
    steps pending requests froze when they were filed (a group taken out of a policy still
    reviews what was filed under it). Login mirrors these onto the people in them."""
    names: set[str] = set()
    for groups in ApprovalStep.objects.values_list("okta_groups", flat=True):
        names.update(str(name) for name in groups or [])
    pending = ApprovalRequest.objects.filter(state=RequestState.PENDING)
    for steps in pending.values_list("steps", flat=True):
        for step in steps or []:
            names.update(str(name) for name in step.get("groups", []))
    return names
