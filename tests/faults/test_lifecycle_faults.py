"""Workers SIGKILLed in the middle of a suspend, a resume and a teardown: another worker
resumes each from its recorded steps, and GCP is changed once (one snapshot, one stop, one
start, one deletion per resource: a resent step carries the same requestId, so the
simulator answers it with the first operation, and its resources say so)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from instances.choices import Architecture, LifecycleState, OperationState, StepState
from instances.models import Customer, DeletedResource, DeletionRecord, Instance, Operation
from instances.runners.lifecycle import (
    PRECHECK,
    RESUME_MARK,
    RESUME_START,
    RESUME_WAIT,
    SUSPEND_MARK,
    SUSPEND_PRUNE,
    SUSPEND_SNAPSHOT,
    SUSPEND_STOP,
)
from instances.services.lifecycle import (
    instance_resume,
    instance_suspend,
    instance_teardown_schedule,
)
from mi_admin.audit.models import AuditEvent
from tests.faults.conftest import LEASE_SECONDS, Stack, wait_for
from tests.fixtures.personas import make_persona

pytestmark = pytest.mark.faults

SLUG = "acme-prod"
STOP = "compute.instances.stop"


def _instance(stack: Stack, state: str = LifecycleState.ACTIVE, **spec: Any) -> Instance:
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    instance = Instance.objects.create(
        customer=customer,
        slug=SLUG,
        url=stack.fleetsim.instance_url(SLUG),
        kind="production",
        architecture=Architecture.V1_0,
        state=state,
        gcp_project=f"sourcegraph-managed-{SLUG}",
        vm_name="default-red-instance",
        data_disk="default-red-data-disk",
        observed_version="6.10.0",
    )
    vm: dict[str, Any] = {"slug": SLUG, "project": instance.gcp_project, **spec}
    stack.fleetsim.upsert_instances([vm])
    return instance


def _broker_down(*_: object) -> None:
    # The test process publishes to the suite's broker, not the stack's: leave the row
    # unsent, for the stack's dispatcher to send (as after a broker outage).
    raise ConnectionError("not this broker")


def _kill_in(stack: Stack, pids: dict[int, str], operation: Operation, step: str, call: str) -> int:
    """SIGKILL the worker running ``step`` of ``operation`` once it has sent ``call`` to GCP
    (and waits for GCP's operation); its pid."""
    before = stack.fleetsim.calls(call)

    def running_step() -> str:
        operation.refresh_from_db()
        running = operation.steps.filter(name=step, state=StepState.RUNNING).exists()
        sent = stack.fleetsim.calls(call) > before
        return operation.lease_owner if running and sent else ""

    killed = int(wait_for(f"a worker to be in {step!r}", running_step).split(":")[1])
    stack.kill(pids[killed])
    return killed


def _finished(operation: Operation, pids: dict[int, str], killed: int) -> Operation:
    def done() -> Operation | None:
        operation.refresh_from_db()
        return operation if operation.finished_at is not None else None

    finished: Operation = wait_for("the operation to finish", done, seconds=LEASE_SECONDS + 60)
    assert finished.state == OperationState.SUCCEEDED, finished.error
    assert finished.attempts == 2
    assert int(finished.lease_owner.split(":")[1]) in set(pids) - {killed}
    return finished


def _steps(operation: Operation) -> list[tuple[str, str]]:
    return list(operation.steps.order_by("position").values_list("name", "state"))


@pytest.mark.parametrize("kill_in", [SUSPEND_SNAPSHOT, SUSPEND_STOP], ids=["snapshot", "stop"])
def test_worker_killed_mid_suspend_snapshots_and_stops_once(stack, devops, kill_in):
    # given two workers and beat; snapshots and stops take GCP 5 s
    instance = _instance(stack)
    stack.fleetsim.configure(
        operation_durations={"compute.disks.createSnapshot": 5, "compute.instances.stop": 5}
    )
    pids = stack.start(web=False, workers=("worker-a", "worker-b"), beat=True)
    operation = instance_suspend(
        instance=instance, actor=devops, reason="pause", enqueue=_broker_down
    )
    # when the worker running it is SIGKILLed in the middle of that step
    call = "compute.disks.createSnapshot" if kill_in == SUSPEND_SNAPSHOT else STOP
    killed = _kill_in(stack, pids, operation, kill_in, call)
    # then the other worker resumes it, each step is logged once, and it succeeds
    done = _finished(operation, pids, killed)
    assert _steps(done) == [
        (PRECHECK, "done"),
        (SUSPEND_SNAPSHOT, "done"),
        (SUSPEND_MARK, "done"),
        (SUSPEND_STOP, "done"),
        (SUSPEND_PRUNE, "done"),
    ]
    # one snapshot and one stop: the killed step's request was resent with its requestId
    sim = stack.fleetsim
    (snap,) = sim.snapshots()
    assert snap["labels"]["mi-operation"] == str(done.pk)
    assert done.result["snapshot"] == snap["name"]
    assert sim.calls("compute.disks.createSnapshot") == (2 if kill_in == SUSPEND_SNAPSHOT else 1)
    assert sim.calls(STOP) == (2 if kill_in == SUSPEND_STOP else 1)
    assert sim.get_instance(SLUG)["status"] == "TERMINATED"
    instance.refresh_from_db()
    assert instance.state == LifecycleState.SUSPENDED
    assert AuditEvent.objects.filter(action="instance.suspended").count() == 1
    assert AuditEvent.objects.filter(action="operation.suspend.succeeded").count() == 1


def test_worker_killed_mid_resume_starts_the_vm_once(stack, devops):
    # given a suspended instance whose VM is stopped, and starts that take GCP 5 s
    instance = _instance(stack, state=LifecycleState.SUSPENDED, status="TERMINATED")
    stack.fleetsim.configure(operation_durations={"compute.instances.start": 5})
    pids = stack.start(web=False, workers=("worker-a", "worker-b"), beat=True)
    operation = instance_resume(
        instance=instance, actor=devops, reason="back", enqueue=_broker_down
    )
    # when the worker starting the VM is SIGKILLed
    killed = _kill_in(stack, pids, operation, RESUME_START, "compute.instances.start")
    # then the other worker resumes it: one VM start, healthy, active again
    done = _finished(operation, pids, killed)
    assert _steps(done) == [
        (RESUME_START, "done"),
        (RESUME_WAIT, "done"),
        (RESUME_MARK, "done"),
    ]
    assert stack.fleetsim.calls("compute.instances.start") == 2  # the resent one replayed
    assert stack.fleetsim.get_instance(SLUG)["status"] == "RUNNING"
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE
    assert AuditEvent.objects.filter(action="instance.resumed").count() == 1


def test_worker_killed_mid_teardown_deletes_each_resource_once(stack, devops):
    # given an instance with one snapshot, and VM deletes that take GCP 5 s
    instance = _instance(stack)
    stack.fleetsim.configure(operation_durations={"compute.instances.delete": 5})
    pids = stack.start(web=False, workers=("worker-a", "worker-b"), beat=True)
    suspended = instance_suspend(
        instance=instance, actor=devops, reason="pause", enqueue=_broker_down
    )
    wait_for(
        "the suspension",
        lambda: Operation.objects.filter(pk=suspended.pk, state=OperationState.SUCCEEDED).exists(),
        seconds=60,
    )
    calls_before = {
        method: stack.fleetsim.calls(method)
        for method in ("compute.disks.delete", "compute.snapshots.delete")
    }
    # when its approved teardown (1 s countdown) runs and the worker deleting the VM dies
    operation = instance_teardown_schedule(
        instance=instance,
        actor=devops,
        reason="customer left",
        typed_name=SLUG,
        approved_by=[make_persona("manager")],
        reference="request:5",
        delay=dt.timedelta(seconds=1),
        enqueue=_broker_down,
    )
    killed = _kill_in(
        stack, pids, operation, "Delete vm default-red-instance", "compute.instances.delete"
    )
    # then the other worker finishes it, and every resource was deleted and recorded once
    done = _finished(operation, pids, killed)
    sim = stack.fleetsim
    assert sim.get_instance(SLUG)["deleted"] is True
    assert sim.snapshots() == []
    assert sim.calls("compute.instances.delete") == 2  # the resent one replayed
    assert sim.calls("compute.disks.delete") - calls_before["compute.disks.delete"] == 1
    assert sim.calls("compute.snapshots.delete") - calls_before["compute.snapshots.delete"] == 1
    names = [name for name, _ in _steps(done)]
    assert len(names) == len(set(names))
    record = DeletionRecord.objects.get(operation=done)
    assert sorted(DeletedResource.objects.filter(record=record).values_list("kind", flat=True)) == [
        "disk",
        "disk",
        "snapshot",
        "vm",
    ]
    assert AuditEvent.objects.filter(action="instance.deletion_record_opened").count() == 1
    assert AuditEvent.objects.filter(action="operation.teardown.succeeded").count() == 1
    instance.refresh_from_db()
    assert instance.state == LifecycleState.TORN_DOWN
