"""Celery tasks of the instances app: thin wrappers that claim, run and finish.

Every task is safe to run twice: ``operation_claim`` locks the row and skips finished
operations, and each runner's steps are idempotent. Only transient GCP errors are retried,
with exponential backoff; anything else fails the operation with its message.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from celery.app.task import Task
from django.core.cache import cache

from instances import gcp
from instances.choices import OperationState
from instances.runners import RUNNERS
from instances.services.inventory import fleet_sync
from instances.services.operations import operation_claim, operation_finish

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


def _backoff(retries: int) -> float:
    return float(min(300, 2 ** (retries + 1)) + random.uniform(0, 1))  # noqa: S311 (jitter)


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def operation_run(self: Task, operation_id: int) -> str:
    operation = operation_claim(operation_id=operation_id)
    if operation is None:
        logger.info("operation %s: nothing to do (finished or gone)", operation_id)
        return "skipped"
    runner = RUNNERS.get(operation.kind)
    if runner is None:
        operation_finish(
            operation=operation,
            state=OperationState.FAILED,
            error=f"No runner for {operation.kind} operations yet.",
        )
        return OperationState.FAILED
    try:
        result = runner(operation)
    except gcp.GcpTransientError as exc:
        if self.request.retries >= MAX_RETRIES:
            operation_finish(
                operation=operation,
                state=OperationState.FAILED,
                error=f"Gave up after {MAX_RETRIES} retries: {exc}",
            )
            return OperationState.FAILED
        logger.warning("operation %s: transient error, retrying: %s", operation_id, exc)
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except Exception as exc:
        logger.exception("operation %s failed", operation_id)
        operation_finish(operation=operation, state=OperationState.FAILED, error=str(exc))
        return OperationState.FAILED
    operation_finish(operation=operation, state=OperationState.SUCCEEDED, result=result)
    return OperationState.SUCCEEDED


@shared_task(acks_late=True)
def inventory_sync_fleet() -> dict[str, int]:
    """The periodic sweep (beat, every 5 minutes). Skips if the previous one still runs."""
    if not cache.add("lock:inventory_sync_fleet", "1", timeout=600):
        logger.info("inventory sync already running; skipping this beat")
        return {}
    try:
        return fleet_sync().as_dict()
    finally:
        cache.delete("lock:inventory_sync_fleet")
