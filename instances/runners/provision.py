"""The ``provision_verify`` operation: "Terraform applied" is ticked only when GCP has the
VM and it runs. Read-only towards GCP, so a resumed run simply reads again."""

from __future__ import annotations

from typing import Any

from instances import gcp
from instances.models import Operation
from instances.services.operations import StepFailed, step_run
from instances.services.provisioning import provisioning_terraform_record


def run_provision_verify(operation: Operation) -> dict[str, Any]:
    instance = operation.instance
    if instance is None:
        raise StepFailed("A VM verification needs an instance.")
    where = f"{instance.gcp_project}/{instance.gcp_zone}"

    def read_vm() -> tuple[str, dict[str, Any]]:
        try:
            vm = gcp.vm_get(
                project=instance.gcp_project, zone=instance.gcp_zone, name=instance.vm_name
            )
        except gcp.GcpNotFound as exc:
            raise StepFailed(
                f"No VM {instance.vm_name} in {where}: Terraform has not created it yet (or the "
                "instance names another project, zone or VM). Terraform applied stays unticked."
            ) from exc
        except gcp.GcpPermanentError as exc:
            raise StepFailed(
                f"Could not read VM {instance.vm_name} in {where}: {exc}. "
                "Terraform applied stays unticked."
            ) from exc
        if vm.status != "RUNNING":
            raise StepFailed(
                f"VM {instance.vm_name} in {where} is {vm.status or 'in no state'}, not RUNNING: "
                "wait for Terraform to finish and verify again. Terraform applied stays unticked."
            )
        detail = f"VM {vm.name} in {where} is RUNNING ({vm.machine_type or 'type unknown'})"
        return detail, {"status": vm.status, "machine_type": vm.machine_type, "detail": detail}

    read = step_run(
        operation=operation, name=f"Read VM {instance.vm_name} in {where}", work=read_vm
    )

    def tick() -> tuple[str, dict[str, Any]]:
        ticked = provisioning_terraform_record(operation=operation, vm_detail=read["detail"])
        return (
            "Ticked Terraform applied" if ticked else "Already ticked, or no longer provisioning"
        ), {"ticked": ticked}

    ticked = step_run(operation=operation, name="Tick Terraform applied", work=tick)
    return {"vm_status": read["status"], "ticked": ticked["ticked"]}
