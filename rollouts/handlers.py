"""What the rollouts app registers with the layers below it at start-up: the finished-
operation listener (a rollout advances as soon as one of its upgrades ends), the approval
subject of an emergency release's schedule waiver, and the hook that lets a newly recorded
patch release supersede the rollout of the release it replaces.

Each is prompt, not certain (a process may die between the commit and the hook): the beat
task ``rollouts_advance`` does the same work every 15 s.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

from instances.models import Operation, Release
from instances.services.operations import register_finished_listener
from mi_admin.approvals.registry import register_subject
from rollouts.services import (
    WAIVER_KIND,
    release_recorded,
    rollout_schedule_waiver_decided,
    rollout_upgrade_finished,
)

logger = logging.getLogger(__name__)


def operation_finished(operation: Operation) -> None:
    rollout_upgrade_finished(operation=operation)


def release_saved(sender: type[Release], instance: Release, created: bool, **kwargs: Any) -> None:
    if not created or kwargs.get("raw"):
        return
    release_id = instance.pk

    def supersede() -> None:
        try:
            release_recorded(release_id=release_id)
        except Exception:
            # The beat's sweep supersedes it at its next run.
            logger.exception("release %s: superseding rollouts failed", release_id)

    transaction.on_commit(supersede)


def register() -> None:
    register_finished_listener(operation_finished)
    register_subject(
        WAIVER_KIND, label="Emergency schedule waiver", on_decided=rollout_schedule_waiver_decided
    )
    post_save.connect(release_saved, sender=Release, dispatch_uid="rollouts.release_saved")
