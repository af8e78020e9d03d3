"""A worker SIGKILLed in the middle of an upgrade: another worker resumes it from the
recorded step, and the data disk is snapshotted once (v1.1: the Cloud SQL database backed up
once) and the version metadata written once (the simulator's call counts say so)."""

from __future__ import annotations

import pytest

from instances.choices import Architecture, LifecycleState, OperationKind, OperationState
from instances.models import Customer, Instance, Operation, Release
from instances.runners.upgrade import PRECHECK, RECORD, SNAPSHOT, SQL_BACKUP
from instances.services.operations import operation_create
from mi_admin.audit.models import AuditEvent
from tests.faults.conftest import LEASE_SECONDS, Stack, wait_for

pytestmark = pytest.mark.faults

FROM, TO = "6.9.1", "6.10.0"
STABILITY = 6
SET_VERSION = f"Set sourcegraph-version to {TO}"
WAIT_VERSION = f"Wait for /__version to report {TO}"
STAY_HEALTHY = f"Stay healthy for {STABILITY} s"


def _instance(stack: Stack, slug: str = "acme-prod") -> Instance:
    Release.objects.create(version=TO, released_at="2026-11-20T12:00:00Z")
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    instance = Instance.objects.create(
        customer=customer,
        slug=slug,
        url=stack.fleetsim.instance_url(slug),
        kind="production",
        architecture=Architecture.V1_0,
        state=LifecycleState.ACTIVE,
        gcp_project=f"sourcegraph-managed-{slug}",
        vm_name="default-red-instance",
        data_disk="default-red-data-disk",
        observed_version=FROM,
    )
    stack.fleetsim.upsert_instances(
        [{"slug": slug, "project": instance.gcp_project, "version": FROM, "reconcile_delay": 0.5}]
    )
    return instance


def _broker_down(*_: object) -> None:
    # Leave the row unsent for the stack's dispatcher (the test process's broker is not it).
    raise ConnectionError("not this broker")


@pytest.mark.parametrize("kill_in", [SNAPSHOT, STAY_HEALTHY], ids=["snapshot", "stability"])
def test_worker_killed_mid_upgrade_resumes_without_a_second_snapshot_or_write(
    stack, devops, kill_in
):
    # given two workers and beat, and snapshots that take GCP 5 s
    instance = _instance(stack)
    stack.fleetsim.configure(operation_durations={"compute.disks.createSnapshot": 5})
    pids = stack.start(web=False, workers=("worker-a", "worker-b"), beat=True)
    operation, _ = operation_create(
        kind=OperationKind.UPGRADE,
        actor=devops,
        instance=instance,
        params={
            "target": TO,
            "from": FROM,
            "stability_seconds": STABILITY,
            "deadline_seconds": 60,
            "poll_seconds": 0.2,
        },
        enqueue=_broker_down,
    )

    # when the worker running it is SIGKILLed in the middle of that step
    def running_step() -> str:
        operation.refresh_from_db()
        step = operation.steps.filter(name=kill_in, state="running").first()
        return operation.lease_owner if step is not None else ""

    killed_pid = int(wait_for(f"a worker to be in {kill_in!r}", running_step).split(":")[1])
    if kill_in == SNAPSHOT:
        # The step is marked running just before its request leaves: "in the middle" is once
        # GCP has it (the snapshot then takes 5 s), not a moment earlier on a loaded machine.
        wait_for(
            "GCP to receive the snapshot request",
            lambda: stack.fleetsim.calls("compute.disks.createSnapshot") >= 1,
        )
    stack.kill(pids[killed_pid])

    # then the other worker resumes it and the upgrade succeeds
    def finished() -> Operation | None:
        operation.refresh_from_db()
        return operation if operation.finished_at is not None else None

    done = wait_for("the upgrade to finish", finished, seconds=LEASE_SECONDS + 60)
    assert done.state == OperationState.SUCCEEDED, done.error
    assert done.attempts == 2
    assert int(done.lease_owner.split(":")[1]) in set(pids) - {killed_pid}
    # each step is logged once: the killed worker's step was picked up, not repeated
    assert list(done.steps.order_by("position").values_list("name", "state")) == [
        (PRECHECK, "done"),
        (SNAPSHOT, "done"),
        (SET_VERSION, "done"),
        (WAIT_VERSION, "done"),
        (STAY_HEALTHY, "done"),
        (RECORD, "done"),
    ]
    # one snapshot, one metadata write (a resent snapshot request is GCP's same operation)
    sim = stack.fleetsim
    assert len(sim.snapshots()) == 1
    assert sim.calls("compute.instances.setMetadata") == 1
    assert sim.calls("compute.disks.createSnapshot") == (2 if kill_in == SNAPSHOT else 1)
    assert sim.get_instance(instance.slug)["version"] == TO
    assert done.result["snapshot"] == sim.snapshots()[0]["name"]
    assert AuditEvent.objects.filter(action="operation.upgrade.succeeded").count() == 1


