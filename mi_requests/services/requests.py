"""Intake and workflow of requests: submit, acknowledge, approval outcome, appeal, question
and answer, withdraw, comment, manual start and finish.

Every change locks the request row (``select_for_update``), asks :func:`workflow.next_state`
whether the move exists from the state it finds there, writes the new state, one timeline
event and one audit event, all in one transaction. Two clicks at once: the second waits for
the lock, finds the new state, and is refused with the reason.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from instances.choices import LifecycleState
from instances.models import Customer, Instance
from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Perm, user_can
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.choices import RequestState as ApprovalState
from mi_admin.approvals.models import ApprovalPolicy, ApprovalRequest, Review
from mi_admin.approvals.services import (
    ApprovalError,
    approval_request_create,
    approval_request_withdraw,
)
from mi_admin.audit.services import audit_record
from mi_admin.sla import work_calendar_from_settings
from mi_requests import clocks
from mi_requests.choices import (
    APPROVED_KINDS,
    INSTANCE_KINDS,
    SELF_ENDING_KINDS,
    ApprovalPurpose,
    RequestKind,
    RequestState,
)
from mi_requests.models import CustomerRequest, RequestApproval, RequestEvent, RequestPause
from mi_requests.workflow import Action, By, TransitionRefused, next_state

logger = logging.getLogger(__name__)

SUBJECT_KIND = "mi_requests.request"
APPEAL_SUBJECT_KIND = "mi_requests.appeal"
POLICY_STANDARD = "request-approval"
POLICY_NON_STANDARD = "request-approval-tech-review"
POLICY_APPEAL = "request-appeal"


class RequestError(Exception):
    """A refused request action; ``str()`` is the sentence to show."""


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def snapshot(request: CustomerRequest) -> dict[str, Any]:
    return {
        "state": request.state,
        "handler": request.handler_id,
        "resume_state": request.resume_state,
        "operation": request.operation_id,
        "acknowledged_at": _stamp(request.acknowledged_at),
        "approved_at": _stamp(request.approved_at),
        "closed_at": _stamp(request.closed_at),
        "resolution_due_at": _stamp(request.resolution_due_at),
        "last_error": request.last_error,
    }


def locked(pk: int) -> CustomerRequest:
    return (
        CustomerRequest.objects.select_for_update(of=("self",))
        .select_related("instance", "customer", "requester")
        .get(pk=pk)
    )


def record(
    request: CustomerRequest,
    *,
    action: str,
    actor: User | None,
    before: dict[str, Any] | None,
    comment: str = "",
    from_state: str = "",
    now: datetime | None = None,
) -> RequestEvent:
    """The timeline event and the audit event of one change (inside its transaction)."""
    event = RequestEvent.objects.create(
        request=request,
        at=now or timezone.now(),
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=request.state if from_state else "",
        comment=comment,
    )
    audit_record(
        action=f"request.{action}",
        actor=actor,
        actor_label="" if actor else "system",
        obj=request,
        before=before,
        after={**snapshot(request), "comment": comment}
        if before is not None
        else {"comment": comment},
    )
    return event


def move(
    request: CustomerRequest,
    action: Action,
    *,
    by: By,
    actor: User | None,
    comment: str = "",
    now: datetime | None = None,
    fields: dict[str, Any] | None = None,
) -> CustomerRequest:
    """Apply one transition to a locked request: state, extra fields, timeline, audit."""
    now = now or timezone.now()
    try:
        target = next_state(
            request.state,
            action,
            kind=request.kind,
            by=by,
            previous=request.resume_state or None,
        )
    except TransitionRefused as exc:
        raise RequestError(str(exc)) from exc
    before = snapshot(request)
    source = request.state
    request.state = target
    for name, value in (fields or {}).items():
        setattr(request, name, value)
    if target in (RequestState.DONE, RequestState.WITHDRAWN, RequestState.DENIED):
        request.closed_at = now
    elif request.closed_at is not None:
        request.closed_at = None  # an appeal reopens a denied request
    request.save()
    record(
        request,
        action=action.value,
        actor=actor,
        before=before,
        comment=comment,
        from_state=source,
        now=now,
    )
    return request


# --- intake ---------------------------------------------------------------------------


def request_submit(
    *,
    requester: User,
    kind: RequestKind | str,
    reason: str = "",
    instance: Instance | None = None,
    customer: Customer | None = None,
    new_customer_name: str = "",
    non_standard: bool = False,
    details: dict[str, Any] | None = None,
) -> CustomerRequest:
    """File a request; its 24-hour response clock starts now. Raises :class:`RequestError`
    when the request cannot be filed (no role to file, instance in the wrong state, ...)."""
    kind = RequestKind(kind)
    if not user_can(requester, Perm.FILE_REQUEST):
        raise RequestError("Only CE, Sales, DevOps and Admins can file requests.")
    details = dict(details or {})
    reason = reason.strip()
    new_customer_name = new_customer_name.strip()
    if kind in INSTANCE_KINDS and instance is None:
        raise RequestError(f"A {kind.label.lower()} request names an instance.")
    if instance is not None and instance.state == LifecycleState.TORN_DOWN:
        raise RequestError(f"{instance.slug} is torn down; there is nothing left to change.")
    if kind == RequestKind.SUSPENSION and instance and instance.state != LifecycleState.ACTIVE:
        raise RequestError(
            f"{instance.slug} is {instance.get_state_display().lower()}; only an active "
            "instance can be suspended."
        )
    if kind == RequestKind.RESUME and instance and instance.state != LifecycleState.SUSPENDED:
        raise RequestError(f"{instance.slug} is not suspended; there is nothing to resume.")
    if kind == RequestKind.NEW_INSTANCE and customer is None and not new_customer_name:
        raise RequestError("Name the customer: pick an existing one or type the new one's name.")
    if kind == RequestKind.FEATURE and instance is None and customer is None:
        raise RequestError("Say which instance or customer the feature is for.")
    if kind != RequestKind.NEW_INSTANCE and not reason:
        raise RequestError("Say why (a reason is required).")
    if instance is not None and customer is None:
        customer = instance.customer
    now = timezone.now()
    what = instance.slug if instance else (customer.name if customer else new_customer_name)
    with transaction.atomic():
        request = CustomerRequest.objects.create(
            kind=kind,
            requester=requester,
            customer=customer,
            new_customer_name=new_customer_name if customer is None else "",
            instance=instance,
            summary=f"{kind.label}: {what}"[:200],
            reason=reason,
            details=details,
            non_standard=non_standard and kind == RequestKind.NEW_INSTANCE,
            submitted_at=now,
            response_due_at=clocks.response_due(now),
        )
        event = RequestEvent.objects.create(
            request=request, at=now, actor=requester, action="submit", to_state=request.state
        )
        audit_record(
            action="request.submit",
            actor=requester,
            obj=request,
            after={
                "kind": kind.value,
                "instance": instance.slug if instance else None,
                "customer": customer.slug if customer else new_customer_name,
                "reason": reason,
                "non_standard": request.non_standard,
                "details": details,
                "response_due_at": request.response_due_at.isoformat(),
                "event": event.pk,
            },
        )
    logger.info("request #%s (%s) filed by %s", request.pk, kind, requester)
    return request


# --- DevOps acknowledges; the approval engine decides ---------------------------------


def request_region(request: CustomerRequest) -> str:
    """The sales region the request belongs to (its customer's, or its instance's customer's),
    as a policy slug suffix: ``"emea"``; empty when nobody recorded one."""
    customer = request.customer
    if customer is None and request.instance_id is not None:
        customer = request.instance.customer  # type: ignore[union-attr]
    return slugify(customer.region) if customer is not None else ""


def _policy_for(request: CustomerRequest, purpose: ApprovalPurpose) -> ApprovalPolicy:
    """The approval policy: the region's own (``<policy>-<region>``, e.g.
    ``request-approval-emea``, whose step names that region's CE managers' Okta group) when
    an Admin made one, else the fleet-wide one (any manager). Appeals go to an Admin."""
    if purpose == ApprovalPurpose.APPEAL:
        slug = POLICY_APPEAL
    else:
        slug = POLICY_NON_STANDARD if request.non_standard else POLICY_STANDARD
    region = request_region(request) if purpose != ApprovalPurpose.APPEAL else ""
    candidates = [f"{slug}-{region}", slug] if region else [slug]
    found = {p.slug: p for p in ApprovalPolicy.objects.filter(slug__in=candidates)}
    for candidate in candidates:
        if candidate in found:
            return found[candidate]
    raise RequestError(f"The approval policy {slug!r} is missing; an Admin must restore it.")


def _approval_file(request: CustomerRequest, purpose: ApprovalPurpose) -> ApprovalRequest:
    """File the approval (or appeal) for a locked request, as its requester."""
    label = "Appeal of request" if purpose == ApprovalPurpose.APPEAL else "Request"
    summary = f"{label} #{request.pk}: {request.summary} (by {request.requester})"
    try:
        approval = approval_request_create(
            policy=_policy_for(request, purpose),
            requester=request.requester,
            subject_kind=APPEAL_SUBJECT_KIND if purpose == ApprovalPurpose.APPEAL else SUBJECT_KIND,
            subject_id=str(request.pk),
            subject_summary=summary,
        )
    except ApprovalError as exc:
        raise RequestError(str(exc)) from exc
    try:
        with transaction.atomic():
            RequestApproval.objects.create(
                request=request, approval=approval, purpose=purpose, created_at=timezone.now()
            )
    except IntegrityError as exc:
        raise RequestError(
            "This request was already appealed once; the Admin's decision on the appeal is "
            "final and cannot be appealed again."
        ) from exc
    return approval


def _require_handler(actor: User) -> None:
    if not user_can(actor, Perm.HANDLE_REQUEST):
        raise RequestError("Only DevOps and Admins handle requests.")


def request_acknowledge(
    *, request: CustomerRequest, actor: User, comment: str = ""
) -> CustomerRequest:
    """DevOps takes the request (stops the response clock) and, for the kinds a manager
    approves, files the approval request (with a tech-review step if non-standard)."""
    _require_handler(actor)
    with transaction.atomic():
        current = locked(request.pk)
        now = timezone.now()
        move(
            current,
            Action.ACKNOWLEDGE,
            by=By.HANDLER,
            actor=actor,
            comment=comment.strip(),
            now=now,
            fields={"handler": actor, "acknowledged_at": now},
        )
        if current.kind in APPROVED_KINDS:
            _approval_file(current, ApprovalPurpose.APPROVAL)
    return current


def request_approval_again(*, request: CustomerRequest, actor: User) -> CustomerRequest:
    """After the approval expired undecided, DevOps files it again."""
    _require_handler(actor)
    with transaction.atomic():
        current = locked(request.pk)
        latest = current.approvals.select_related("approval").order_by("-created_at", "-pk").first()
        if current.state != RequestState.ACKNOWLEDGED or current.kind not in APPROVED_KINDS:
            raise RequestError("Only an acknowledged request waiting for approval can ask again.")
        if latest is not None and latest.approval.state == ApprovalState.PENDING:
            raise RequestError("Its approval is still pending; nothing to ask again.")
        _approval_file(current, ApprovalPurpose.APPROVAL)
        record(current, action="approval_again", actor=actor, before=None)
    return current


def _decider(reviews: list[Review], decision: Decision) -> User | None:
    """The reviewer whose answer decided: the last one to give the deciding answer. The
    engine applies the decision, but the person stands in the request's timeline and audit."""
    return next(
        (review.reviewer for review in reversed(reviews) if review.decision == decision), None
    )


