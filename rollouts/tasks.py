"""The rollout driver's beat task (thin: the work is in services)."""

from __future__ import annotations

from celery import shared_task

from rollouts.services import rollouts_advance_all


@shared_task(acks_late=True, ignore_result=True)
def rollouts_advance() -> list[int]:
    """Advance every running or aborting rollout one step (safe to run twice: row locks
    and idempotency keys)."""
    return rollouts_advance_all()
