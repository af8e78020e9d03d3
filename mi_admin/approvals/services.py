"""Writes of the approval engine: file, review, withdraw, expire.

Each runs in one transaction holding the request's row lock (``select_for_update``), so two
reviewers at once are counted one after the other, and a review racing the expiry or a
withdrawal sees the state the other left. Every change is audited in the same transaction;
the subject's app hears the outcome after commit (:func:`registry.approval_decided`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mi_admin.accounts.models import User
from mi_admin.approvals import registry
from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.eligibility import review_refusal, step_groups
from mi_admin.approvals.models import (
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStep,
    Review,
    pack_groups,
)
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue

logger = logging.getLogger(__name__)

REQUESTED = "approval.requested"
REVIEWED = "approval.reviewed"
STEP_OPENED = "approval.step_opened"
APPROVED = "approval.approved"
DENIED = "approval.denied"
EXPIRED = "approval.expired"
WITHDRAWN = "approval.withdrawn"

SUMMARY_MAX = 300


class ApprovalError(Exception):
    """A refused approval action; ``str()`` is the sentence to show the person."""


@dataclass(frozen=True)
class ReviewOutcome:
    review: Review
    request: ApprovalRequest
    decided: bool


def _state_after(request: ApprovalRequest) -> dict[str, object]:
    return {
        "state": request.state,
        "current_step": request.current_step,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
    }


def _notify_on_commit(request: ApprovalRequest) -> None:
    # robust: a failing subject handler is logged, it does not undo a committed decision.
    transaction.on_commit(partial(registry.approval_decided, request.pk), robust=True)


SLACK_NOTIFY_TASK = "mi_admin.approvals.tasks.approval_slack_notify_task"


def _slack_enqueue(request_pk: int) -> None:
    # By name (mi_admin.queue): tasks sit above services, so services cannot import them.
    task_enqueue(SLACK_NOTIFY_TASK, request_pk)


def _open_step(request: ApprovalRequest, position: int) -> None:
    request.current_step = position
    request.awaiting_groups = pack_groups(step_groups(request.step(position)))


def _decide(request: ApprovalRequest, state: RequestState, *, at: datetime) -> None:
    request.state = state
    request.decided_at = at
    request.awaiting_groups = ""


def approval_request_create(
    *,
    policy: ApprovalPolicy,
    requester: User,
    subject_kind: str,
    subject_id: str,
    subject_summary: str,
) -> ApprovalRequest:
    """File a request under ``policy``; it waits for step 1's reviewers until it expires."""
    if registry.subject_kind(subject_kind) is None:
        raise ApprovalError(f"Nothing handles approvals of kind {subject_kind!r}.")
    if not subject_id or not subject_summary.strip():
        raise ApprovalError("An approval request needs a subject id and a summary.")
    if not requester.is_active:
        raise ApprovalError(f"{requester} is not an active user.")
    steps: list[ApprovalStep] = list(policy.steps.order_by("position"))
    if not steps:
        raise ApprovalError(f"Policy {policy.name!r} has no steps: nobody could approve.")
    unreviewable = [s.name for s in steps if not s.reviewer_roles and not s.okta_groups]
    if unreviewable:
        raise ApprovalError(
            f"Policy {policy.name!r} has a step nobody may review ({', '.join(unreviewable)}): "
            "give it a reviewer role or Okta group first."
        )
    frozen = []
    for position, step in enumerate(steps, start=1):
        snapshot = step.snapshot()
        snapshot["position"] = position  # gaps in the policy's numbering do not matter
        frozen.append(snapshot)
    now = timezone.now()
    with transaction.atomic():
        request = ApprovalRequest(
            policy=policy,
            policy_name=policy.name,
            steps=frozen,
            requester=requester,
            subject_kind=subject_kind,
            subject_id=subject_id,
            subject_summary=subject_summary.strip()[:SUMMARY_MAX],
            created_at=now,
            expires_at=now + policy.ttl,
        )
        _open_step(request, 1)
        request.save()
        audit_record(
            action=REQUESTED,
            actor=requester,
            obj=request,
            after={
                "policy": policy.slug,
                "subject": f"{subject_kind}:{subject_id}",
                "steps": frozen,
                "expires_at": request.expires_at.isoformat(),
            },
        )
        if settings.SLACK_APPROVALS_ENABLED and settings.SLACK_WEBHOOK_URL:
            # After commit: the worker must find the request; a broker outage loses only
            # the message, never the request.
            transaction.on_commit(partial(_slack_enqueue, request.pk), robust=True)
    logger.info("approval #%s filed by %s for %s", request.pk, requester, subject_kind)
    return request


def _locked(request_pk: int) -> ApprovalRequest:
    return ApprovalRequest.objects.select_for_update().get(pk=request_pk)


def _expire_locked(request: ApprovalRequest, *, now: datetime) -> None:
    before = _state_after(request)
    _decide(request, RequestState.EXPIRED, at=now)
    request.save(update_fields=["state", "decided_at", "awaiting_groups"])
    audit_record(
        action=EXPIRED,
        actor_label="system",
        obj=request,
        before=before,
        after=_state_after(request),
    )
    _notify_on_commit(request)


