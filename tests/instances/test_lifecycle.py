"""Suspend, resume and teardown: the real adapter against the fleet simulator, run by a real
Celery worker, and what monitoring does with the instance afterwards."""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from fleetsim.client import FleetSimClient
from health.choices import HealthState
from health.models import HealthSample, InstanceHealth
from health.services.sweep import sweep_run
from instances import gcp
from instances.choices import (
    Architecture,
    LifecycleState,
    OperationKind,
    OperationState,
    StepState,
)
from instances.models import (
    Customer,
    DeletedResource,
    DeletionRecord,
    Instance,
    Operation,
    Release,
)
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
    instance_teardown_cancel,
    instance_teardown_schedule,
)
from instances.services.operations import operation_claim, operation_dispatch_pending
from instances.tasks import operation_run
from instances.versions import NOT_HELD, ReleaseHistory
from mi_admin.audit.models import AuditEvent
from mi_admin.sla import work_calendar_from_settings
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance, make_operation

OLD, LATEST = "6.9.1", "6.10.0"
SNAPSHOT_CALL = "compute.disks.createSnapshot"
STOP_CALL = "compute.instances.stop"
START_CALL = "compute.instances.start"


def lifecycle_instance(
    sim: FleetSimClient, slug: str = "acme-prod", *, version: str = LATEST, **spec: Any
) -> Instance:
    """An active, healthy v1.0 instance the simulator serves, with its data disk."""
    for i, v in enumerate(["6.8.0", OLD, LATEST]):
        Release.objects.get_or_create(
            version=v, defaults={"released_at": f"2026-0{i + 1}-05T12:00:00Z"}
        )
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    instance = Instance.objects.create(
        customer=customer,
        slug=slug,
        url=sim.instance_url(slug),
        kind="production",
        architecture=Architecture.V1_0,
        state=LifecycleState.ACTIVE,
        gcp_project=f"sourcegraph-managed-{slug}",
        vm_name="default-red-instance",
        data_disk="default-red-data-disk",
        observed_version=version,
        vm_version=version,
    )
    vm: dict[str, Any] = {
        "slug": slug,
        "project": instance.gcp_project,
        "name": instance.vm_name,
        "version": version,
        "reconcile_delay": 0.3,
        **spec,
    }
    sim.upsert_instances([vm])
    return instance


def wait_finished(operation: Operation, seconds: float = 60) -> Operation:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        operation.refresh_from_db()
        if operation.finished_at is not None:
            return operation
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.pk} still {operation.state} after {seconds} s")


