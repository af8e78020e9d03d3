"""Inventory sync of one instance, or of the whole fleet when the operation has none."""

from __future__ import annotations

from typing import Any

from instances.models import Operation
from instances.services.inventory import fleet_sync, instance_sync
from instances.services.operations import StepFailed, step_run


def run_sync(operation: Operation) -> dict[str, Any]:
    if operation.instance is None:

        def read_fleet() -> tuple[str, dict[str, Any]]:
            report = fleet_sync()
            return report.summary(), report.as_dict()

        return step_run(operation=operation, name="Read every VM from GCP", work=read_fleet)
    instance = operation.instance

    def read_vm() -> tuple[str, dict[str, Any]]:
        outcome = instance_sync(instance=instance)
        if outcome.error:
            raise StepFailed(outcome.error)
        detail = "VM read" if outcome.drift != "vm_missing" else "VM not found"
        return detail, {"changed": outcome.changed, "drift": outcome.drift}

    read = step_run(
        operation=operation,
        name=f"Read VM {instance.vm_name} in {instance.gcp_project}",
        work=read_vm,
    )

    def record() -> tuple[str, dict[str, Any]]:
        detail = ("changed" if read["changed"] else "unchanged") + (
            f"; drift: {read['drift']}" if read["drift"] else "; no drift"
        )
        return detail, {}

    step_run(operation=operation, name="Update the inventory", work=record)
    return {"changed": read["changed"], "drift": read["drift"]}
