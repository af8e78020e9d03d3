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