def request_approval_decided(approval: ApprovalRequest) -> None:
    """The approval engine's handler (after commit, maybe twice): approved → approved (the
    resolution clock starts), denied → denied, expired → say so (DevOps may ask again),
    withdrawn in the engine by the requester → the request is withdrawn too."""
    link = RequestApproval.objects.filter(approval_id=approval.pk).first()
    if link is None:
        logger.warning("approval #%s decided for no request", approval.pk)
        return
    with transaction.atomic():
        current = locked(link.request_id)
        newest = current.approvals.order_by("-created_at", "-pk").first()
        if newest is None or newest.pk != link.pk:
            return  # superseded by a later approval of the same request
        waiting_for = (
            RequestState.APPEALED
            if link.purpose == ApprovalPurpose.APPEAL
            else RequestState.ACKNOWLEDGED
        )
        if current.state != waiting_for:
            return  # already applied (a second call) or the request moved on
        given = list(approval.reviews.select_related("reviewer").order_by("created_at", "pk"))
        reviews = ", ".join(
            f"{review.reviewer} {review.decision}d"
            + (f": {review.comment}" if review.comment else "")
            for review in given
        )
        now = timezone.now()
        if approval.state == ApprovalState.APPROVED:
            fields: dict[str, Any] = {"approved_at": now}
            if current.kind in APPROVED_KINDS:
                calendar = work_calendar_from_settings()
                fields["resolution_due_at"] = clocks.resolution_base_due(now, calendar=calendar)
            move(
                current,
                Action.APPROVE,
                by=By.SYSTEM,
                actor=_decider(given, Decision.APPROVE),
                comment=reviews,
                now=now,
                fields=fields,
            )
        elif approval.state == ApprovalState.DENIED:
            move(
                current,
                Action.DENY,
                by=By.SYSTEM,
                actor=_decider(given, Decision.DENY),
                comment=reviews,
                now=now,
            )
        elif approval.state == ApprovalState.EXPIRED:
            if link.purpose == ApprovalPurpose.APPEAL:
                move(
                    current,
                    Action.DENY,
                    by=By.SYSTEM,
                    actor=None,
                    now=now,
                    comment=f"The appeal (approval #{approval.pk}) expired undecided.",
                )
            elif not current.events.filter(
                action="approval_expired", comment__startswith=f"Approval #{approval.pk} "
            ).exists():
                record(
                    current,
                    action="approval_expired",
                    actor=None,
                    before=None,
                    now=now,
                    comment=f"Approval #{approval.pk} expired undecided; DevOps can ask again.",
                )
        elif approval.state == ApprovalState.WITHDRAWN:
            move(
                current,
                Action.WITHDRAW,
                by=By.REQUESTER,
                actor=current.requester,
                now=now,
                comment=f"Approval #{approval.pk} was withdrawn by the requester.",
            )


