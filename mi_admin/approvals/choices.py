"""Choices of the approval engine."""

from django.db import models


class RequestState(models.TextChoices):
    """Where an approval request stands. Only ``pending`` accepts reviews."""

    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Decision(models.TextChoices):
    """A reviewer's answer."""

    APPROVE = "approve", "Approve"
    DENY = "deny", "Deny"
