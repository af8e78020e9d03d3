"""Single-instance upgrades and rollbacks: the real adapter against the simulator, run by a
real Celery worker (4 threads; the suite's UPGRADE_CONCURRENCY is 2, tests/settings.py)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from fleetsim.client import FleetSimClient
from instances.choices import Architecture, LifecycleState, OperationKind, OperationState
from instances.models import Customer, Instance, Operation, Release
from instances.runners.upgrade import (
    DECIDE,
    PRECHECK,
    RECORD,
    SNAPSHOT,
    SQL_BACKUP,
    _held_or_stop,
)
from instances.services.operations import (
    LeaseLost,
    OperationDeferred,
    operation_claim,
    operation_create,
    step_run,
)
from instances.services.upgrades import (
    UpgradeRefused,
    no_cloud_sql_refusal,
    rollback_request,
    upgrade_request,
    upgrade_slot_claim,
    upgrade_wake_next,
)
from instances.tasks import operation_run
from mi_admin.accounts.models import User
from mi_admin.audit.models import AuditEvent

FROM, TO = "6.9.1", "6.10.0"
SET_METADATA = "compute.instances.setMetadata"
SNAPSHOT_CALL = "compute.disks.createSnapshot"
SQL_INSERT = "sql.backupRuns.insert"


def _releases() -> None:
    for i, version in enumerate(["6.8.0", FROM, TO]):
        Release.objects.get_or_create(
            version=version,
            defaults={"released_at": f"2026-0{i + 1}-05T12:00:00Z"},
        )


def _instance(
    sim: FleetSimClient,
    slug: str = "acme-prod",
    *,
    architecture: str = Architecture.V1_0,
    reconcile_delay: float = 0.3,
    **spec: Any,
) -> Instance:
    _releases()
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    instance = Instance.objects.create(
        customer=customer,
        slug=slug,
        url=sim.instance_url(slug),
        kind="production",
        architecture=architecture,
        state=LifecycleState.ACTIVE,
        gcp_project=f"sourcegraph-managed-{slug}",
        vm_name="default-red-instance",
        data_disk="default-red-data-disk",
        observed_version=FROM,
        vm_version=FROM,
    )
    vm: dict[str, Any] = {
        "slug": slug,
        "project": instance.gcp_project,
        "name": instance.vm_name,
        "version": FROM,
        "reconcile_delay": reconcile_delay,
        **spec,
    }
    sim.upsert_instances([vm])
    return instance


def _v1_1(sim: FleetSimClient, cloud_sql_instance: str = "acme-pg") -> Instance:
    """An active v1.1 instance whose Cloud SQL instance the simulator serves."""
    instance = _instance(sim, architecture=Architecture.V1_1, sql_instance="acme-pg")
    Instance.objects.filter(pk=instance.pk).update(
        data_disk="", cloud_sql_instance=cloud_sql_instance
    )
    instance.refresh_from_db()
    return instance


def _wait_finished(operation: Operation, seconds: float = 60) -> Operation:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        operation.refresh_from_db()
        if operation.finished_at is not None:
            return operation
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.pk} still {operation.state} after {seconds} s")


def _steps(operation: Operation) -> list[tuple[str, str]]:
    return list(operation.steps.order_by("position").values_list("name", "state"))


def _upgrade(
    instance: Instance,
    actor: User,
    *,
    stability_seconds: float = 1.0,
    deadline_seconds: float = 30.0,
) -> Operation:
    operation, created = upgrade_request(
        instance=instance,
        target=TO,
        actor=actor,
        stability_seconds=stability_seconds,
        deadline_seconds=deadline_seconds,
        poll_seconds=0.2,
    )
    assert created
    return operation


@pytest.mark.django_db(transaction=True)
def test_upgrade_succeeds_end_to_end_and_can_be_rolled_back(celery_worker, fleetsim, devops):
    # given an active, healthy v1.0 instance on 6.9.1
    instance = _instance(fleetsim)
    # when devops upgrades it to 6.10.0 (a 1 s stability window)
    operation = _wait_finished(_upgrade(instance, devops))
    # then it succeeded through every step
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert _steps(operation) == [
        (PRECHECK, "done"),
        (SNAPSHOT, "done"),
        (f"Set sourcegraph-version to {TO}", "done"),
        (f"Wait for /__version to report {TO}", "done"),
        ("Stay healthy for 1 s", "done"),
        (RECORD, "done"),
    ]
    # the data disk was snapshotted once, labelled with instance, versions and operation
    (snap,) = fleetsim.snapshots()
    assert snap["source_disk"].endswith("/disks/default-red-data-disk")
    assert snap["labels"]["mi-instance"] == "acme-prod"
    assert snap["labels"]["mi-from-version"] == "6_9_1"
    assert snap["labels"]["mi-to-version"] == "6_10_0"
    assert snap["labels"]["mi-operation"] == str(operation.pk)
    assert int(snap["labels"]["mi-delete-after"][:4]) == operation.created_at.year + 1
    # the metadata was written once and the VM runs the target
    assert fleetsim.calls(SNAPSHOT_CALL) == 1
    assert fleetsim.calls(SET_METADATA) == 1
    vm = fleetsim.get_instance("acme-prod")
    assert vm["metadata"]["sourcegraph-version"] == TO
    assert vm["version"] == TO
    # the health summary of the upgrade is kept on the operation
    stability = operation.result["health"]["stability"]
    assert stability["probes"] >= 2
    assert stability["healthy"] == stability["probes"]
    assert stability["versions"] == [TO]
    assert operation.result["from"] == FROM
    assert operation.result["to"] == TO
    assert operation.result["snapshot"] == snap["name"]
    assert operation.upgrade_slot is not None
    instance.refresh_from_db()
    assert (instance.observed_version, instance.desired_version) == (TO, TO)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "operation.upgrade.requested",
        "operation.upgrade.succeeded",
        "instance.version_upgraded",
    } <= actions

    # when devops rolls it back, saying why
    with pytest.raises(UpgradeRefused, match="Say why"):
        rollback_request(instance=instance, actor=devops, reason="  ")
    rollback, _ = rollback_request(
        instance=instance, actor=devops, reason="search is slower", poll_seconds=0.2
    )
    rollback = _wait_finished(rollback)
    # then it runs the previous version again, and the reason is on the record
    assert rollback.state == OperationState.SUCCEEDED, rollback.error
    assert fleetsim.get_instance("acme-prod")["version"] == FROM
    assert rollback.params["reason"] == "search is slower"
    requested = AuditEvent.objects.get(action="operation.rollback.requested")
    assert requested.after is not None
    assert requested.after["params"]["reason"] == "search is slower"
    instance.refresh_from_db()
    assert instance.observed_version == FROM


@pytest.mark.django_db(transaction=True)
def test_a_release_that_never_gets_healthy_is_rolled_back(celery_worker, fleetsim, devops):
    # given an instance on which the next version to land fails its health check
    instance = _instance(fleetsim, health_mode="bad_release")
    # when it is upgraded (a 3 s progress deadline)
    operation = _wait_finished(_upgrade(instance, devops, deadline_seconds=3))
    # then the upgrade failed with the reason, and the previous version was set back
    assert operation.state == OperationState.FAILED
    assert f"Upgrade to {TO} failed and {FROM} was set back" in operation.error
    assert f"did not report {TO} and answer healthy within 3 s" in operation.error
    assert "HTTP 500: 500 Internal Server Error: frontend unhealthy" in operation.error
    names = [name for name, _ in _steps(operation)]
    assert DECIDE in names
    assert names[-2:] == [
        f"Roll back: set sourcegraph-version to {FROM}",
        f"Roll back: wait for {FROM} and health",
    ]
    vm = fleetsim.get_instance("acme-prod")
    assert (vm["version"], vm["metadata"]["sourcegraph-version"]) == (FROM, FROM)
    assert not vm["health"]["broken"]
    assert fleetsim.calls(SET_METADATA) == 2
    # the evidence of both the failed upgrade and the recovery is kept
    assert operation.result["rolled_back_to"] == FROM
    assert operation.result["health"]["rollback"]["versions"][-1] == FROM
    instance.refresh_from_db()
    assert instance.observed_version == FROM


@pytest.mark.django_db(transaction=True)
def test_unhealthy_in_the_stability_window_rolls_back_and_says_if_that_did_not_recover(
    celery_worker, fleetsim, devops
):
    # given an upgrade that reached 6.10.0 and is in a 30 s stability window
    instance = _instance(fleetsim)
    operation = _upgrade(instance, devops, stability_seconds=30, deadline_seconds=3)
    deadline = time.monotonic() + 30
    while not operation.steps.filter(name="Stay healthy for 30 s", state="running").exists():
        assert time.monotonic() < deadline, "the stability window never started"
        time.sleep(0.1)
    # when its health check starts failing (while /__version still answers) and stays so
    fleetsim.set_health("acme-prod", broken=True)
    operation = _wait_finished(operation)
    # then the window failed it, the previous version was set back, and the operation says
    # that this did not bring the instance back
    assert operation.state == OperationState.FAILED
    assert "was not healthy on 6.10.0" in operation.error
    assert "stability window" in operation.error
    assert f"Setting {FROM} back did not recover it" in operation.error
    assert fleetsim.get_instance("acme-prod")["metadata"]["sourcegraph-version"] == FROM
    assert "error" in operation.result["health"]["rollback"]
    # nothing records the instance as upgraded
    instance.refresh_from_db()
    assert instance.observed_version == FROM
    assert not AuditEvent.objects.filter(action="instance.version_upgraded").exists()


@pytest.mark.django_db(transaction=True)
def test_the_progress_deadline_fails_a_stuck_upgrade_and_rolls_it_back(
    celery_worker, fleetsim, devops
):
    # given an instance whose agent would take an hour to deploy the new version
    instance = _instance(fleetsim, reconcile_delay=3600)
    # when it is upgraded with a 1.5 s progress deadline
    operation = _wait_finished(_upgrade(instance, devops, deadline_seconds=1.5))
    # then the deadline failed it, and the previous version is set back and healthy
    assert operation.state == OperationState.FAILED
    assert f"did not report {TO} and answer healthy within 1.5 s" in operation.error
    assert f"{FROM} was set back" in operation.error
    vm = fleetsim.get_instance("acme-prod")
    assert vm["metadata"]["sourcegraph-version"] == FROM
    assert vm["version"] == FROM
    assert vm["reconciling_to"] is None


@pytest.mark.django_db(transaction=True)
def test_no_more_upgrades_run_at_once_than_the_fleet_wide_limit(
    celery_worker, fleetsim, devops, settings
):
    # given six instances whose deploys take a second, a limit of 2 (the worker has 4
    # threads, so the limit and not the worker holds them back)
    assert settings.UPGRADE_CONCURRENCY == 2
    instances = [_instance(fleetsim, f"acme-{i}", reconcile_delay=1.0) for i in range(6)]
    fleetsim.reset_stats()
    # when all six are asked for at once
    operations = [_upgrade(i, devops, stability_seconds=0.3) for i in instances]
    finished = [_wait_finished(op, seconds=90) for op in operations]
    # then every one succeeded, and never more than two VMs were deploying at once
    assert [op.state for op in finished] == [OperationState.SUCCEEDED] * 6
    assert fleetsim.peak_deploys() == 2
    assert fleetsim.calls(SET_METADATA) == 6
    # and by the operations' own records no more than two upgrades overlapped
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for op in finished:
        steps = list(op.steps.order_by("position"))
        end = steps[-1].finished_at
        assert end is not None
        spans.append((steps[0].started_at, end))
    overlap = max(len([1 for s, e in spans if s <= start < e]) for start, _ in spans)
    assert overlap <= 2
    assert AuditEvent.objects.filter(action="operation.upgrade.succeeded").count() == 6


@pytest.mark.django_db
def test_an_upgrade_without_a_free_slot_waits_and_slots_are_unique(fleetsim, devops):
    # given two upgrades holding both slots (the suite's limit is 2)
    holders, slots = [], []
    for i in range(2):
        instance = _instance(fleetsim, f"holder-{i}")
        op, _ = operation_create(
            kind=OperationKind.UPGRADE, actor=devops, instance=instance, enqueue=_no_broker
        )
        claimed = operation_claim(operation_id=op.pk)
        assert claimed is not None
        slots.append(upgrade_slot_claim(operation=claimed))
        holders.append(claimed)
    # (which free number each takes is spread by id; together they hold both)
    assert sorted(slots) == [1, 2]
    # when a third claims a slot
    third, _ = operation_create(
        kind=OperationKind.UPGRADE,
        actor=devops,
        instance=_instance(fleetsim, "third"),
        enqueue=_no_broker,
    )
    claimed = operation_claim(operation_id=third.pk)
    assert claimed is not None
    # then it is told to wait, and holds none
    with pytest.raises(OperationDeferred, match="all 2 are taken"):
        upgrade_slot_claim(operation=claimed)
    claimed.refresh_from_db()
    assert claimed.upgrade_slot is None
    # and the database refuses two active upgrades on one slot, whatever the code does
    with pytest.raises(IntegrityError), transaction.atomic():
        Operation.objects.filter(pk=claimed.pk).update(upgrade_slot=1)


def _no_broker(*_: object) -> None:
    raise ConnectionError("no broker in this test")


@pytest.mark.django_db
def test_a_deferred_upgrade_is_pending_and_says_what_it_waits_for(fleetsim, devops):
    # given both slots held
    for i in range(2):
        op, _ = operation_create(
            kind=OperationKind.UPGRADE,
            actor=devops,
            instance=_instance(fleetsim, f"holder-{i}"),
            enqueue=_no_broker,
        )
        Operation.objects.filter(pk=op.pk).update(upgrade_slot=i + 1)
    # when a third upgrade runs
    operation, _ = upgrade_request(
        instance=_instance(fleetsim, "third"), target=TO, actor=devops, idempotency_key="k"
    )
    operation_run(operation.pk)
    # then it is back to pending, without a step or a GCP call, waiting for a slot
    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING
    assert operation.attempts == 0
    assert operation.lease_owner == ""
    assert operation.waiting_for.startswith("a free upgrade slot")
    assert operation.next_retry_at is not None
    assert operation.steps.count() == 0
    assert fleetsim.calls(SNAPSHOT_CALL) == 0


@pytest.mark.django_db
def test_upgrade_requests_are_validated(fleetsim, devops):
    instance = _instance(fleetsim)
    # a version that is not a registered release
    with pytest.raises(UpgradeRefused, match="not a registered release"):
        upgrade_request(instance=instance, target="6.11.0", actor=devops)
    # not newer than what it runs
    for version in (FROM, "6.8.0"):
        with pytest.raises(UpgradeRefused, match=r"is not newer than 6\.9\.1"):
            upgrade_request(instance=instance, target=version, actor=devops)
    # an instance that is not active
    Instance.objects.filter(pk=instance.pk).update(state=LifecycleState.SUSPENDED)
    instance.refresh_from_db()
    with pytest.raises(UpgradeRefused, match="suspended, not active"):
        upgrade_request(instance=instance, target=TO, actor=devops)
    # a rollback with nothing to undo
    Instance.objects.filter(pk=instance.pk).update(state=LifecycleState.ACTIVE)
    instance.refresh_from_db()
    with pytest.raises(UpgradeRefused, match="No successful upgrade"):
        rollback_request(instance=instance, actor=devops, reason="bad")
    assert not Operation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_v1_1_upgrade_takes_a_cloud_sql_backup_and_no_snapshot(celery_worker, fleetsim, devops):
    # given an active, healthy v1.1 instance with its Cloud SQL instance
    instance = _v1_1(fleetsim)
    # when devops upgrades it
    operation = _wait_finished(_upgrade(instance, devops))
    # then it succeeded with a Cloud SQL backup step instead of the snapshot
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert [name for name, _ in _steps(operation)] == [
        PRECHECK,
        SQL_BACKUP,
        f"Set sourcegraph-version to {TO}",
        f"Wait for /__version to report {TO}",
        "Stay healthy for 1 s",
        RECORD,
    ]
    # one on-demand backup of the instance's Cloud SQL instance, marked with the operation
    (backup,) = fleetsim.backups()
    assert (backup["instance"], backup["status"], backup["type"]) == (
        "acme-pg",
        "SUCCESSFUL",
        "ON_DEMAND",
    )
    assert f"(mi-admin-operation:{operation.pk})" in backup["description"]
    assert fleetsim.calls(SQL_INSERT) == 1
    # and no snapshot at all; the version metadata written once
    assert fleetsim.calls(SNAPSHOT_CALL) == 0
    assert fleetsim.snapshots() == []
    assert fleetsim.calls(SET_METADATA) == 1
    # the operation keeps the backup as evidence
    assert operation.result["backup"] == {
        "kind": "cloud_sql",
        "id": str(backup["id"]),
        "instance": "acme-pg",
    }
    assert "snapshot" not in operation.result


@pytest.mark.django_db(transaction=True)
def test_a_v1_0_upgrade_takes_a_snapshot_and_no_cloud_sql_backup(celery_worker, fleetsim, devops):
    # given a v1.0 instance (and, to be sure, a Cloud SQL instance in its project)
    instance = _instance(fleetsim, sql_instance="acme-pg")
    operation = _wait_finished(_upgrade(instance, devops))
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert fleetsim.calls(SNAPSHOT_CALL) == 1
    assert fleetsim.calls(SQL_INSERT) == 0
    assert fleetsim.backups() == []
    assert operation.result["backup"] == {"kind": "snapshot", "name": operation.result["snapshot"]}


@pytest.mark.django_db(transaction=True)
def test_a_503_from_the_backup_endpoint_is_retried(celery_worker, fleetsim, devops):
    # given a v1.1 instance and Cloud SQL answering the next backup insert with 503
    instance = _v1_1(fleetsim)
    fleetsim.set_fault(SQL_INSERT, status=503, count=1)
    # when devops upgrades it
    operation = _wait_finished(_upgrade(instance, devops))
    # then the step was retried after the transient error and the upgrade succeeded
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert operation.retry_count == 1
    assert fleetsim.calls(SQL_INSERT) == 2
    assert fleetsim.stats()["methods"][SQL_INSERT]["errors"] == 1
    # with exactly one backup (the refused insert made none)
    (backup,) = fleetsim.backups()
    assert operation.result["backup"]["id"] == str(backup["id"])
    steps = _steps(operation)
    assert (SQL_BACKUP, "failed") in steps
    assert steps.count((SQL_BACKUP, "done")) == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_cloud_sql_backup_fails_the_upgrade_before_any_change(
    celery_worker, fleetsim, devops
):
    # given Cloud SQL failing the backup itself (a permanent error in the operation)
    instance = _v1_1(fleetsim)
    fleetsim.set_fault(
        SQL_INSERT, status=400, count=1, in_operation=True, message="backups are disabled"
    )
    operation = _wait_finished(_upgrade(instance, devops))
    # then the upgrade failed at the backup with the reason, and the version never changed
    assert operation.state == OperationState.FAILED
    assert "backups are disabled" in operation.error
    assert fleetsim.calls(SET_METADATA) == 0
    assert fleetsim.get_instance("acme-prod")["version"] == FROM


@pytest.mark.django_db
def test_v1_1_upgrades_need_the_cloud_sql_instance_recorded(fleetsim, devops):
    # given a v1.1 instance whose Cloud SQL instance is not recorded
    instance = _v1_1(fleetsim, cloud_sql_instance="")
    # when devops asks for an upgrade, it is refused with the reason
    with pytest.raises(UpgradeRefused, match="has no Cloud SQL instance recorded"):
        upgrade_request(instance=instance, target=TO, actor=devops)
    # and an upgrade operation made some other way fails at its pre-checks, touching nothing
    operation, _ = operation_create(
        kind=OperationKind.UPGRADE,
        actor=devops,
        instance=instance,
        params={"target": TO},
        enqueue=_no_broker,
    )
    operation_run(operation.pk)
    operation.refresh_from_db()
    assert operation.state == OperationState.FAILED
    assert operation.error == no_cloud_sql_refusal(instance)
    assert fleetsim.calls(SQL_INSERT) == 0
    assert fleetsim.calls(SET_METADATA) == 0


@pytest.mark.django_db
def test_a_wait_that_loses_its_lease_leaves_the_step_to_the_new_owner(fleetsim, devops):
    # given a claimed upgrade in a waiting step
    operation, _ = operation_create(
        kind=OperationKind.UPGRADE,
        actor=devops,
        instance=_instance(fleetsim),
        enqueue=_no_broker,
    )
    claimed = operation_claim(operation_id=operation.pk)
    assert claimed is not None

    # when another worker takes the lease over while this one waits
    def wait() -> tuple[str, dict[str, Any]]:
        Operation.objects.filter(pk=claimed.pk).update(lease_owner="other:1:x")
        _held_or_stop(claimed)
        return "never", {}

    with pytest.raises(LeaseLost):
        step_run(operation=claimed, name="Stay healthy for 1 s", work=wait)
    # then the step is still running, for the new owner to carry on
    assert _steps(claimed) == [("Stay healthy for 1 s", "running")]


@pytest.mark.django_db
def test_an_upgrade_that_ends_wakes_the_longest_waiting_one(fleetsim, devops):
    # given both slots held and two upgrades waiting for one, asking again in a minute
    holders = []
    for i in range(2):
        op, _ = operation_create(
            kind=OperationKind.UPGRADE,
            actor=devops,
            instance=_instance(fleetsim, f"holder-{i}"),
            enqueue=_no_broker,
        )
        Operation.objects.filter(pk=op.pk).update(upgrade_slot=i + 1)
        holders.append(op)
    later = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    waiting = []
    for name in ("first", "second"):
        op, _ = operation_create(
            kind=OperationKind.UPGRADE,
            actor=devops,
            instance=_instance(fleetsim, name),
            enqueue=_no_broker,
        )
        Operation.objects.filter(pk=op.pk).update(
            waiting_for="a free upgrade slot", next_retry_at=later
        )
        waiting.append(op)
    # while every slot is held, nobody is woken
    assert upgrade_wake_next() is None
    # when one holder ends
    Operation.objects.filter(pk=holders[0].pk).update(state=OperationState.SUCCEEDED)
    # then the longest-waiting upgrade is due now, and the other still waits
    assert upgrade_wake_next() == waiting[0].pk
    first, second = (Operation.objects.get(pk=op.pk) for op in waiting)
    assert first.next_retry_at is not None
    assert first.next_retry_at < later
    assert second.next_retry_at == later