def request_appeal(*, request: CustomerRequest, actor: User, reason: str) -> CustomerRequest:
    """The requester appeals a denial, once, to an Admin. An appeal of an appeal is refused
    (the database holds one appeal per request)."""
    reason = reason.strip()
    if not reason:
        raise RequestError("Say why the decision should change (a reason is required).")
    with transaction.atomic():
        current = locked(request.pk)
        if actor.pk != current.requester_id:
            raise RequestError("Only the requester can appeal this request.")
        if current.approvals.filter(purpose=ApprovalPurpose.APPEAL).exists():
            raise RequestError(
                "This request was already appealed once; the Admin's decision on the appeal "
                "is final and cannot be appealed again."
            )
        move(current, Action.APPEAL, by=By.REQUESTER, actor=actor, comment=reason)
        _approval_file(current, ApprovalPurpose.APPEAL)
    return current


# --- questions, answers, comments, withdrawal -----------------------------------------


def request_ask(*, request: CustomerRequest, actor: User, question: str) -> CustomerRequest:
    """DevOps puts the request on hold with a question: the resolution clock pauses."""
    _require_handler(actor)
    question = question.strip()
    if not question:
        raise RequestError("Write the question for the requester.")
    with transaction.atomic():
        current = locked(request.pk)
        if current.operation is not None and current.operation.state in ("pending", "running"):
            raise RequestError(
                f"Operation #{current.operation_id} is running; ask once it has ended."
            )
        now = timezone.now()
        previous = current.state
        move(
            current,
            Action.ASK,
            by=By.HANDLER,
            actor=actor,
            comment=question,
            now=now,
            fields={"resume_state": previous},
        )
        RequestPause.objects.create(
            request=current, question=question, asked_by=actor, started_at=now
        )
    return current


