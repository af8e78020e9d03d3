"""Inventory sync of one instance, or of the whole fleet when the operation has none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from instances.choices import StepState
from instances.models import Operation, OperationStep
from instances.services.inventory import fleet_sync, instance_sync
from instances.services.operations import step_begin, step_end


@contextmanager
def _step(operation: Operation, name: str) -> Iterator[OperationStep]:
    """A step that is closed as failed, with the error, if its work raises: a failed step is
    never left "running" (a retry of the task starts a new step of the same name). A step
    is only left running when the worker itself dies, so the next attempt picks it up."""
    step = step_begin(operation=operation, name=name)
    try:
        yield step
    except Exception as exc:
        if step.state == StepState.RUNNING:  # not already closed with its own reason
            step_end(step=step, state=StepState.FAILED, detail=f"{type(exc).__name__}: {exc}")
        raise


def run_sync(operation: Operation) -> dict[str, Any]:
    if operation.instance is None:
        with _step(operation, "Read every VM from GCP") as step:
            report = fleet_sync()
            step_end(step=step, detail=report.summary())
        return report.as_dict()
    instance = operation.instance
    with _step(operation, f"Read VM {instance.vm_name} in {instance.gcp_project}") as step:
        outcome = instance_sync(instance=instance)
        if outcome.error:
            step_end(step=step, state=StepState.FAILED, detail=outcome.error)
            raise RuntimeError(outcome.error)
        step_end(step=step, detail="VM read" if outcome.drift != "vm_missing" else "VM not found")
    with _step(operation, "Update the inventory") as step:
        step_end(
            step=step,
            detail=("changed" if outcome.changed else "unchanged")
            + (f"; drift: {outcome.drift}" if outcome.drift else "; no drift"),
        )
    return {"changed": outcome.changed, "drift": outcome.drift}
