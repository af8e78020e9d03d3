"""Suspend, resume and teardown: the real adapter against the fleet simulator, run by a real
Celery worker, and what monitoring does with the instance afterwards."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.utils import timezone

from fleetsim.client import FleetSimClient
from health.choices import HealthState
from health.models import HealthSample, InstanceHealth
from health.services.sweep import sweep_run
from instances.choices import (
    Architecture,
    LifecycleState,
    OperationState,
)
from instances.models import (
    Customer,
    Instance,
    Operation,
    Release,
)
from instances.runners.lifecycle import (
    PRECHECK,
    SUSPEND_MARK,
    SUSPEND_PRUNE,
    SUSPEND_SNAPSHOT,
    SUSPEND_STOP,
)
from instances.services.lifecycle import (
    instance_suspend,
)
from instances.versions import NOT_HELD, ReleaseHistory
from mi_admin.audit.models import AuditEvent
from mi_admin.sla import work_calendar_from_settings

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
    sim.upsert_instances(
        [
            {
                "slug": slug,
                "project": instance.gcp_project,
                "name": instance.vm_name,
                "version": version,
                "reconcile_delay": 0.3,
                **spec,
            }
        ]
    )
    return instance


def wait_finished(operation: Operation, seconds: float = 60) -> Operation:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        operation.refresh_from_db()
        if operation.finished_at is not None:
            return operation
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.pk} still {operation.state} after {seconds} s")


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
    # the instance is no longer probed, shows suspended, and is out of the version SLA
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