def request_answer(*, request: CustomerRequest, actor: User, answer: str) -> CustomerRequest:
    """The requester answers; the request goes back where it was, and its resolution
    deadline moves out by the time it waited (after the approval)."""
    answer = answer.strip()
    if not answer:
        raise RequestError("Write your answer.")
    with transaction.atomic():
        current = locked(request.pk)
        if actor.pk != current.requester_id:
            raise RequestError("Only the requester can answer this question.")
        pause = (
            RequestPause.objects.select_for_update()
            .filter(request=current, ended_at__isnull=True)
            .first()
        )
        now = timezone.now()
        fields: dict[str, Any] = {"resume_state": ""}
        if pause is not None and current.approved_at is not None and current.resolution_due_at:
            moved = clocks.paused_between(
                [clocks.Pause(pause.started_at, now)], since=current.approved_at, until=now
            )
            fields["resolution_due_at"] = current.resolution_due_at + moved
        move(
            current,
            Action.ANSWER,
            by=By.REQUESTER,
            actor=actor,
            comment=answer,
            now=now,
            fields=fields,
        )
        if pause is not None:
            pause.answer, pause.answered_by, pause.ended_at = answer, actor, now
            pause.save(update_fields=["answer", "answered_by", "ended_at"])
    return current


def request_withdraw(*, request: CustomerRequest, actor: User, reason: str = "") -> CustomerRequest:
    """The requester takes the request back (and its pending approval with it)."""
    with transaction.atomic():
        current = locked(request.pk)
        if actor.pk != current.requester_id:
            raise RequestError("Only the requester can withdraw this request.")
        now = timezone.now()
        move(
            current,
            Action.WITHDRAW,
            by=By.REQUESTER,
            actor=actor,
            comment=reason.strip(),
            now=now,
            fields={"resume_state": ""},
        )
        RequestPause.objects.filter(request=current, ended_at__isnull=True).update(ended_at=now)
        for link in current.approvals.select_related("approval"):
            if link.approval.state == ApprovalState.PENDING:
                try:
                    approval_request_withdraw(request=link.approval, actor=actor)
                except ApprovalError as exc:
                    raise RequestError(str(exc)) from exc
    return current


