"""The rollout driver's beat task (thin: the work is in services)."""

from __future__ import annotations

from celery import Task, shared_task

from rollouts.services import (
    rollout_advance,
    rollouts_advance_after_operation,
    rollouts_advance_all,
)


@shared_task(acks_late=True, ignore_result=True)
def rollouts_advance() -> list[int]:
    """Advance every running or aborting rollout one step (safe to run twice: row locks
    and idempotency keys)."""
    return rollouts_advance_all()


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=40)
def rollouts_advance_after(self: Task, operation_id: int) -> None:
    """Queued by the finished-operation listener when an upgrade ends: advance the rollouts
    now. A rollout another driver run holds is asked again in a quarter second (a run that
    started before this upgrade ended may not have seen it); past the retries, the beat
    task does it. Safe to run twice."""
    busy = rollouts_advance_after_operation(operation_id=operation_id)
    if busy:
        raise self.retry(countdown=0.25)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=40)
def rollout_advance_soon(self: Task, rollout_id: int) -> None:
    """Queued by a driver run that had more upgrades to ask for than one batch: the next
    batch, right after its commit. A held rollout is asked again shortly (as above)."""
    if rollout_advance(rollout_id=rollout_id, skip_locked=True) is None:
        raise self.retry(countdown=0.25)