def poll(what: str, check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def health_state(instance: Instance) -> str | None:
    return InstanceHealth.objects.filter(instance=instance).values_list("state", flat=True).first()


def steps(operation: Operation) -> list[tuple[str, str]]:
    return list(operation.steps.order_by("position").values_list("name", "state"))


def suspension_snapshots(sim: FleetSimClient) -> list[dict[str, Any]]:
    return [s for s in sim.snapshots() if s["labels"].get("mi-purpose") == "suspension"]


@pytest.mark.django_db(transaction=True)
def test_suspend_snapshots_stops_and_takes_the_instance_out_of_monitoring(
    celery_worker, fleetsim, devops
):
    # given an active, healthy instance that the health sweep probes
    instance = lifecycle_instance(fleetsim)
    sweep_run()
    assert HealthSample.objects.filter(instance=instance).count() == 1
    # when devops suspends it directly, saying why
    operation = wait_finished(
        instance_suspend(instance=instance, actor=devops, reason="customer paused the POC")
    )
    # then every step ran once, in order
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert steps(operation) == [
        (PRECHECK, "done"),
        (SUSPEND_SNAPSHOT, "done"),
        (SUSPEND_MARK, "done"),
        (SUSPEND_STOP, "done"),
        (SUSPEND_PRUNE, "done"),
    ]
    # a labelled snapshot of the data disk, and a stopped VM
    (snap,) = fleetsim.snapshots()
    assert snap["source_disk"].endswith("/disks/default-red-data-disk")
    assert snap["labels"] == {
        "mi-instance": "acme-prod",
        "mi-operation": str(operation.pk),
        "mi-purpose": "suspension",
    }
    assert snap["status"] == "READY"
    assert fleetsim.get_instance("acme-prod")["status"] == "TERMINATED"
    assert fleetsim.calls(SNAPSHOT_CALL) == 1
    assert fleetsim.calls(STOP_CALL) == 1
    assert operation.result["snapshot"] == snap["name"]
    instance.refresh_from_db()
    assert instance.state == LifecycleState.SUSPENDED
    assert instance.vm_status == "TERMINATED"
    # health hears it at once (no sweep needed): the instance shows suspended
    poll("health to show suspended", lambda: health_state(instance) == HealthState.SUSPENDED)
    # the instance is no longer probed, and is out of the version SLA
    fleetsim.reset_stats()
    report = sweep_run()
    assert report.probed == 0
    assert fleetsim.stats()["health_by_slug"] == {}
    assert InstanceHealth.objects.get(instance=instance).state == HealthState.SUSPENDED
    sla = ReleaseHistory.load().instance_sla(
        instance, now=timezone.now(), calendar=work_calendar_from_settings()
    )
    assert sla.state == NOT_HELD
    assert "suspended" in sla.text
    # the direct execution and its outcome are audited
    requested = AuditEvent.objects.get(action="instance.suspend_requested")
    assert requested.after is not None
    assert requested.after["direct"] is True
    assert requested.after["reason"] == "customer paused the POC"
    assert AuditEvent.objects.filter(action="instance.suspended").count() == 1
    assert AuditEvent.objects.filter(action="operation.suspend.succeeded").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_second_suspension_keeps_only_the_newest_suspension_snapshot(
    celery_worker, fleetsim, devops
):
    # given an instance suspended once and resumed, and an upgrade snapshot of it
    instance = lifecycle_instance(fleetsim)
    first = wait_finished(instance_suspend(instance=instance, actor=devops, reason="pause 1"))
    assert first.state == OperationState.SUCCEEDED, first.error
    resumed = wait_finished(instance_resume(instance=instance, actor=devops, reason="back"))
    assert resumed.state == OperationState.SUCCEEDED, resumed.error
    (old,) = suspension_snapshots(fleetsim)
    # when it is suspended again
    second = wait_finished(instance_suspend(instance=instance, actor=devops, reason="pause 2"))
    # then only the new suspension snapshot is left, and the old one is named as deleted
    assert second.state == OperationState.SUCCEEDED, second.error
    (kept,) = suspension_snapshots(fleetsim)
    assert kept["name"] == second.result["snapshot"] != old["name"]
    assert kept["labels"]["mi-operation"] == str(second.pk)
    assert second.result["deleted_snapshots"] == [old["name"]]
    assert fleetsim.calls(SNAPSHOT_CALL) == 2
    assert fleetsim.calls("compute.snapshots.delete") == 1


@pytest.mark.django_db(transaction=True)
def test_resume_starts_the_vm_waits_for_health_and_monitors_again(celery_worker, fleetsim, devops):
    # given a suspended instance (suspended by the real operation)
    instance = lifecycle_instance(fleetsim)
    suspended = wait_finished(instance_suspend(instance=instance, actor=devops, reason="pause"))
    assert suspended.state == OperationState.SUCCEEDED, suspended.error
    sweep_run()
    # when it is resumed from an approved request
    operation = wait_finished(
        instance_resume(instance=instance, actor=devops, reason="back", reference="request:7")
    )
    # then the VM runs, /healthz answered healthy, and the instance is active again
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert steps(operation) == [
        (RESUME_START, "done"),
        (RESUME_WAIT, "done"),
        (RESUME_MARK, "done"),
    ]
    assert fleetsim.get_instance("acme-prod")["status"] == "RUNNING"
    assert fleetsim.calls(START_CALL) == 1
    assert operation.result["health"]["healthy"] >= 1
    assert operation.params["reference"] == "request:7"
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE
    # health probes it at once (no sweep needed) and it is healthy
    poll("health to probe it", lambda: health_state(instance) == HealthState.HEALTHY)
    # and the sweeps probe it again
    fleetsim.reset_stats()
    report = sweep_run()
    assert report.probed == 1
    assert set(fleetsim.stats()["health_by_slug"]) == {"acme-prod"}
    assert InstanceHealth.objects.get(instance=instance).state == HealthState.HEALTHY
    # the same reference again gives the same operation back, and starts nothing
    again = instance_resume(instance=instance, actor=devops, reason="back", reference="request:7")
    assert again.pk == operation.pk
    requested = AuditEvent.objects.get(action="instance.resume_requested")
    assert requested.after is not None
    assert requested.after["direct"] is False
    assert requested.after["reference"] == "request:7"
    assert AuditEvent.objects.filter(action="instance.resumed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_resume_fails_clearly_when_the_instance_never_gets_healthy(
    celery_worker, fleetsim, devops, settings
):
    # given a suspended instance whose frontend will fail /healthz, and a 2 s deadline
    instance = lifecycle_instance(fleetsim)
    wait_finished(instance_suspend(instance=instance, actor=devops, reason="pause"))
    fleetsim.set_health("acme-prod", "error")
    settings.RESUME_HEALTH_DEADLINE_SECONDS = 2
    # when it is resumed
    operation = wait_finished(instance_resume(instance=instance, actor=devops, reason="back"))
    # then the operation failed, saying what the last probe saw, and it stays suspended
    assert operation.state == OperationState.FAILED
    assert "did not answer /healthz healthy within 2 s of the VM start" in operation.error
    assert "HTTP 500" in operation.error
    assert steps(operation)[-1] == (RESUME_WAIT, "failed")
    instance.refresh_from_db()
    assert instance.state == LifecycleState.SUSPENDED


def _approver() -> Any:
    return make_persona("manager")


@pytest.mark.django_db(transaction=True)
def test_teardown_waits_out_its_countdown_then_deletes_and_keeps_the_record(
    celery_worker, fleetsim, devops
):
    # given an instance with an earlier suspension snapshot, suspended
    instance = lifecycle_instance(fleetsim)
    sweep_run()
    samples = HealthSample.objects.filter(instance=instance).count()
    assert samples == 1
    wait_finished(instance_suspend(instance=instance, actor=devops, reason="pause"))
    # what GCP says of each resource before (ids and self-links, read through the adapter)
    where = {"project": instance.gcp_project, "zone": instance.gcp_zone}
    vm = gcp.vm_get(**where, name=instance.vm_name)
    boot = gcp.disk_get(**where, name=vm.disks[0].name)
    data = gcp.disk_get(**where, name=instance.data_disk)
    (snapshot,) = gcp.snapshot_list(project=instance.gcp_project)
    manager = _approver()
    # when devops schedules its approved teardown with a 3 s countdown
    operation = instance_teardown_schedule(
        instance=instance,
        actor=devops,
        reason="customer left",
        typed_name="acme-prod",
        approved_by=[manager],
        reference="request:42",
        delay=dt.timedelta(seconds=3),
    )
    # then during the countdown it is pending with its not-before, and nothing is deleted
    not_before = dt.datetime.fromisoformat(operation.params["not_before"])
    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING
    assert operation.next_retry_at == not_before
    assert "nothing is deleted before" in operation.waiting_for
    assert fleetsim.get_instance("acme-prod")["status"] == "TERMINATED"
    assert fleetsim.calls("compute.instances.delete") == 0
    # and after it the VM, its disks and the snapshot are gone
    operation = wait_finished(operation, seconds=60)
    assert operation.state == OperationState.SUCCEEDED, operation.error
    deleting = operation.steps.filter(name__startswith="Delete").order_by("position")
    assert deleting.exists()
    assert all(step.started_at >= not_before for step in deleting)
    assert fleetsim.get_instance("acme-prod")["deleted"] is True
    for disk in (boot, data):
        with pytest.raises(gcp.GcpNotFound):
            gcp.disk_get(**where, name=disk.name)
    assert fleetsim.snapshots() == []
    assert fleetsim.calls("compute.instances.delete") == 1
    assert fleetsim.calls("compute.disks.delete") == 1
    assert fleetsim.calls("compute.snapshots.delete") == 1
    # the deletion record names every resource with its GCP id and self-link
    record = DeletionRecord.objects.get(operation=operation)
    assert record.reference == "request:42"
    assert record.requested_by == devops
    assert [a["username"] for a in record.approved_by] == [manager.username]
    assert record.reason == "customer left"
    resources = {
        (r.kind, r.name): (r.gcp_id, r.self_link, r.deleted_with) for r in record.resources.all()
    }
    assert resources == {
        ("vm", vm.name): (vm.gcp_id, vm.self_link, ""),
        ("disk", boot.name): (boot.gcp_id, boot.self_link, "vm"),
        ("disk", data.name): (data.gcp_id, data.self_link, ""),
        ("snapshot", snapshot.name): (snapshot.gcp_id, snapshot.self_link, ""),
    }
    assert all(gcp_id and link.startswith("http") for gcp_id, link, _ in resources.values())
    assert all(r.deleted_at >= not_before for r in record.resources.all())
    # the instance is torn down, out of monitoring, and its history stays
    instance.refresh_from_db()
    assert instance.state == LifecycleState.TORN_DOWN
    assert sweep_run().probed == 0
    assert Operation.objects.filter(instance=instance).count() == 2
    assert HealthSample.objects.filter(instance=instance).count() == samples
    assert AuditEvent.objects.filter(action="instance.teardown_scheduled").count() == 1
    # the record cannot be deleted or changed, nor the instance it names
    with pytest.raises(DatabaseError), transaction.atomic():
        DeletionRecord.objects.filter(pk=record.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        DeletedResource.objects.filter(record=record).update(name="x")
    with pytest.raises(ProtectedError), transaction.atomic():
        Instance.objects.filter(pk=instance.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_a_teardown_cancelled_during_its_countdown_deletes_nothing(fleetsim, devops):
    # given an approved teardown in its countdown
    instance = lifecycle_instance(fleetsim)
    operation = instance_teardown_schedule(
        instance=instance,
        actor=devops,
        reason="customer left",
        typed_name="acme-prod",
        approved_by=[_approver()],
        reference="request:43",
        delay=dt.timedelta(seconds=1),
    )
    # when devops cancels it without a reason, it is refused; with one, it is cancelled
    with pytest.raises(ValidationError, match="Say why the teardown is cancelled"):
        instance_teardown_cancel(operation=operation, actor=devops, reason=" ")
    cancelled = instance_teardown_cancel(
        operation=operation, actor=devops, reason="customer renewed"
    )
    # then it is cancelled with the reason, and audited
    assert cancelled.state == OperationState.CANCELLED
    assert "customer renewed" in cancelled.error
    assert cancelled.result["cancel_reason"] == "customer renewed"
    event = AuditEvent.objects.get(action="operation.teardown.cancelled")
    assert event.after is not None
    assert event.after["reason"] == "customer renewed"
    assert AuditEvent.objects.filter(action="instance.teardown_cancelled").count() == 1
    # and once the countdown is over, its message runs nothing and the dispatcher skips it
    while timezone.now() < dt.datetime.fromisoformat(operation.params["not_before"]):
        time.sleep(0.1)
    assert operation_run(cancelled.pk) == "skipped"
    assert cancelled.pk not in operation_dispatch_pending(enqueue=lambda *_: None)
    assert fleetsim.get_instance("acme-prod")["status"] == "RUNNING"
    assert fleetsim.calls("compute.instances.delete") == 0
    assert not DeletionRecord.objects.exists()
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE
    # cancelling again answers the same cancelled operation
    again = instance_teardown_cancel(operation=operation, actor=devops, reason="twice")
    assert again.pk == cancelled.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "approvers", "reference", "message"),
    [
        ("acme-pro", ["manager"], "request:1", "Type the instance's name exactly (acme-prod)"),
        ("ACME-PROD", ["manager"], "request:1", "Type the instance's name exactly (acme-prod)"),
        ("acme-prod", [], "request:1", "nobody approved this one"),
        ("acme-prod", ["devops"], "request:1", "someone other than the person running it"),
        ("acme-prod", ["manager"], "", "needs the reference of its approval"),
    ],
    ids=["typo", "case", "no-approver", "self-approval", "no-reference"],
)
def test_teardown_refusals_say_why_and_change_nothing(devops, typed, approvers, reference, message):
    # given an active instance
    instance = make_instance("acme-prod", data_disk="data")
    people = {"devops": devops, "manager": make_persona("manager")}
    events = AuditEvent.objects.count()
    # when a teardown is asked for with a wrong name, no or only self approval, no reference
    with pytest.raises(ValidationError, match=re.escape(message)):
        instance_teardown_schedule(
            instance=instance,
            actor=devops,
            reason="customer left",
            typed_name=typed,
            approved_by=[people[name] for name in approvers],
            reference=reference,
        )
    # then nothing changed: no operation, no audit event, still active
    assert not Operation.objects.exists()
    assert AuditEvent.objects.count() == events
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE


@pytest.mark.django_db
def test_suspend_and_resume_refusals(devops):
    # given an active instance without a data disk, and a suspended one
    bare = make_instance("bare-prod")
    asleep = make_instance("asleep-prod", data_disk="d", state=LifecycleState.SUSPENDED)
    # then each refusal names the reason, and no operation is created
    with pytest.raises(ValidationError, match="Say why the instance is suspended"):
        instance_suspend(instance=bare, actor=devops, reason="")
    with pytest.raises(ValidationError, match="no data disk recorded"):
        instance_suspend(instance=bare, actor=devops, reason="pause")
    with pytest.raises(ValidationError, match="asleep-prod is suspended; only an instance"):
        instance_suspend(instance=asleep, actor=devops, reason="pause")
    with pytest.raises(ValidationError, match="bare-prod is active; only an instance that is"):
        instance_resume(instance=bare, actor=devops, reason="back")
    assert not Operation.objects.exists()


@pytest.mark.django_db
def test_suspend_refused_while_an_upgrade_holds_the_instance(devops):
    # given an instance with an upgrade under way
    instance = make_instance("acme-prod", data_disk="data")
    make_operation(instance, kind=OperationKind.UPGRADE, state=OperationState.RUNNING)
    # when it is suspended; then the refusal names the upgrade
    with pytest.raises(ValidationError, match=r"Upgrade #\d+ is already under way"):
        instance_suspend(instance=instance, actor=devops, reason="pause")
    assert not Operation.objects.filter(kind=OperationKind.SUSPEND).exists()


@pytest.mark.django_db
def test_a_started_teardown_can_no_longer_be_cancelled(devops):
    # given a teardown a worker has claimed (its countdown is over)
    instance = make_instance("acme-prod", data_disk="data")
    operation = instance_teardown_schedule(
        instance=instance,
        actor=devops,
        reason="customer left",
        typed_name="acme-prod",
        approved_by=[make_persona("manager")],
        reference="request:9",
        delay=dt.timedelta(0),
    )
    Operation.objects.filter(pk=operation.pk).update(next_retry_at=None)
    assert operation_claim(operation_id=operation.pk) is not None
    # when someone cancels it; then it is refused, saying so
    with pytest.raises(ValidationError, match="can no longer be cancelled"):
        instance_teardown_cancel(operation=operation, actor=devops, reason="too late")
    operation.refresh_from_db()
    assert operation.state == OperationState.RUNNING
    assert operation.steps.filter(state=StepState.DONE).count() == 0


@pytest.mark.django_db
def test_a_teardown_message_that_arrives_early_waits_and_touches_nothing(devops):
    # given a teardown scheduled an hour out
    instance = make_instance("acme-prod", data_disk="data")
    operation = instance_teardown_schedule(
        instance=instance,
        actor=devops,
        reason="customer left",
        typed_name="acme-prod",
        approved_by=[make_persona("manager")],
        reference="request:11",
        delay=dt.timedelta(hours=1),
    )
    # then no worker can claim it before its not-before
    assert operation_claim(operation_id=operation.pk) is None
    # when a message runs it early anyway (its not-before lost, as a redelivery would)
    Operation.objects.filter(pk=operation.pk).update(next_retry_at=None)
    assert operation_run(operation.pk) == "deferred"
    # then it is pending again, waiting for the countdown, with no step run
    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING
    assert operation.next_retry_at is not None
    assert operation.next_retry_at > timezone.now() + dt.timedelta(minutes=59)
    assert "Teardown countdown" in operation.waiting_for
    assert not operation.steps.exists()
    instance.refresh_from_db()
    assert instance.state == LifecycleState.ACTIVE