def request_comment(*, request: CustomerRequest, actor: User, comment: str) -> RequestEvent:
    """A comment on the timeline (anyone who may see the request)."""
    comment = comment.strip()
    if not comment:
        raise RequestError("Write a comment first.")
    with transaction.atomic():
        current = locked(request.pk)
        return record(current, action="comment", actor=actor, before=None, comment=comment)


def request_finish(*, request: CustomerRequest, actor: User, comment: str) -> CustomerRequest:
    """DevOps records the work of a kind without an operation (new instance, feature, trial
    extension) as done."""
    _require_handler(actor)
    comment = comment.strip()
    if not comment:
        raise RequestError("Say what was done (a comment is required).")
    with transaction.atomic():
        current = locked(request.pk)
        if current.kind in SELF_ENDING_KINDS:
            raise RequestError(
                "This request ends on its own (its operation, or the new instance going "
                "live), not by hand."
            )
        move(current, Action.FINISH, by=By.HANDLER, actor=actor, comment=comment)
    return current


def request_start_manual(
    *, request: CustomerRequest, actor: User, comment: str = ""
) -> CustomerRequest:
    """DevOps starts the work of a kind without a lifecycle operation."""
    _require_handler(actor)
    with transaction.atomic():
        current = locked(request.pk)
        if current.kind not in (RequestKind.FEATURE,):
            raise RequestError("Start this request from its own action instead.")
        move(current, Action.START, by=By.HANDLER, actor=actor, comment=comment.strip())
    return current
