"""Celery tasks of the instances app: thin wrappers that claim, run and finish.

Every task is safe to run twice: ``operation_claim`` takes the operation's lease with a
conditional UPDATE and skips finished or claimed operations, and each runner skips the steps
a previous attempt finished. Only transient errors (GCP's, or a runner's
``OperationTransient``) are retried, with exponential backoff
within ``OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS``; anything else fails the operation with
its message. ``operation_dispatch_pending`` (beat) re-sends what the broker lost and resumes
operations whose worker died.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.app.task import Task
from django.core.cache import cache

from instances import gcp
from instances.choices import OperationKind, OperationState
from instances.models import Operation
from instances.runners import RUNNERS, Runner
from instances.services import operations as operation_services
from instances.services import trials
from instances.services.inventory import fleet_sync
from instances.services.operations import (
    LeaseKeeper,
    LeaseLost,
    OperationDeferred,
    OperationFailed,
    OperationTransient,
    operation_claim,
    operation_defer,
    operation_finish,
    operation_retry_later,
)
from instances.services.upgrades import upgrade_wake_next
from mi_admin.logs import log_context

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def operation_run(operation_id: int) -> str:
    with log_context(operation_id=str(operation_id)):
        return _claim_and_run(operation_id)


def _claim_and_run(operation_id: int) -> str:
    operation = operation_claim(operation_id=operation_id)
    if operation is None:
        logger.info("operation %s: nothing to do (finished, claimed or not due)", operation_id)
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
        return _run(operation, runner)
    finally:
        if operation.kind == OperationKind.UPGRADE and operation.state != OperationState.RUNNING:
            # Its slot may be free now: start a waiting upgrade instead of at its next ask.
            upgrade_wake_next()


def _run(operation: Operation, runner: Runner) -> str:
    with LeaseKeeper(operation):
        try:
            result = runner(operation)
        except gcp.GcpTransientError as exc:
            return operation_retry_later(operation=operation, error=str(exc)).state
        except OperationTransient as exc:
            return operation_retry_later(
                operation=operation, error=str(exc), service=exc.service
            ).state
        except OperationDeferred as exc:
            operation_defer(operation=operation, seconds=exc.seconds, reason=str(exc))
            return "deferred"
        except LeaseLost:
            logger.warning("operation %s: another worker took it over; stopping", operation.pk)
            return "lease lost"
        except OperationFailed as exc:
            operation_finish(
                operation=operation, state=OperationState.FAILED, error=str(exc), result=exc.result
            )
            return OperationState.FAILED
        except Exception as exc:
            logger.exception("operation %s failed", operation.pk)
            operation_finish(operation=operation, state=OperationState.FAILED, error=str(exc))
            return OperationState.FAILED
        operation_finish(operation=operation, state=OperationState.SUCCEEDED, result=result)
    return OperationState.SUCCEEDED


@shared_task(acks_late=True)
def operation_dispatch_pending() -> int:
    """Send operations the broker never delivered; resume those whose worker died.

    Beat sends it every ``OPERATION_DISPATCH_SECONDS``. A run is one indexed query when
    there is nothing to send, so the runs queued while no worker listened drain quickly."""
    return len(operation_services.operation_dispatch_pending())


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


@shared_task(acks_late=True)
def trials_check() -> dict[str, object]:
    """Hourly (beat): ask owning CEs about trials ending soon, page DevOps about expired
    ones, each once (unique rows), and queue every notice not sent yet."""
    return trials.trials_check().as_dict()


NOTICE_SEND_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=NOTICE_SEND_RETRIES)
def trial_notice_send(self: Task, notice_id: int) -> dict[str, object]:
    """Send one trial notice to the channels it has not reached; retry transient failures
    (the hourly check queues what is still unsent after that)."""
    report = trials.trial_notice_send(notice_id=notice_id)
    if report.retry and self.request.retries < NOTICE_SEND_RETRIES:
        raise self.retry(countdown=min(300, 2 ** (self.request.retries + 2)))
    return {"sent": report.sent, "failed": report.failed}
