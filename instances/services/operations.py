"""Operations: creating them (in the caller's transaction), and the step log a runner keeps.

A runner calls :func:`operation_claim` first: it locks the row and refuses to run an
operation that already finished, so a task delivered twice (acks_late, worker lost) never
repeats completed work.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from instances.choices import (
    TERMINAL_OPERATION_STATES,
    OperationKind,
    OperationState,
    StepState,
)
from instances.models import Instance, Operation, OperationStep
from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)

Enqueue = Callable[[int, str], None]


def _enqueue_operation(operation_id: int, task_id: str) -> None:
    # services → tasks: creating an operation queues its task; imported at call time because
    # instances.tasks imports this module at load time.
    from instances.tasks import operation_run

    operation_run.apply_async(args=(operation_id,), task_id=task_id)


def operation_create(
    *,
    kind: OperationKind,
    actor: User | None,
    instance: Instance | None = None,
    params: dict[str, Any] | None = None,
    idempotency_key: str = "",
    enqueue: Enqueue = _enqueue_operation,
) -> tuple[Operation, bool]:
    """Create an operation and queue it once the transaction commits.

    Returns ``(operation, created)``. The same idempotency key (a form re-submitted, a
    double click) gives back the first operation; so does asking for an operation of a
    kind already pending or running on the same target.
    """
    key = idempotency_key or uuid.uuid4().hex
    with transaction.atomic():
        existing = Operation.objects.filter(idempotency_key=key).first()
        if existing is None:
            existing = (
                Operation.objects.select_for_update()
                .filter(kind=kind, instance=instance)
                .exclude(state__in=TERMINAL_OPERATION_STATES)
                .first()
            )
        if existing is not None:
            return existing, False
        task_id = uuid.uuid4().hex
        operation = Operation.objects.create(
            kind=kind,
            actor=actor,
            instance=instance,
            params=params or {},
            idempotency_key=key,
            celery_task_id=task_id,
        )
        audit_record(
            action=f"operation.{kind}.requested",
            actor=actor,
            obj=operation,
            after={
                "kind": kind,
                "instance": instance.slug if instance else None,
                "params": params or {},
            },
        )
        transaction.on_commit(lambda: enqueue(operation.pk, task_id))
    return operation, True


def operation_claim(*, operation_id: int) -> Operation | None:
    """Mark the operation running, or return None if there is nothing (left) to do."""
    with transaction.atomic():
        operation = (
            Operation.objects.select_for_update(of=("self",))
            .select_related("instance")
            .filter(pk=operation_id)
            .first()
        )
        if operation is None or operation.state in TERMINAL_OPERATION_STATES:
            return None
        operation.state = OperationState.RUNNING
        operation.attempts += 1
        operation.started_at = operation.started_at or timezone.now()
        operation.save(update_fields=["state", "attempts", "started_at"])
    return operation


def operation_finish(
    *,
    operation: Operation,
    state: OperationState,
    error: str = "",
    result: dict[str, Any] | None = None,
) -> Operation:
    with transaction.atomic():
        operation.state = state
        operation.error = error
        operation.result = result or operation.result
        operation.finished_at = timezone.now()
        operation.save(update_fields=["state", "error", "result", "finished_at"])
        audit_record(
            action=f"operation.{operation.kind}.{state}",
            actor=operation.actor,
            obj=operation,
            after={"state": state, "error": error, "result": operation.result},
        )
    logger.info("operation %s finished: %s", operation.pk, state)
    return operation


def step_begin(*, operation: Operation, name: str) -> OperationStep:
    """Start a step, or pick up the same step left running by a previous attempt."""
    last = operation.steps.order_by("-position").first()
    if last is not None and last.name == name and last.state == StepState.RUNNING:
        return last
    return OperationStep.objects.create(
        operation=operation,
        position=(last.position + 1) if last else 1,
        name=name,
        started_at=timezone.now(),
    )


def step_end(*, step: OperationStep, state: StepState = StepState.DONE, detail: str = "") -> None:
    step.state = state
    step.detail = detail
    step.finished_at = timezone.now()
    step.save(update_fields=["state", "detail", "finished_at"])
