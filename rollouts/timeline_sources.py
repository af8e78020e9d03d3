"""Rollouts on the instance timeline (registered by ``RolloutsConfig.ready``): the
instance's place in each rollout, at its upgrade's end (or the rollout's start, before)."""

from __future__ import annotations

from datetime import datetime

from django.db.models.functions import Coalesce
from django.urls import reverse

from instances.models import Instance
from instances.timeline import TimelineEvent, newest_events, register_timeline_source
from rollouts.models import RolloutTarget


def _target_event(target: RolloutTarget) -> TimelineEvent:
    return TimelineEvent(
        at=target.at,  # type: ignore[attr-defined]  # the annotation below
        kind="rollout",
        title=f"Rollout #{target.rollout_id} to {target.rollout.release.version}",
        detail=target.get_state_display(),
        outcome=target.state,
        url=reverse("rollouts:rollout_detail", args=[target.rollout_id]),
    )


def target_events(instance: Instance, before: datetime | None, limit: int) -> list[TimelineEvent]:
    targets = (
        RolloutTarget.objects.filter(instance=instance)
        .annotate(
            at=Coalesce("operation__finished_at", "rollout__started_at", "rollout__created_at")
        )
        .select_related("rollout__release")
    )
    return newest_events(targets, at="at", before=before, limit=limit, event=_target_event)


def register() -> None:
    register_timeline_source("rollout", target_events, label="Rollouts", order=70)
