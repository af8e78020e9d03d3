"""Rollouts of a release across the fleet: waves of targets, each upgraded by an Operation.

A rollout is planned (``services.rollout_plan``), saved as waves and targets, started, and
driven by the ``rollouts_advance`` beat task; the upgrades themselves are ordinary upgrade
operations (``instances.services.upgrades``), so the fleet-wide slot limit, the one-change-
per-instance rule and the resume-after-crash guarantees hold for rollouts too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from instances.models import Instance, Operation, Release
from mi_admin.approvals.models import ApprovalRequest


class RolloutState(models.TextChoices):
    PLANNED = "planned", "Planned"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    # Abort asked: nothing new starts; ends 'aborted' once no upgrade is in flight.
    ABORTING = "aborting", "Aborting"
    COMPLETED = "completed", "Completed"
    ABORTED = "aborted", "Aborted"
    # Every wave ended, with failed targets the failure budget allowed.
    FAILED = "failed", "Completed with failures"
    # A newer release of the same line (a patch) was registered: nothing new starts, the
    # upgrades under way finish, then it ends 'superseded' (``superseded_by`` says by what).
    SUPERSEDING = "superseding", "Being superseded"
    SUPERSEDED = "superseded", "Superseded"


# One of these per release at a time (a DB constraint); planned and ended ones do not count.
ACTIVE_ROLLOUT_STATES = (
    RolloutState.RUNNING,
    RolloutState.PAUSED,
    RolloutState.ABORTING,
    RolloutState.SUPERSEDING,
)
ENDED_ROLLOUT_STATES = (
    RolloutState.COMPLETED,
    RolloutState.ABORTED,
    RolloutState.FAILED,
    RolloutState.SUPERSEDED,
)
# The states the driver moves on its own (the beat sweep and the finished-upgrade listener).
DRIVEN_ROLLOUT_STATES = (RolloutState.RUNNING, RolloutState.ABORTING, RolloutState.SUPERSEDING)


class TargetState(models.TextChoices):
    PENDING = "pending", "Pending"
    UPGRADING = "upgrading", "Upgrading"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


RESOLVED_TARGET_STATES = (TargetState.DONE, TargetState.FAILED, TargetState.SKIPPED)


class Rollout(models.Model):
    """One release rolled out across the fleet, wave after wave.

    ``failure_budget`` is how many failed targets a wave may have and the next wave still
    start (0: the first failure pauses the rollout). ``hold_seconds`` is how long each wave
    waits after the previous one finished (the verification hold after the test instances).
    The upgrade timings, when set, are passed to every upgrade the rollout starts, and so is
    ``only_in_maintenance_windows``.
    """

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="rollouts")
    state = models.CharField(
        max_length=16, choices=RolloutState.choices, default=RolloutState.PLANNED, db_index=True
    )
    failure_budget = models.PositiveIntegerField(default=0)
    hold_seconds = models.PositiveIntegerField(default=0)
    stability_seconds = models.FloatField(null=True, blank=True)
    deadline_seconds = models.FloatField(null=True, blank=True)
    poll_seconds = models.FloatField(null=True, blank=True)
    # Chosen at creation: each upgrade starts only while its instance's weekly maintenance
    # window is open (instances without one are not held); the upgrade waits for it.
    only_in_maintenance_windows = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rollouts",
    )
    paused_reason = models.CharField(max_length=500, blank=True)
    superseded_by = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    restarted_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The rollout this one restarted the stages of (a patch release superseded it).",
    )
    # Emergency releases only: the staged schedule (earliest starts, holds) waived, once an
    # Admin approved the request (mi_admin.approvals) filed with this reason.
    schedule_waiver_reason = models.CharField(max_length=500, blank=True)
    schedule_waiver_request = models.ForeignKey(
        ApprovalRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    schedule_waived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["release"],
                condition=Q(state__in=ACTIVE_ROLLOUT_STATES),
                name="one_active_rollout_per_release",
                violation_error_message="A rollout of this release is already under way.",
            ),
            models.CheckConstraint(
                condition=~Q(state=RolloutState.PAUSED) | ~Q(paused_reason=""),
                name="paused_rollout_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=(RolloutState.SUPERSEDING, RolloutState.SUPERSEDED))
                | Q(superseded_by__isnull=False),
                name="superseded_rollout_names_release",
            ),
            models.CheckConstraint(
                condition=Q(schedule_waived_at__isnull=True)
                | (Q(schedule_waiver_request__isnull=False) & ~Q(schedule_waiver_reason="")),
                name="schedule_waiver_approved_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Rollout of {self.release.version} #{self.pk}"


class RolloutWave(models.Model):
    """One wave of a rollout: started no earlier than ``earliest_start`` (the staged schedule,
    in working days after the release) and only once the previous wave finished within the
    failure budget and its hold passed."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="waves")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    earliest_start = models.DateTimeField()
    hold_seconds = models.PositiveIntegerField(
        default=0, help_text="How long the next wave waits after this one finished."
    )
    # Cumulative shares: by the end of this wave, this percent of the trials / production
    # instances runs the release (the schedule's 30/10, 100/40, 100/100; 0 for wave 0).
    trial_pct = models.PositiveSmallIntegerField(default=0)
    production_pct = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rollout", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rollout", "position"], name="one_wave_per_position"),
            models.CheckConstraint(
                condition=Q(trial_pct__lte=100) & Q(production_pct__lte=100),
                name="wave_share_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return f"Wave {self.position}: {self.name}"


class RolloutTarget(models.Model):
    """One instance in one wave of a rollout, and the upgrade operation that moves it.

    ``sla_deadline`` is the instance's version-SLA deadline when planned; the plan flags a
    target whose wave starts after it (:attr:`late`).
    """

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="targets")
    wave = models.ForeignKey(RolloutWave, on_delete=models.CASCADE, related_name="targets")
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        max_length=16, choices=TargetState.choices, default=TargetState.PENDING, db_index=True
    )
    skip_reason = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    operation = models.ForeignKey(
        Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    sla_deadline = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["wave__position", "instance__slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["rollout", "instance"], name="one_target_per_instance_per_rollout"
            ),
            models.CheckConstraint(
                condition=~Q(state=TargetState.SKIPPED) | ~Q(skip_reason=""),
                name="skipped_target_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(state=TargetState.UPGRADING) | Q(operation__isnull=False),
                name="upgrading_target_has_operation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instance} in {self.wave}"

    @property
    def late(self) -> bool:
        """The planned wave starts after the instance's version-SLA deadline."""
        return self.sla_deadline is not None and self.wave.earliest_start > self.sla_deadline


class FleetFreeze(models.Model):
    """The fleet-wide freeze switch (one row, id 1): while ``active``, no rollout starts a
    new upgrade. Set and lifted by an Admin, with a reason; every change is audited."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    active = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="fleet_freeze_singleton"),
            models.CheckConstraint(
                condition=Q(active=False) | ~Q(reason=""), name="fleet_freeze_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Freeze: {self.reason}" if self.active else "No freeze"