def test_worker_killed_mid_cloud_sql_backup_resumes_without_a_second_backup_or_write(stack, devops):
    # given a v1.1 instance whose Cloud SQL backups take 5 s, two workers and beat
    Release.objects.create(version=TO, released_at="2026-11-20T12:00:00Z")
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    instance = Instance.objects.create(
        customer=customer,
        slug="acme-prod",
        url=stack.fleetsim.instance_url("acme-prod"),
        kind="production",
        architecture=Architecture.V1_1,
        state=LifecycleState.ACTIVE,
        gcp_project="sourcegraph-managed-acme-prod",
        vm_name="default-red-instance",
        cloud_sql_instance="acme-pg",
        observed_version=FROM,
    )
    sim = stack.fleetsim
    sim.upsert_instances(
        [
            {
                "slug": "acme-prod",
                "project": instance.gcp_project,
                "version": FROM,
                "reconcile_delay": 0.5,
                "sql_instance": "acme-pg",
            }
        ]
    )
    sim.configure(operation_durations={"sql.backupRuns.insert": 5})
    pids = stack.start(web=False, workers=("worker-a", "worker-b"), beat=True)
    operation, _ = operation_create(
        kind=OperationKind.UPGRADE,
        actor=devops,
        instance=instance,
        params={
            "target": TO,
            "from": FROM,
            "stability_seconds": 1,
            "deadline_seconds": 60,
            "poll_seconds": 0.2,
        },
        enqueue=_broker_down,
    )

    # when the worker running it is SIGKILLed after it asked Cloud SQL for the backup
    def backing_up() -> str:
        operation.refresh_from_db()
        step = operation.steps.filter(name=SQL_BACKUP, state="running").first()
        asked = sim.calls("sql.backupRuns.insert") == 1
        return operation.lease_owner if step is not None and asked else ""

    killed_pid = int(wait_for("a worker to be backing up", backing_up).split(":")[1])
    stack.kill(pids[killed_pid])

    # then the other worker resumes it and the upgrade succeeds
    def finished() -> Operation | None:
        operation.refresh_from_db()
        return operation if operation.finished_at is not None else None

    done = wait_for("the upgrade to finish", finished, seconds=LEASE_SECONDS + 60)
    assert done.state == OperationState.SUCCEEDED, done.error
    assert done.attempts == 2
    assert int(done.lease_owner.split(":")[1]) in set(pids) - {killed_pid}
    assert list(done.steps.order_by("position").values_list("name", "state")) == [
        (PRECHECK, "done"),
        (SQL_BACKUP, "done"),
        (SET_VERSION, "done"),
        (WAIT_VERSION, "done"),
        ("Stay healthy for 1 s", "done"),
        (RECORD, "done"),
    ]
    # exactly one backupRuns.insert and one metadata write: the resumed step found the
    # backup the killed worker had asked for (by the operation in its description)
    assert sim.calls("sql.backupRuns.insert") == 1
    assert sim.calls("compute.instances.setMetadata") == 1
    assert sim.calls("compute.disks.createSnapshot") == 0
    (backup,) = sim.backups()
    assert backup["status"] == "SUCCESSFUL"
    assert done.result["backup"] == {
        "kind": "cloud_sql",
        "id": str(backup["id"]),
        "instance": "acme-pg",
    }
    step = done.steps.get(name=SQL_BACKUP)
    assert step.output["reused"] is True
    assert "found the backup this upgrade asked for earlier" in step.detail
    assert sim.get_instance(instance.slug)["version"] == TO
