"""The Celery app the fault tests' workers run: MI Admin's own, plus one runner that changes
GCP (stop the VM, then read it back), so a test can count mutations across a killed worker.

It stands in for the suspend runner (not built yet) and is built the way the upgrade runner
is: each step through ``step_run``, the mutation with a requestId derived from the operation.
"""

from __future__ import annotations

from typing import Any

import django

django.setup()

from instances import gcp  # noqa: E402  (after django.setup())
from instances.choices import OperationKind  # noqa: E402
from instances.models import Operation  # noqa: E402
from instances.runners import RUNNERS  # noqa: E402
from instances.services.operations import step_run  # noqa: E402
from mi_admin.celery import app  # noqa: E402

STOP_STEP = "Stop the VM"
CONFIRM_STEP = "Read the VM back"


def run_stop_vm(operation: Operation) -> dict[str, Any]:
    instance = operation.instance
    assert instance is not None
    where = {"project": instance.gcp_project, "zone": instance.gcp_zone, "name": instance.vm_name}

    def stop() -> tuple[str, dict[str, Any]]:
        done = gcp.vm_stop(**where, request_id=gcp.request_id_for(f"op-{operation.pk}-stop"))
        return "VM stopped", {"gcp_operation": done.name}

    def confirm() -> tuple[str, dict[str, Any]]:
        vm = gcp.vm_get(**where)
        return f"VM is {vm.status}", {"status": vm.status}

    step_run(operation=operation, name=STOP_STEP, work=stop)
    return step_run(operation=operation, name=CONFIRM_STEP, work=confirm)


RUNNERS[OperationKind.SUSPEND] = run_stop_vm

__all__ = ["app"]
