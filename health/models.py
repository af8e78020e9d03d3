"""Health of the fleet: probe samples and their rollups, derived states, maintenance
windows, and the incidents (with their alert deliveries) raised from them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from health.choices import (
    DeliveryAction,
    DeliveryState,
    HealthState,
    IncidentCause,
    IncidentState,
    WindowKind,
)
from instances.models import Instance
from mi_admin.ui.times import when_text

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
MAX_WINDOW_MINUTES = 7 * 24 * 60


class InstanceHealth(models.Model):
    """The current, hysteresis-smoothed health of one instance, updated by every sweep.

    ``recent_results`` keeps the last ten probe outcomes (``1`` ok, ``0`` failed), oldest
    first, so flapping is judged without reading samples back.
    """

    instance = models.OneToOneField(Instance, on_delete=models.CASCADE, related_name="health")
    state = models.CharField(
        max_length=16, choices=HealthState.choices, default=HealthState.UNKNOWN, db_index=True
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    recent_results = models.CharField(max_length=10, blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    observed_version = models.CharField(max_length=32, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "instance health"

    def __str__(self) -> str:
        return f"{self.instance_id}: {self.state}"


class HealthSample(models.Model):
    """One probe of one instance. ``in_maintenance`` is set when the probe fell inside a
    maintenance window (or the time was later marked as maintenance); such samples do not
    count towards uptime."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="health_samples")
    probed_at = models.DateTimeField()
    ok = models.BooleanField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    version = models.CharField(max_length=32, blank=True)
    error = models.CharField(max_length=255, blank=True)
    in_maintenance = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["instance", "probed_at"], name="health_sample_inst_time"),
            models.Index(fields=["probed_at"], name="health_sample_time"),
        ]

    def __str__(self) -> str:
        outcome = "ok" if self.ok else "failed"
        return f"{self.instance_id} at {when_text(self.probed_at)}: {outcome}"


class HealthDaily(models.Model):
    """Per instance and UTC day: how many samples, how many ok outside maintenance, how many
    in maintenance. Uptime of a day = ok_samples / (samples - excluded_samples)."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="health_days")
    day = models.DateField()
    samples = models.PositiveIntegerField(default=0)
    ok_samples = models.PositiveIntegerField(default=0)
    excluded_samples = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "health daily rollups"
        constraints = [
            models.UniqueConstraint(fields=["instance", "day"], name="health_daily_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.day}: {self.ok_samples}/{self.samples}"


class HealthTransition(models.Model):
    """A change of an instance's derived health state, and why."""

    instance = models.ForeignKey(
        Instance, on_delete=models.CASCADE, related_name="health_transitions"
    )
    from_state = models.CharField(max_length=16, choices=HealthState.choices)
    to_state = models.CharField(max_length=16, choices=HealthState.choices)
    at = models.DateTimeField()
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["instance", "-at"], name="health_transition_inst_at")]

    def __str__(self) -> str:
        return f"{self.instance_id}: {self.from_state} → {self.to_state}"


class MaintenanceWindow(models.Model):
    """Planned maintenance of an instance: probes inside it do not count towards uptime and
    raise no alerts.

    Weekly windows recur on ``weekday`` (0 = Monday) at ``start_time`` UTC for
    ``duration_minutes``; one-off windows span ``[starts_at, ends_at)``. ``retroactive``
    marks past downtime an Admin declared as maintenance after the fact.
    """

    instance = models.ForeignKey(
        Instance, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    kind = models.CharField(max_length=8, choices=WindowKind.choices)
    weekday = models.PositiveSmallIntegerField(null=True, blank=True, choices=WEEKDAYS)
    start_time = models.TimeField(null=True, blank=True, help_text="UTC")
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=255)
    retroactive = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instance", "kind", "weekday", "start_time", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        kind=WindowKind.WEEKLY,
                        weekday__gte=0,
                        weekday__lte=6,
                        start_time__isnull=False,
                        duration_minutes__gt=0,
                        duration_minutes__lte=MAX_WINDOW_MINUTES,
                    )
                    | Q(
                        kind=WindowKind.ONE_OFF, starts_at__isnull=False, ends_at__gt=F("starts_at")
                    )
                ),
                name="maintenance_window_shape",
            )
        ]

    def __str__(self) -> str:
        if self.kind == WindowKind.WEEKLY:
            return (
                f"{self.get_weekday_display()}s {self.start_time:%H:%M} UTC "
                f"for {self.duration_minutes} min"
            )
        return f"{when_text(self.starts_at)} to {when_text(self.ends_at)}"

    def occurrence(self, moment: datetime) -> tuple[datetime, datetime] | None:
        """The span of this window that contains or most recently started before ``moment``."""
        if self.kind == WindowKind.ONE_OFF:
            if self.starts_at is None or self.ends_at is None:
                return None
            return self.starts_at, self.ends_at
        if self.weekday is None or self.start_time is None or not self.duration_minutes:
            return None
        utc = moment.astimezone(UTC)
        start_day = utc.date() - timedelta(days=(utc.weekday() - self.weekday) % 7)
        start = datetime.combine(start_day, self.start_time, tzinfo=UTC)
        if start > utc:
            start -= timedelta(days=7)
        return start, start + timedelta(minutes=self.duration_minutes)

    def covers(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) lies inside this window."""
        span = self.occurrence(moment)
        return span is not None and span[0] <= moment < span[1]


class Incident(models.Model):
    """An alertable problem with one instance. At most one open incident per instance and
    cause; ``dedup_key`` (``mi-admin/<slug>/<cause>``) ties the resolve to the trigger at
    every provider."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="incidents")
    cause = models.CharField(max_length=16, choices=IncidentCause.choices)
    dedup_key = models.CharField(max_length=255)
    state = models.CharField(
        max_length=16, choices=IncidentState.choices, default=IncidentState.OPEN, db_index=True
    )
    summary = models.CharField(max_length=255)
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Set once, by the first person to acknowledge; the acknowledgement is paged out once.
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["-opened_at"], name="health_incident_opened")]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_by__isnull=True) | Q(acknowledged_at__isnull=False),
                name="health_incident_ack_has_time",
            ),
            models.UniqueConstraint(
                fields=["instance", "cause"],
                condition=Q(state=IncidentState.OPEN),
                name="health_one_open_incident_per_cause",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} ({self.state})"


class IncidentNote(models.Model):
    """A person's note on an incident (what they found, what they did); append-only."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="health_incident_note_not_empty")
        ]

    def __str__(self) -> str:
        return f"note on {self.incident_id} at {when_text(self.created_at)}"


class AlertDelivery(models.Model):
    """One trigger, acknowledge or resolve of one incident through one channel (pagerduty,
    opsgenie, slack). Unique per (incident, channel, action): a channel is never paged
    twice."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=32)
    action = models.CharField(max_length=16, choices=DeliveryAction.choices)
    state = models.CharField(max_length=8, choices=DeliveryState.choices)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "alert deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "channel", "action"], name="health_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.action} via {self.channel}: {self.state}"
