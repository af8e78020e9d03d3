"""Choices of the access app."""

from __future__ import annotations

from django.db import models


class AccessLevelKind(models.TextChoices):
    GCP_IAM = "gcp_iam", "GCP IAM on the instance"
    # Application site-admin through an Okta group: a later slice (issue 9, build point 2).
    OKTA_GROUP = "okta_group", "Okta group membership"


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
