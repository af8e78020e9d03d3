"""Reads of the requests app: who sees which requests, the queue by SLA urgency, one
request with its timeline and clocks, and the SLA attainment report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    Q,
    QuerySet,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Perm, user_can
from mi_admin.approvals.models import ApprovalRequest, Review
from mi_admin.sla import SlaState, work_calendar_from_settings
from mi_admin.ui.times import when_text
from mi_requests import clocks
from mi_requests.choices import (
    APPROVED_KINDS,
    OPEN_STATES,
    RESOLUTION_KINDS,
    ApprovalPurpose,
    RequestKind,
    RequestState,
)
from mi_requests.models import CustomerRequest, RequestEvent, RequestPause
from mi_requests.workflow import Action, By, actions_for


def request_resolution_clock(
    request: CustomerRequest, pauses: Sequence[RequestPause], *, now: datetime
) -> clocks.ResolutionClock | None:
    """The request's resolution clock, or None before approval / for feature requests."""
    if request.approved_at is None or request.kind not in RESOLUTION_KINDS:
        return None
    return clocks.resolution_clock_at(
        request.approved_at,
        pauses=[clocks.Pause(p.started_at, p.ended_at) for p in pauses],
        now=now,
        calendar=work_calendar_from_settings(),
        completed_at=request.closed_at if request.state == "done" else None,
    )


def sees_all_requests(user: User) -> bool:
    """DevOps, Admins and managers see every request; CE and Sales their own and their
    customers' (the customer's owning CE)."""
    return user_can(user, Perm.HANDLE_REQUEST) or user_can(user, Perm.APPROVE)


def requests_visible_to(*, user: User) -> QuerySet[CustomerRequest]:
    rows = CustomerRequest.objects.select_related("requester", "customer", "instance", "handler")
    if sees_all_requests(user):
        return rows
    return rows.filter(
        Q(requester=user) | Q(customer__owner_ce=user) | Q(instance__customer__owner_ce=user)
    )


def request_queue(*, user: User) -> QuerySet[CustomerRequest]:
    """The visible requests, open ones first, the most urgent deadline first: the response
    deadline until acknowledged, then the resolution deadline (feature requests: none)."""
    next_due = Case(
        When(acknowledged_at__isnull=True, then=F("response_due_at")),
        default=F("resolution_due_at"),
        output_field=DateTimeField(),
    )
    is_open = Case(When(state__in=OPEN_STATES, then=0), default=1)
    return (
        requests_visible_to(user=user)
        .annotate(next_due=next_due, closed_rank=is_open)
        .order_by("closed_rank", F("next_due").asc(nulls_last=True), "submitted_at", "pk")
    )


@dataclass
class ClockView:
    label: str
    due: datetime | None
    state: str  # an SlaState value, or "paused" / "not started" / "none"
    note: str = ""
    used: float | None = None


def request_clocks(
    request: CustomerRequest, pauses: list[RequestPause], *, now: datetime | None = None
) -> list[ClockView]:
    """The response and resolution clocks as shown on the page and in the queue."""
    now = now or timezone.now()
    response = ClockView(
        "Response (24 h)",
        request.response_due_at,
        clocks.response_state(
            request.submitted_at, acknowledged_at=request.acknowledged_at, now=now
        ).value,
        f"acknowledged {when_text(request.acknowledged_at)}" if request.acknowledged_at else "",
    )
    if request.kind not in RESOLUTION_KINDS:
        return [response, ClockView("Resolution", None, "none", "depends on the request")]
    clock = request_resolution_clock(request, pauses, now=now)
    if clock is None:
        return [
            response,
            ClockView("Resolution (15 working days)", None, "not started", "starts at approval"),
        ]
    state = "paused" if clock.paused_now else clock.state.value
    note = f"{clock.used:.0%} used"
    if clock.paused:
        note += f"; moved out {clock.paused} by waiting on the requester"
    return [
        response,
        ClockView("Resolution (15 working days)", clock.deadline, state, note, clock.used),
    ]


DETAIL_LABELS = {
    "instance_kind": "Instance kind",
    "architecture": "Architecture",
    "size": "Size",
    "admin_contact": "Admin contact",
    "code_host_access": "Code-host connectivity",
    "inbound_access": "Inbound access",
    "allowed_cidrs": "Allowed CIDRs",
    "checklist": "Checklist",
    "expected_return": "Expected return",
    "data_loss_acknowledged": "All data deleted for good",
    "new_end_date": "New trial end date",
}
CHECKLIST_LABELS = {
    "security_accepted": "security implications accepted",
    "deal_qualified": "deal qualified",
    "technically_qualified": "technically qualified",
    "poc_criteria_documented": "POC success criteria documented",
}


def detail_facts(details: dict[str, Any]) -> list[tuple[str, str]]:
    """The intake form's answers as (label, text) lines for the request page."""
    facts = []
    for key, value in details.items():
        if key == "checklist" and isinstance(value, dict):
            text = "; ".join(
                f"{CHECKLIST_LABELS.get(item, item)}: {'yes' if done else 'no'}"
                for item, done in value.items()
            )
        elif isinstance(value, list):
            text = ", ".join(str(item) for item in value) or "none"
        elif value is True:
            text = "yes"
        else:
            text = str(value)
        facts.append((DETAIL_LABELS.get(key, key.replace("_", " ").capitalize()), text))
    return facts


