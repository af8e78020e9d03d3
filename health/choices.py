"""Choice sets of the health app."""

from django.db import models


class HealthState(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"
    SUSPENDED = "suspended", "Suspended"


class WindowKind(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    ONE_OFF = "one_off", "One-off"


class IncidentCause(models.TextChoices):
    DOWN = "down", "Instance down"
    VERSION_SLA = "version_sla", "Version SLA breached"


class IncidentState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class DeliveryAction(models.TextChoices):
    TRIGGER = "trigger", "Trigger"
    RESOLVE = "resolve", "Resolve"
    ACKNOWLEDGE = "acknowledge", "Acknowledge"


class DeliveryState(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class IncidentStateFilter(models.TextChoices):
    """The incident list's state filter: ``open`` split by whether someone acknowledged it."""

    OPEN = "open", "Open"
    UNACKNOWLEDGED = "unacknowledged", "Not acknowledged"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
