"""Choices of the access app."""

from __future__ import annotations

from django.db import models


class AccessLevelKind(models.TextChoices):
    GCP_IAM = "gcp_iam", "GCP IAM on the instance"
    # Application site-admin: membership of an Okta group, added and removed through Okta's
    # Groups API (access/runners.py). Okta has no expiry: our expiry task and sweep end it.
    OKTA_GROUP = "okta_group", "Application site-admin (Okta group)"


class GrantState(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    ENDED_EARLY = "ended_early", "Ended early"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


# A grant in one of these may hold (or be about to hold) a binding on the VM.
LIVE_GRANT_STATES = (GrantState.APPROVED, GrantState.ACTIVE)
OPEN_GRANT_STATES = (GrantState.PENDING, GrantState.APPROVED, GrantState.ACTIVE)


class NotificationKind(models.TextChoices):
    """What a grant's holder is told (one message per kind and key, see AccessNotification)."""

    DECIDED = "decided", "Request decided"
    EXTENSION_DECIDED = "extension_decided", "Extension decided"
    WARNING = "warning", "Expiry warning"
    ENDED = "ended", "Grant ended"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # No Slack webhook configured: recorded (it is evidence of what would have been said),
    # nothing posted.
    OFF = "off", "Not sent (notifications off)"
