"""Reads for the rollout pages (a fixed number of queries per page)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from instances.choices import InstanceKind, OperationKind, OperationState
from instances.models import Operation, Release
from rollouts.models import FleetFreeze, Rollout, RolloutTarget, TargetState


def rollout_list() -> QuerySet[Rollout]:
    """Rollouts, newest first, with their release and target counts (one query a page)."""
    return (
        Rollout.objects.select_related("release", "created_by")
        .annotate(
            target_count=Count("targets"),
            done_count=Count("targets", filter=Q(targets__state=TargetState.DONE)),
            failed_count=Count("targets", filter=Q(targets__state=TargetState.FAILED)),
        )
        .order_by("-created_at", "-pk")
    )


def rollout_get(*, pk: int) -> Rollout | None:
    """A rollout and its release (one query)."""
    return Rollout.objects.select_related("release").filter(pk=pk).first()


def rollout_detail(*, pk: int) -> Rollout | None:
    """A rollout with its waves and their targets (instance, operation) loaded."""
    return (
        Rollout.objects.select_related(
            "release", "created_by", "superseded_by", "schedule_waiver_request"
        )
        .prefetch_related(
            "waves__targets__instance",
            "waves__targets__operation",
        )
        .filter(pk=pk)
        .first()
    )


def rollout_restarted_by(*, rollout: Rollout) -> Rollout | None:
    """The rollout that restarted the stages of a superseded ``rollout`` (no query unless it
    was superseded)."""
    if rollout.superseded_by_id is None:
        return None
    return Rollout.objects.filter(restarted_from=rollout).order_by("pk").first()


def rollout_target_get(*, rollout: Rollout, pk: int) -> RolloutTarget | None:
    return RolloutTarget.objects.filter(rollout=rollout, pk=pk).first()


def release_choices() -> list[Release]:
    return list(Release.objects.order_by("-released_at")[:20])


def fleet_freeze() -> FleetFreeze | None:
    """The freeze row when the fleet is frozen, else None."""
    return FleetFreeze.objects.filter(pk=1, active=True).select_related("changed_by").first()


@dataclass(frozen=True)
class WaveProjection:
    """When a wave is expected to start and finish, and how many of its instances would
    then be upgraded after their version-SLA deadline."""

    start: datetime
    finish: datetime
    late: int


# When no upgrade of the rollout has finished yet: the stability window plus this much for
# the backup, the metadata write and the wait for the version.
_UPGRADE_OVERHEAD_SECONDS = 60.0


def _upgrade_seconds(rollout: Rollout, targets: list[RolloutTarget]) -> float:
    took = [
        (t.operation.finished_at - t.operation.started_at).total_seconds()
        for t in targets
        if t.state == TargetState.DONE
        and t.operation is not None
        and t.operation.started_at is not None
        and t.operation.finished_at is not None
    ]
    if took:
        return sum(took) / len(took)
    stability = rollout.stability_seconds
    if stability is None:
        stability = float(settings.UPGRADE_STABILITY_SECONDS)
    return stability + _UPGRADE_OVERHEAD_SECONDS


def rollout_projection(*, rollout: Rollout, now: datetime) -> dict[int, WaveProjection]:
    """Each wave's projected start and finish (by wave id), from the loaded waves and
    targets (no query): a wave starts at its earliest start, after the previous wave's
    projected finish and hold; it takes ceil(upgrades left / UPGRADE_CONCURRENCY) times the mean
    upgrade time of this rollout so far (an estimate before the first one finished)."""
    waves = list(rollout.waves.all())
    every = [t for wave in waves for t in wave.targets.all()]
    each = timedelta(seconds=_upgrade_seconds(rollout, every))
    slots = max(1, int(settings.UPGRADE_CONCURRENCY))
    projected: dict[int, WaveProjection] = {}
    previous_end: datetime | None = None
    previous_hold = 0
    for wave in waves:
        left = [
            t for t in wave.targets.all() if t.state in (TargetState.PENDING, TargetState.UPGRADING)
        ]
        if wave.finished_at is not None:
            start, finish = wave.started_at or wave.finished_at, wave.finished_at
        else:
            start = wave.started_at or max(
                [wave.earliest_start, now]
                + ([previous_end + timedelta(seconds=previous_hold)] if previous_end else [])
            )
            finish = max(start, now) + each * math.ceil(len(left) / slots)
        late = sum(1 for t in left if t.sla_deadline is not None and finish > t.sla_deadline)
        projected[wave.pk] = WaveProjection(start, finish, late)
        previous_end, previous_hold = finish, wave.hold_seconds
    return projected


@dataclass(frozen=True)
class EvidenceRow:
    """One upgrade of a rollout, with what vouched for it: for a customer upgrade, the
    last verified (succeeded) test-instance upgrade to the same release finished before it
    started; the backup taken before it (a v1.0 disk snapshot or a v1.1 Cloud SQL backup);
    its health summary."""

    target: RolloutTarget
    test_instance: bool
    started_at: datetime | None
    finished_at: datetime | None
    outcome: str
    backup: str
    health: str
    verified_on: str  # the test instance's slug, "" when none preceded it
    verified_at: datetime | None

    def as_csv(self) -> dict[str, object]:
        return {
            "wave": self.target.wave.name,
            "instance": self.target.instance.slug,
            "kind": self.target.instance.kind,
            "operation": self.target.operation_id,
            "started_at": self.started_at.isoformat() if self.started_at else "",
            "finished_at": self.finished_at.isoformat() if self.finished_at else "",
            "outcome": self.outcome,
            "backup": self.backup,
            "health": self.health,
            "verified_on": self.verified_on,
            "verified_at": self.verified_at.isoformat() if self.verified_at else "",
        }


EVIDENCE_COLUMNS = (
    "wave",
    "instance",
    "kind",
    "operation",
    "started_at",
    "finished_at",
    "outcome",
    "backup",
    "health",
    "verified_on",
    "verified_at",
)


def _backup_text(operation: Operation) -> str:
    """``snapshot <name>`` (v1.0) or ``Cloud SQL backup <id> of <instance>`` (v1.1)."""
    result = operation.result if isinstance(operation.result, dict) else {}
    backup = result.get("backup")
    if isinstance(backup, dict) and backup.get("kind") == "cloud_sql":
        return f"Cloud SQL backup {backup.get('id')} of {backup.get('instance')}"
    if isinstance(backup, dict) and backup.get("kind") == "snapshot":
        return f"snapshot {backup.get('name')}"
    # Upgrades recorded before the backup kinds: a snapshot's name only.
    return f"snapshot {result['snapshot']}" if result.get("snapshot") else ""


def _health_text(operation: Operation) -> str:
    health = operation.result.get("health") if isinstance(operation.result, dict) else None
    stability = health.get("stability") if isinstance(health, dict) else None
    if isinstance(stability, dict) and "probes" in stability:
        lat = stability.get("latency_ms") or {}
        latency = f"; latency {lat['min']}-{lat['max']} ms" if "min" in lat else ""
        return f"{stability.get('healthy')} of {stability.get('probes')} probes healthy{latency}"
    return operation.error[:200] if operation.error else ""


def rollout_evidence(*, rollout: Rollout) -> list[EvidenceRow]:
    """Every upgrade the rollout asked for, test instances first, then customers in the
    order they finished (two queries whatever the size)."""
    targets = list(
        RolloutTarget.objects.filter(rollout=rollout, operation__isnull=False)
        .select_related("wave", "instance", "operation")
        .order_by("wave__position", "operation__finished_at", "instance__slug")
    )
    verified = list(
        Operation.objects.filter(
            kind=OperationKind.UPGRADE,
            state=OperationState.SUCCEEDED,
            instance__kind=InstanceKind.INTERNAL,
            params__target=rollout.release.version,
            finished_at__isnull=False,
        )
        .select_related("instance")
        .order_by("finished_at")
    )
    rows = []
    for target in targets:
        operation = target.operation
        assert operation is not None  # filtered above
        internal = target.instance.kind == InstanceKind.INTERNAL
        before = None
        if not internal and operation.started_at is not None:
            earlier = [
                v for v in verified if v.finished_at and v.finished_at < operation.started_at
            ]
            before = earlier[-1] if earlier else None
        rows.append(
            EvidenceRow(
                target=target,
                test_instance=internal,
                started_at=operation.started_at,
                finished_at=operation.finished_at,
                outcome=operation.get_state_display(),
                backup=_backup_text(operation),
                health=_health_text(operation),
                verified_on=before.instance.slug if before and before.instance else "",
                verified_at=before.finished_at if before else None,
            )
        )
    # Test instances first, whatever wave a person moved them to.
    rows.sort(key=lambda r: not r.test_instance)
    return rows


def release_by_version(*, version: str) -> Release | None:
    """The registered release of ``version`` ("6.10.0"), or None."""
    return Release.objects.filter(version=version).first()
