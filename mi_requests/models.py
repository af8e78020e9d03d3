"""Requests from CE, Sales and DevOps about the fleet: a new instance, a suspension, a
resume, a teardown, a feature, a trial extension; their approvals, questions, timeline and
SLA alerts.

The request row carries its SLA deadlines (``response_due_at``, ``resolution_due_at``) so the
queue sorts by urgency in the database; :mod:`mi_requests.clocks` computes them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from instances.models import Customer, Instance, Operation
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.ui.times import when_text
from mi_requests.choices import (
    ApprovalPurpose,
    RequestKind,
    RequestState,
    SlaLevel,
)

_INSTANCE_KINDS = [
    RequestKind.SUSPENSION,
    RequestKind.RESUME,
    RequestKind.TEARDOWN,
    RequestKind.TRIAL_EXTENSION,
]


class CustomerRequest(models.Model):
    """One request and where it stands. Kind-specific answers of the intake form are in
    ``details`` (architecture, size, contacts, access, CIDRs, checklist, dates)."""

    kind = models.CharField(max_length=24, choices=RequestKind.choices, db_index=True)
    state = models.CharField(
        max_length=16, choices=RequestState.choices, default=RequestState.SUBMITTED, db_index=True
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer_requests"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    new_customer_name = models.CharField(max_length=200, blank=True)
    instance = models.ForeignKey(
        Instance, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    summary = models.CharField(max_length=200)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    non_standard = models.BooleanField(
        default=False, help_text="Migration, special scale or security needs: adds tech review."
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handled_requests",
        help_text="The DevOps engineer who acknowledged it.",
    )
    # The state a request waiting on its requester goes back to when answered.
    resume_state = models.CharField(max_length=16, choices=RequestState.choices, blank=True)
    operation = models.ForeignKey(
        Operation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The lifecycle operation running it (the latest one).",
    )
    last_error = models.TextField(blank=True)

    submitted_at = models.DateTimeField(db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    response_due_at = models.DateTimeField()
    # 15 working days after the approval plus every finished pause since; empty before
    # approval and for kinds without a resolution clock.
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=_INSTANCE_KINDS) | Q(instance__isnull=False),
                name="mi_requests_instance_required",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RequestKind.NEW_INSTANCE)
                | Q(customer__isnull=False)
                | ~Q(new_customer_name=""),
                name="mi_requests_new_instance_customer",
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True)
                | Q(acknowledged_at__gte=F("submitted_at")),
                name="mi_requests_ack_after_submit",
            ),
            models.CheckConstraint(
                condition=Q(response_due_at__gt=F("submitted_at")),
                name="mi_requests_response_due",
            ),
            models.CheckConstraint(
                condition=Q(state=RequestState.WAITING, resume_state__gt="")
                | (~Q(state=RequestState.WAITING) & Q(resume_state="")),
                name="mi_requests_waiting_resume_state",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[RequestState.SUBMITTED, RequestState.WITHDRAWN])
                | Q(acknowledged_at__isnull=False),
                name="mi_requests_acknowledged",
            ),
        ]
        indexes = [models.Index(fields=["state", "response_due_at"], name="mi_requests_queue")]

    def __str__(self) -> str:
        return f"Request #{self.pk}: {self.summary}"

    @property
    def customer_label(self) -> str:
        if self.customer_id is not None:
            return str(self.customer)
        return self.new_customer_name or ""


class RequestApproval(models.Model):
    """An approval request filed for a request: its approval, or its one appeal (the
    database allows one appeal per request, ever)."""

    request = models.ForeignKey(CustomerRequest, on_delete=models.CASCADE, related_name="approvals")
    approval = models.OneToOneField(
        ApprovalRequest, on_delete=models.PROTECT, related_name="customer_request_link"
    )
    purpose = models.CharField(max_length=8, choices=ApprovalPurpose.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(purpose=ApprovalPurpose.APPEAL),
                name="mi_requests_one_appeal",
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} #{self.approval_id} for request #{self.request_id}"


class RequestPause(models.Model):
    """A question from DevOps that puts the request on hold until the requester answers.
    At most one is open per request (a partial unique index)."""

    request = models.ForeignKey(CustomerRequest, on_delete=models.CASCADE, related_name="pauses")
    question = models.TextField()
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=Q(ended_at__isnull=True),
                name="mi_requests_one_open_pause",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="mi_requests_pause_order",
            ),
        ]

    def __str__(self) -> str:
        return f"Pause of request #{self.request_id} from {when_text(self.started_at)}"


class RequestEvent(models.Model):
    """One line of a request's timeline: a transition (with its comment) or a comment alone.
    Append-only; the audit trail records the same change in the same transaction."""

    request = models.ForeignKey(CustomerRequest, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=24)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"#{self.request_id} {self.action} at {when_text(self.at)}"


class RequestSlaAlert(models.Model):
    """An SLA alert for a request: each level is recorded once (unique), then sent; a row
    whose send failed stays unsent and is retried, never duplicated."""

    request = models.ForeignKey(
        CustomerRequest, on_delete=models.CASCADE, related_name="sla_alerts"
    )
    level = models.CharField(max_length=24, choices=SlaLevel.choices)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    channels_sent = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "level"], name="mi_requests_alert_once")
        ]

    def __str__(self) -> str:
        return f"{self.level} for request #{self.request_id}"