def approval_review_submit(
    *,
    request: ApprovalRequest,
    reviewer: User,
    decision: Decision | str,
    comment: str = "",
    via: str = "web",
) -> ReviewOutcome:
    """Record ``reviewer``'s decision on the open step. A deny ends the request; the open
    step's quorum of approvals opens the next step or, on the last, approves it.

    Raises :class:`ApprovalError` with the reason when the review is refused: the requester,
    someone not a reviewer of the open step, a second review, a decided or expired request
    (an expired one is marked expired on the way, even if the expiry task has not run).
    ``via`` names the channel the review came through ("web", "slack"); it is audited.
    """
    if decision not in Decision.values:
        raise ApprovalError(f"A decision is {' or '.join(Decision.values)}, not {decision!r}.")
    decision = Decision(decision)
    comment = comment.strip()
    expired_now = False
    with transaction.atomic():
        locked = _locked(request.pk)
        now = timezone.now()
        already = Review.objects.filter(request=locked, reviewer=reviewer).exists()
        refusal = review_refusal(locked, reviewer, already_reviewed=already, now=now)
        if (
            refusal is not None
            and locked.state == RequestState.PENDING
            and now >= locked.expires_at
        ):
            # The lazy half of expiry: commit the expiry, then refuse.
            _expire_locked(locked, now=now)
            expired_now = True
        elif refusal is not None:
            raise ApprovalError(refusal)
        else:
            step = locked.step(locked.current_step)
            if step.get("reason_required") and not comment:
                raise ApprovalError(
                    f"Step {locked.current_step} ({step['name']}) needs a reason: write a "
                    "comment with your decision."
                )
            before = _state_after(locked)
            review = Review.objects.create(
                request=locked,
                step=locked.current_step,
                reviewer=reviewer,
                requester_id=locked.requester_id,
                decision=decision,
                comment=comment,
                created_at=now,
            )
            audit_record(
                action=REVIEWED,
                actor=reviewer,
                obj=locked,
                after={
                    "step": review.step,
                    "decision": decision.value,
                    "comment": comment,
                    "via": via,
                },
            )
            decided = _advance(locked, review, before=before, now=now)
    if expired_now:
        raise ApprovalError(review_refusal(locked, reviewer, already_reviewed=False) or "Expired.")
    request.refresh_from_db()
    logger.info("approval #%s: %s %s step %s", locked.pk, reviewer, decision, review.step)
    return ReviewOutcome(review=review, request=locked, decided=decided)


def _advance(
    request: ApprovalRequest, review: Review, *, before: dict[str, object], now: datetime
) -> bool:
    """Apply ``review`` to the request; True if the request is now decided."""
    if review.decision == Decision.DENY:
        _decide(request, RequestState.DENIED, at=now)
        action = DENIED
    else:
        step = request.step(request.current_step)
        approvals = Review.objects.filter(
            request=request, step=request.current_step, decision=Decision.APPROVE
        ).count()
        if approvals < step["quorum"]:
            return False
        if request.current_step < request.step_count:
            _open_step(request, request.current_step + 1)
            request.save(update_fields=["current_step", "awaiting_groups"])
            audit_record(
                action=STEP_OPENED,
                actor_label="system",
                obj=request,
                before=before,
                after=_state_after(request),
            )
            return False
        _decide(request, RequestState.APPROVED, at=now)
        action = APPROVED
    request.save(update_fields=["state", "decided_at", "awaiting_groups"])
    audit_record(
        action=action,
        actor=review.reviewer,
        obj=request,
        before=before,
        after=_state_after(request),
    )
    _notify_on_commit(request)
    return True


def approval_request_withdraw(*, request: ApprovalRequest, actor: User) -> ApprovalRequest:
    """The requester takes back a pending request."""
    with transaction.atomic():
        locked = _locked(request.pk)
        if actor.pk != locked.requester_id:
            raise ApprovalError("Only the requester can withdraw this request.")
        if locked.state != RequestState.PENDING:
            raise ApprovalError(
                f"This request is already {locked.get_state_display().lower()}; "
                "there is nothing to withdraw."
            )
        before = _state_after(locked)
        _decide(locked, RequestState.WITHDRAWN, at=timezone.now())
        locked.save(update_fields=["state", "decided_at", "awaiting_groups"])
        audit_record(
            action=WITHDRAWN, actor=actor, obj=locked, before=before, after=_state_after(locked)
        )
        _notify_on_commit(locked)
    request.refresh_from_db()
    return locked


def approval_requests_expire(*, now: datetime | None = None) -> int:
    """Expire every pending request past its time; returns how many. Safe to run twice and
    beside reviews: each request is re-checked under its lock, one transaction each."""
    now = now or timezone.now()
    due = list(
        ApprovalRequest.objects.filter(state=RequestState.PENDING, expires_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    expired = 0
    for pk in due:
        with transaction.atomic():
            locked = _locked(pk)
            if locked.state != RequestState.PENDING or locked.expires_at > now:
                continue  # decided or withdrawn meanwhile
            _expire_locked(locked, now=now)
            expired += 1
    if expired:
        logger.info("expired %s approval request(s)", expired)
    return expired