@dataclass
class RequestDetail:
    request: CustomerRequest
    facts: list[tuple[str, str]]
    events: list[RequestEvent]
    pauses: list[RequestPause]
    clocks: list[ClockView]
    approvals: list[tuple[str, ApprovalRequest]]
    open_question: RequestPause | None
    handler_actions: set[str]
    requester_actions: set[str]
    can_handle: bool
    is_requester: bool
    appealed: bool
    approval_expired: bool


def request_detail(*, pk: int, viewer: User) -> RequestDetail | None:
    """One request the viewer may see, with its timeline, clocks and approvals."""
    request = requests_visible_to(user=viewer).select_related("operation").filter(pk=pk).first()
    if request is None:
        return None
    events = list(request.events.select_related("actor"))
    pauses = list(request.pauses.all())
    links = list(request.approvals.select_related("approval"))
    can_handle = user_can(viewer, Perm.HANDLE_REQUEST)
    is_requester = viewer.pk == request.requester_id
    handler_actions = {
        a.value for a in actions_for(request.state, kind=request.kind, by=By.HANDLER)
    }
    requester_actions = {
        a.value for a in actions_for(request.state, kind=request.kind, by=By.REQUESTER)
    }
    appealed = any(link.purpose == ApprovalPurpose.APPEAL for link in links)
    if appealed:
        requester_actions.discard(Action.APPEAL.value)
    latest = links[-1].approval if links else None
    expired = (
        request.state == RequestState.ACKNOWLEDGED
        and request.kind in APPROVED_KINDS
        and latest is not None
        and latest.state == "expired"
    )
    return RequestDetail(
        request=request,
        facts=detail_facts(request.details),
        events=events,
        pauses=pauses,
        clocks=request_clocks(request, pauses),
        approvals=[(link.get_purpose_display(), link.approval) for link in links],
        open_question=next((p for p in pauses if p.ended_at is None), None),
        handler_actions=handler_actions if can_handle else set(),
        requester_actions=requester_actions if is_requester else set(),
        can_handle=can_handle,
        is_requester=is_requester,
        appealed=appealed,
        approval_expired=expired,
    )


def request_approvers(*, request: CustomerRequest) -> list[User]:
    """Everyone who approved the request (its approval and, if any, its appeal)."""
    approval_ids = request.approvals.values_list("approval_id", flat=True)
    reviews = Review.objects.filter(request_id__in=approval_ids, decision="approve").select_related(
        "reviewer"
    )
    return [review.reviewer for review in reviews]


def queue_rows(
    rows: list[CustomerRequest], *, now: datetime | None = None
) -> dict[int, list[ClockView]]:
    """The clocks of a page of the queue: one query for the pauses of all its rows."""
    now = now or timezone.now()
    pauses: dict[int, list[RequestPause]] = {}
    for pause in RequestPause.objects.filter(request__in=[row.pk for row in rows]):
        pauses.setdefault(pause.request_id, []).append(pause)
    return {row.pk: request_clocks(row, pauses.get(row.pk, []), now=now) for row in rows}


def sla_attainment() -> QuerySet[Any]:
    """Per request kind and month of submission: how many, how many met or breached the
    response and the resolution SLA, and how many are still open. One query."""
    now = timezone.now()
    response_met = Q(acknowledged_at__isnull=False, acknowledged_at__lte=F("response_due_at"))
    response_breached = Q(acknowledged_at__gt=F("response_due_at")) | Q(
        acknowledged_at__isnull=True, response_due_at__lt=now
    )
    done = Q(state=RequestState.DONE, resolution_due_at__isnull=False)
    resolution_met = done & Q(closed_at__lte=F("resolution_due_at"))
    resolution_breached = (done & Q(closed_at__gt=F("resolution_due_at"))) | Q(
        state__in=OPEN_STATES, resolution_due_at__lt=now
    )
    return (
        CustomerRequest.objects.annotate(month=TruncMonth("submitted_at"))
        .values("month", "kind")
        .annotate(
            total=Count("pk"),
            response_met=Count("pk", filter=response_met),
            response_breached=Count("pk", filter=response_breached),
            resolution_met=Count("pk", filter=resolution_met),
            resolution_breached=Count("pk", filter=resolution_breached),
            open=Count("pk", filter=Q(state__in=OPEN_STATES)),
        )
        .order_by("-month", "kind")
    )


def attainment_percent(met: int, breached: int) -> str:
    decided = met + breached
    return f"{100 * met / decided:.0f} %" if decided else "-"


KIND_LABELS = dict(RequestKind.choices)
SLA_STATES = {state.value: state.label for state in SlaState}


def attainment_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's rows with their labels and percentages (no query)."""
    return [
        {
            **row,
            "kind_label": KIND_LABELS.get(row["kind"], row["kind"]),
            "response_pct": attainment_percent(row["response_met"], row["response_breached"]),
            "resolution_pct": attainment_percent(row["resolution_met"], row["resolution_breached"]),
        }
        for row in rows
    ]
