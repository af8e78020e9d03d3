"""Reads for the rollout pages (a fixed number of queries per page)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from instances.models import Release
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


def rollout_detail(*, pk: int) -> Rollout | None:
    """A rollout with its waves and their targets (instance, operation) loaded."""
    return (
        Rollout.objects.select_related("release", "created_by")
        .prefetch_related(
            "waves__targets__instance",
            "waves__targets__operation",
        )
        .filter(pk=pk)
        .first()
    )


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
