"""Inventory sync of one instance, or of the whole fleet when the operation has none."""

from __future__ import annotations

from typing import Any

from instances.choices import StepState
from instances.models import Operation
from instances.services.inventory import fleet_sync, instance_sync
from instances.services.operations import step_begin, step_end


def run_sync(operation: Operation) -> dict[str, Any]:
    if operation.instance is None:
        step = step_begin(operation=operation, name="Read every VM from GCP")
        report = fleet_sync()
        step_end(step=step, detail=report.summary())
        return report.as_dict()
    instance = operation.instance
    step = step_begin(
        operation=operation, name=f"Read VM {instance.vm_name} in {instance.gcp_project}"
    )
    outcome = instance_sync(instance=instance)
    if outcome.error:
        step_end(step=step, state=StepState.FAILED, detail=outcome.error)
        raise RuntimeError(outcome.error)
    step_end(step=step, detail="VM read" if outcome.drift != "vm_missing" else "VM not found")
    step = step_begin(operation=operation, name="Update the inventory")
    step_end(
        step=step,
        detail=("changed" if outcome.changed else "unchanged")
        + (f"; drift: {outcome.drift}" if outcome.drift else "; no drift"),
    )
    return {"changed": outcome.changed, "drift": outcome.drift}
