"""The Celery app the fault tests' workers run: MI Admin's own, plus one runner that changes
GCP (stop the VM, then read it back), so a test can count mutations across a killed worker.

It runs in place of the real suspend runner only for a suspend operation whose params say
``{"stand_in": "stop-vm"}`` (the generic fault test); any other suspend runs the real one
(instances/runners/lifecycle.py). Built the way the real runners are: each step through
``step_run``, the mutation with a requestId derived from the operation.
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


STAND_IN = {"stand_in": "stop-vm"}
_real_suspend = RUNNERS[OperationKind.SUSPEND]


def run_suspend_or_stand_in(operation: Operation) -> dict[str, Any]:
    if operation.params.get("stand_in") == STAND_IN["stand_in"]:
        return run_stop_vm(operation)
    return _real_suspend(operation)


RUNNERS[OperationKind.SUSPEND] = run_suspend_or_stand_in

__all__ = ["app"]
