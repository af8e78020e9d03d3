"""A grant's story in order, for its page: requested, each review, approved (or scheduled),
activated with the binding verified, the holder's messages (the expiry warning...), more
time asked and decided, how and by whom it ended, the removal verified.

Built from the audit trail alone (one query): every step of a grant is audited on the grant
or on its approval requests (its own and its extensions'), with who and when; the trail is
the evidence an auditor reads, so the page shows exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, Q
from django.db.models.functions import Cast

from access.choices import NotificationKind
from access.models import AccessGrant
from access.services import EXTENSION_KIND
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.audit.models import AuditEvent
from mi_admin.ui.times import when_text

GRANT_TYPE = AccessGrant._meta.label_lower
APPROVAL_TYPE = ApprovalRequest._meta.label_lower


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    action: str  # the audit action, for tests and styling
    title: str
    actor: str
    detail: str = ""


def _after(event: AuditEvent) -> dict[str, Any]:
    return event.after if isinstance(event.after, dict) else {}


def _stamp(value: Any) -> str:
    return when_text(value)


def _describe(event: AuditEvent, grant: AccessGrant) -> tuple[str, str] | None:
    """(title, detail) of one audit event; None for what another event already says."""
    after = _after(event)
    action = event.action
    if event.object_type == APPROVAL_TYPE:
        if action == "approval.reviewed":
            verb = "approve" if after.get("decision") == "approve" else "deny"
            via = ", from Slack" if after.get("via") == "slack" else ""
            step = after.get("step")
            return f"Review: {verb} (step {step}{via})", str(after.get("comment") or "")
        if action == "approval.step_opened":
            return f"Step {after.get('current_step')} opened", ""
        if action == "approval.expired":
            return "Approval request expired undecided", ""
        return None  # filed/approved/denied/withdrawn: the grant's own events say it
    if action == "access.grant.requested":
        return (
            "Requested",
            f"{after.get('level')} for {after.get('duration')}: {after.get('justification')}",
        )
    if action == "access.grant.approved":
        if grant.requested_start > event.created_at:
            start = _stamp(grant.requested_start.isoformat())
            return "Request approved; scheduled", f"starts {start}"
        return "Request approved", ""
    if action == "access.grant.activating":
        return "Activation started", f"clock runs until {_stamp(after.get('expires_at'))}"
    if action == "access.grant.activated":
        return "Active: binding verified on the VM", ", ".join(after.get("roles") or [])
    if action == "access.grant.notified":
        kind = NotificationKind(after.get("kind", NotificationKind.DECIDED)).label
        return f"Holder told: {kind.lower()}", str(after.get("delivery") or "")
    if action == "access.grant.extension_requested":
        return "More time asked for", f"{after.get('extra')}: {after.get('justification')}"
    if action == "access.grant.extension_approved":
        return "Extension approved", f"until {_stamp(after.get('expires_at'))}"
    if action == "access.grant.extension_refused":
        return "Extension not granted", str(after.get("outcome") or "")
    if action == "access.grant.extended":
        return "Extended: new condition verified", f"until {_stamp(after.get('expires_at'))}"
    if action == "access.grant.expired":
        return "Expired", ""
    if action == "access.grant.ended_early":
        return "Ended early by the holder", ""
    if action == "access.grant.revoked":
        return "Revoked", str(after.get("end_reason") or "")
    if action == "access.grant.denied":
        return "Request denied", str(after.get("end_reason") or "")
    if action == "access.grant.withdrawn":
        return "Withdrawn by the requester", ""
    if action == "access.grant.binding_removed":
        return "Removal verified: the binding is gone from the VM's policy", ""
    return action, ""


def access_grant_timeline(*, grant: AccessGrant) -> list[TimelineEvent]:
    """The grant's events, oldest first, from one query over the audit trail: events on
    the grant, and on its approval request and its extensions' (a subquery)."""
    approvals = (
        ApprovalRequest.objects.filter(
            Q(pk=grant.approval_request_id)
            | Q(subject_kind=EXTENSION_KIND, subject_id=str(grant.pk))
        )
        .annotate(id_text=Cast("pk", CharField()))
        .values("id_text")
    )
    events = AuditEvent.objects.filter(
        Q(object_type=GRANT_TYPE, object_id=str(grant.pk))
        | Q(object_type=APPROVAL_TYPE, object_id__in=approvals)
    ).order_by("created_at", "id")
    timeline = []
    for event in events:
        described = _describe(event, grant)
        if described is None:
            continue
        title, detail = described
        timeline.append(
            TimelineEvent(
                at=event.created_at,
                action=event.action,
                title=title,
                actor=event.actor_label or "system",
                detail=detail,
            )
        )
    return timeline
