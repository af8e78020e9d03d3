"""Reads for the rollout pages (a fixed number of queries per page)."""

from __future__ import annotations

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
