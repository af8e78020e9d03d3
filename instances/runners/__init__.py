"""What each kind of operation does, step by step. A runner gets a claimed (running)
operation, records its steps, and returns a result dict; errors propagate to the task.

A runner may run again on the same operation (its worker died, or a transient GCP error
is retried), so each step goes through ``step_run``: a step already done is skipped and its
recorded output reused, and a change to GCP is never made twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from instances.choices import OperationKind
from instances.models import Operation
from instances.runners.lifecycle import run_resume, run_suspend, run_teardown
from instances.runners.provision import run_provision_verify
from instances.runners.sync import run_sync
from instances.runners.upgrade import run_rollback, run_upgrade

Runner = Callable[[Operation], dict[str, Any]]

RUNNERS: dict[str, Runner] = {
    OperationKind.SYNC: run_sync,
    OperationKind.UPGRADE: run_upgrade,
    OperationKind.ROLLBACK: run_rollback,
    OperationKind.SUSPEND: run_suspend,
    OperationKind.RESUME: run_resume,
    OperationKind.TEARDOWN: run_teardown,
    OperationKind.PROVISION_VERIFY: run_provision_verify,
}


def register_runner(kind: str, runner: Runner) -> None:
    """A domain app adds the runner of an operation kind it owns (from its
    ``AppConfig.ready()``), so instances never imports the app; the same kind again
    replaces it."""
    RUNNERS[kind] = runner
