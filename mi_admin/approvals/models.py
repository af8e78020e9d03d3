"""Approval policies, the requests made under them, and the reviews of those requests.

A request freezes its policy's steps when it is filed (``steps``), so editing a policy never
changes what a pending request needs. The subject (an access grant, a customer request) lives
in a higher app and is linked by kind and id; the app hears the outcome through
:mod:`mi_admin.approvals.registry`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from mi_admin.accounts.roles import Role
from mi_admin.approvals.choices import Decision, RequestState

DEFAULT_TTL = timedelta(hours=24)
# Group names are stored between these in ApprovalRequest.awaiting_groups, so the inbox can
# find "waiting for one of my groups" with a portable LIKE; a name may not contain it.
GROUP_SEPARATOR = "|"


def pack_groups(names: list[str]) -> str:
    """``["a", "b"]`` → ``"|a|b|"`` (empty list → empty string)."""
    if not names:
        return ""
    return GROUP_SEPARATOR + GROUP_SEPARATOR.join(sorted(set(names))) + GROUP_SEPARATOR


class ApprovalPolicy(models.Model):
    """Who must agree before something happens: ordered steps, and how long a request waits."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    ttl = models.DurationField(
        "pending lifetime",
        default=DEFAULT_TTL,
        help_text="A request not decided within this time expires on its own (e.g. 24:00:00).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "approval policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(ttl__gt=timedelta(0)), name="approvals_policy_ttl_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(models.Model):
    """One step of a policy: who may review it and how many approvals close it. Steps run in
    ``position`` order; step n+1 opens when step n reached its quorum."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    name = models.CharField(max_length=80, help_text="What this step is, e.g. Manager, Security.")
    reviewer_roles = models.JSONField(
        default=list,
        blank=True,
        help_text=f"MI Admin roles whose members may review: {', '.join(Role.values)}.",
    )
    okta_groups = models.JSONField(
        default=list,
        blank=True,
        help_text="Named Okta groups whose members may review (the group names as in Okta).",
    )
    quorum = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    reason_required = models.BooleanField(
        default=False, help_text="The reviewer must write a comment with their decision."
    )

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="approvals_step_position"),
            models.CheckConstraint(condition=Q(quorum__gte=1), name="approvals_step_quorum_min"),
            models.CheckConstraint(
                condition=Q(position__gte=1), name="approvals_step_position_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} · step {self.position}: {self.name}"

    def clean(self) -> None:
        roles = self.reviewer_roles
        groups = self.okta_groups
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ValidationError({"reviewer_roles": 'A list of role names, e.g. ["mi-managers"].'})
        if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
            raise ValidationError({"okta_groups": 'A list of Okta group names, e.g. ["security"].'})
        unknown = sorted(set(roles) - set(Role.values))
        if unknown:
            known = ", ".join(Role.values)
            message = f"Unknown role(s) {', '.join(unknown)}; known: {known}."
            raise ValidationError({"reviewer_roles": message})
        if any(GROUP_SEPARATOR in name for name in groups):
            raise ValidationError(
                {"okta_groups": f"A group name may not contain {GROUP_SEPARATOR!r}."}
            )
        if not roles and not groups:
            raise ValidationError("A step needs at least one reviewer role or Okta group.")

    def snapshot(self) -> dict[str, Any]:
        """The step as a request freezes it."""
        return {
            "position": self.position,
            "name": self.name,
            "roles": list(self.reviewer_roles),
            "groups": list(self.okta_groups),
            "quorum": self.quorum,
            "reason_required": self.reason_required,
        }


class ApprovalRequest(models.Model):
    """Someone asks for something that a policy says others must approve. ``steps`` is the
    policy's steps as they were when the request was filed; ``current_step`` is the open one."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.PROTECT, related_name="requests")
    policy_name = models.CharField(max_length=120)
    steps = models.JSONField(help_text="The policy's steps frozen at filing time.")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_requests"
    )
    subject_kind = models.CharField(
        max_length=64, help_text="Which app's object this approves, e.g. access.grant."
    )
    subject_id = models.CharField(max_length=64)
    subject_summary = models.CharField(max_length=300)
    state = models.CharField(
        max_length=16, choices=RequestState.choices, default=RequestState.PENDING
    )
    current_step = models.PositiveSmallIntegerField(default=1)
    # The group names (roles are groups too) that may review the open step, packed by
    # pack_groups(); empty once decided. Denormalised from ``steps`` for the inbox query.
    awaiting_groups = models.CharField(max_length=2000, blank=True, editable=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="approvals_req_state_exp"),
            models.Index(fields=["subject_kind", "subject_id"], name="approvals_req_subject"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="approvals_request_expiry"
            ),
            models.CheckConstraint(
                condition=Q(state=RequestState.PENDING, decided_at__isnull=True)
                | (~Q(state=RequestState.PENDING) & Q(decided_at__isnull=False)),
                name="approvals_request_decided_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Approval #{self.pk}: {self.subject_summary}"

    @property
    def step_count(self) -> int:
        return len(self.steps)

    def step(self, position: int) -> dict[str, Any]:
        """The frozen step at ``position`` (1-based)."""
        step: dict[str, Any] = self.steps[position - 1]
        return step

    @property
    def open_step(self) -> dict[str, Any] | None:
        if self.state != RequestState.PENDING:
            return None
        return self.step(self.current_step)


class Review(models.Model):
    """One reviewer's decision on one step of a request. Nobody reviews a request twice
    (unique), and the requester never reviews their own (check; ``requester`` is copied
    from the request so the database can compare the two columns)."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="reviews")
    step = models.PositiveSmallIntegerField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_reviews"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "reviewer"], name="approvals_review_once_per_person"
            ),
            models.CheckConstraint(
                condition=~Q(reviewer=F("requester")), name="approvals_review_not_requester"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} {self.decision} #{self.request_id} step {self.step}"
