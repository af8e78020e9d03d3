"""Access levels (what can be granted) and access grants (who had what, on which instance,
when, why, approved by whom, ended how). Grants are kept for good: they are the evidence
of an access review."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from access.choices import (
    OPEN_GRANT_STATES,
    AccessLevelKind,
    DeliveryState,
    GrantState,
    NotificationKind,
)
from instances.models import Instance
from mi_admin.approvals.models import ApprovalPolicy, ApprovalRequest

DEFAULT_MAX_DURATION = timedelta(hours=1)
LONGEST_DURATION = timedelta(days=14)
LONGEST_SCHEDULE_AHEAD = timedelta(days=7)


class AccessLevel(models.Model):
    """Something a person can be granted on an instance for a bounded time: IAM role(s) on
    the instance's VM, or membership of an Okta group (application site-admin). Admins
    manage them in Django admin."""

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(
        max_length=16, choices=AccessLevelKind.choices, default=AccessLevelKind.GCP_IAM
    )
    iam_roles = models.JSONField(
        default=list, blank=True, help_text='IAM roles, e.g. ["roles/compute.osAdminLogin"].'
    )
    okta_group = models.CharField(
        max_length=200,
        blank=True,
        help_text="Site-admin levels: the Okta group (its name in Okta) a grant adds the "
        "person to; {instance} stands for the instance's slug. Only MI Admin may manage "
        "its members.",
    )
    max_duration = models.DurationField(
        default=DEFAULT_MAX_DURATION, help_text="The longest a grant may last (at most 14 days)."
    )
    approval_policy = models.ForeignKey(
        ApprovalPolicy, on_delete=models.PROTECT, related_name="access_levels"
    )
    ticket_required = models.BooleanField(default=False)
    consent_required_for_production = models.BooleanField(
        default=False,
        help_text="Production instances need a recorded customer consent reference.",
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_duration__gt=timedelta(0), max_duration__lte=LONGEST_DURATION),
                name="access_level_max_duration_range",
                violation_error_message="The maximum duration is between 0 and 14 days.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=AccessLevelKind.GCP_IAM, okta_group="")
                    | (Q(kind=AccessLevelKind.OKTA_GROUP) & ~Q(okta_group=""))
                ),
                name="access_level_okta_group_iff_site_admin",
                violation_error_message="A site-admin level names its Okta group; an IAM "
                "level names none.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AccessGrant(models.Model):
    """One person's time-boxed access at one level on one instance, from request to the
    verified removal of its binding. The clock starts at activation (``activated_at``);
    ``expires_at`` is set then and written into the IAM condition, so GCP ends the access
    even if nothing of ours runs."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_grants"
    )
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="access_grants")
    level = models.ForeignKey(AccessLevel, on_delete=models.PROTECT, related_name="grants")
    member = models.CharField(
        max_length=254,
        help_text="The IAM member bound (user:ana@example.com), or the Okta login added to "
        "the group (ana@example.com).",
    )
    # Site-admin grants: the level's Okta group when requested (a later edit of the level
    # does not change what this grant added and must remove).
    okta_group = models.CharField(max_length=200, blank=True)
    justification = models.TextField()
    ticket_url = models.URLField(max_length=500, blank=True)
    consent_ref = models.CharField(max_length=200, blank=True)
    duration = models.DurationField()
    requested_start = models.DateTimeField(help_text="Now, or a time up to 7 days ahead.")
    state = models.CharField(
        max_length=16, choices=GrantState.choices, default=GrantState.PENDING, db_index=True
    )
    approval_request = models.OneToOneField(
        ApprovalRequest,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="access_grant",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    binding_verified_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="access_grants_ended",
    )
    end_reason = models.TextField(blank=True)
    binding_verified_removed_at = models.DateTimeField(null=True, blank=True)
    # An extension asked for while active: its own approval request (subject kind
    # "access.extension", subject id = this grant); cleared once applied or refused (the
    # audit trail and the approval request keep it).
    extension_duration = models.DurationField(null=True, blank=True)
    extension_justification = models.TextField(blank=True)
    extension_approval = models.ForeignKey(
        ApprovalRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["instance", "state"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration__gt=timedelta(0), duration__lte=LONGEST_DURATION),
                name="access_grant_duration_range",
            ),
            # One membership, one grant: while a grant of a person to an Okta group is open,
            # or ended without a verified removal, no other may add them to it (its end
            # would remove the other's membership). Extensions are how to stay longer.
            models.UniqueConstraint(
                fields=["requester", "okta_group"],
                condition=~Q(okta_group="")
                & (
                    Q(state__in=OPEN_GRANT_STATES)
                    | Q(activated_at__isnull=False, binding_verified_removed_at__isnull=True)
                ),
                name="access_grant_one_okta_membership",
                violation_error_message="You already hold or asked for this Okta group.",
            ),
        ]

    def __str__(self) -> str:
        return f"Access grant #{self.pk}"

    @property
    def condition_title(self) -> str:
        """The IAM condition's title: names this grant's bindings among others."""
        return f"mi-admin-grant-{self.pk}"

    @property
    def operation_subject(self) -> str:
        return f"access.grant:{self.pk}"


class AccessNotification(models.Model):
    """One message to a grant's holder: the decision, the expiry warning, the end. The unique
    (grant, kind, key) row is the marker that makes each message go out once, however many
    workers, retries or sweeps try: only the run that inserts the row queues its delivery,
    and delivery claims the row with a conditional UPDATE before posting. ``key`` tells
    repeats of a kind apart (a warning is per expiry time, so an extension warns again for
    the new one; an extension's decision is per approval request)."""

    grant = models.ForeignKey(AccessGrant, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    key = models.CharField(max_length=64, blank=True)
    text = models.TextField(help_text="The message as sent (Slack mrkdwn).")
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    # A delivery in progress holds the row until then; a worker that died mid-post loses it
    # at this time and the sweep sends again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "kind", "key"], name="access_notification_once"
            ),
            models.CheckConstraint(
                condition=Q(state=DeliveryState.SENT, sent_at__isnull=False)
                | (~Q(state=DeliveryState.SENT) & Q(sent_at__isnull=True)),
                name="access_notification_sent_at_iff_sent",
            ),
        ]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for grant #{self.grant_id}"
