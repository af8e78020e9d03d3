"""Monitoring reacts at once when an instance is suspended, resumed or torn down.

``instances`` finishes the operation; this listener (registered in ``HealthConfig.ready``)
queues a refresh of that one instance's health by name. The minute sweep does the same for
every instance, so a lost hook only delays it to the next sweep.
"""

from __future__ import annotations

from instances.choices import OperationKind, OperationState
from instances.models import Operation
from mi_admin.queue import task_enqueue

LIFECYCLE_KINDS = (OperationKind.SUSPEND, OperationKind.RESUME, OperationKind.TEARDOWN)
REFRESH_TASK = "health.tasks.health_instance_refresh"


def lifecycle_operation_finished(operation: Operation) -> None:
    """After a successful suspend / resume / teardown, refresh that instance's health."""
    if operation.kind not in LIFECYCLE_KINDS or operation.state != OperationState.SUCCEEDED:
        return
    if operation.instance_id is None:
        return
    task_enqueue(REFRESH_TASK, operation.instance_id)
