"""Suspend, resume and teardown, step by step (queued by instances/services/lifecycle.py).

Every step goes through ``step_run`` and every GCP change carries a requestId derived from
the operation and the step (``op-<pk>-<step>``), so a worker killed anywhere is resumed by
another that skips the finished steps and, for the step it was in, resends the same request:
GCP answers with the first operation, and nothing is snapshotted, stopped or deleted twice.

Suspend: pre-checks; snapshot the data disk (labelled ``mi-purpose=suspension``) and wait
until it is READY; mark the instance suspended (from here it is not probed, its alerts are
muted, it is out of the uptime and version SLAs: every reader asks
``instances.choices.MONITORED_STATES``), so the VM going down pages nobody; stop the VM; then
delete this instance's older suspension snapshots (only now that the new one is READY).

Resume: start the VM; wait for ``/healthz`` healthy before the deadline (counted from the
start, kept in the step's output so a resumed wait keeps it); mark the instance active.
A VM that never answers fails the operation with the last probe and leaves the instance
suspended (with its VM running: the inventory shows that drift).

Teardown: wait for the not-before (a message that arrives early defers the operation);
leave monitoring (torn down); list what will be deleted (VM, its disks, the data disk, every
snapshot labelled with the instance) once; open the deletion record; delete each, recording
each resource with its GCP id and self-link as it goes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from instances import gcp
from instances.choices import DeletedResourceKind, Drift, LifecycleState
from instances.models import DeletedResource, DeletionRecord, Instance, Operation
from instances.probes import HealthSummary, instance_read
from instances.services.operations import (
    LeaseLost,
    OperationDeferred,
    StepFailed,
    operation_held,
    step_run,
)
from mi_admin.audit.services import audit_record
from mi_admin.ui.times import CLOCK, when_text

SUSPENSION = "suspension"
PRECHECK = "Pre-checks"
SUSPEND_SNAPSHOT = "Snapshot the data disk"
SUSPEND_MARK = "Mute alerts, stop probing, leave the SLAs (suspended)"
SUSPEND_STOP = "Stop the VM"
SUSPEND_PRUNE = "Delete older suspension snapshots"
RESUME_START = "Start the VM"
RESUME_WAIT = "Wait for /healthz to answer healthy"
RESUME_MARK = "Probe again, unmute alerts, back in the SLAs (active)"
TEARDOWN_COUNTDOWN = "Countdown over"
TEARDOWN_LEAVE = "Leave monitoring and the version tracker (torn down)"
TEARDOWN_INVENTORY = "List the GCP resources to delete"
TEARDOWN_RECORD = "Open the deletion record"
SNAPSHOT_READY_SECONDS = 600


def _where(instance: Instance) -> dict[str, str]:
    return {"project": instance.gcp_project, "zone": instance.gcp_zone, "name": instance.vm_name}


def _request_id(operation: Operation, step: str) -> str:
    return gcp.request_id_for(f"op-{operation.pk}-{step}")


def _label(value: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in value.lower())[:63]


def _held_or_stop(operation: Operation) -> None:
    if operation.lease_owner and not operation_held(operation=operation):
        raise LeaseLost(f"operation {operation.pk}: lease lost while waiting")


def _instance(operation: Operation) -> Instance:
    if operation.instance is None:
        raise StepFailed(f"A {operation.kind} needs an instance.")
    return operation.instance


def _set_state(
    operation: Operation, instance: Instance, state: str, action: str, **fields: Any
) -> None:
    """Move the instance to ``state`` (with ``fields``) and audit it, in one transaction."""
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        before = {"state": locked.state}
        Instance.objects.filter(pk=instance.pk).update(state=state, **fields)
        audit_record(
            action=action,
            actor=operation.actor,
            obj=locked,
            before=before,
            after={
                "state": state,
                "operation": operation.pk,
                "reference": operation.params.get("reference", ""),
                "reason": operation.params.get("reason", ""),
            },
        )
    instance.state = state


# --- suspend -------------------------------------------------------------------------------


def _suspend_precheck(instance: Instance) -> tuple[str, dict[str, Any]]:
    instance.refresh_from_db()
    if instance.state not in (LifecycleState.ACTIVE, LifecycleState.SUSPENDED):
        raise StepFailed(f"{instance.slug} is {instance.get_state_display().lower()}, not active.")
    if not instance.data_disk:
        raise StepFailed(f"{instance.slug} has no data disk recorded to snapshot.")
    vm = gcp.vm_get(**_where(instance))
    gcp.disk_get(project=instance.gcp_project, zone=instance.gcp_zone, name=instance.data_disk)
    return f"{instance.slug} is {instance.state}; VM {vm.status}; data disk found", {
        "vm_status": vm.status
    }


def _wait_ready(project: str, snapshot: gcp.Snapshot, operation: Operation) -> gcp.Snapshot:
    deadline = time.monotonic() + SNAPSHOT_READY_SECONDS
    while snapshot.status != "READY":
        if snapshot.status in ("FAILED", "DELETING"):
            raise StepFailed(f"Snapshot {snapshot.name} is {snapshot.status}.")
        if time.monotonic() > deadline:
            raise StepFailed(
                f"Snapshot {snapshot.name} was not READY within {SNAPSHOT_READY_SECONDS} s "
                f"(still {snapshot.status})."
            )
        _held_or_stop(operation)
        time.sleep(1)
        snapshot = gcp.snapshot_get(project=project, name=snapshot.name)
    return snapshot


def _suspend_snapshot(operation: Operation, instance: Instance) -> tuple[str, dict[str, Any]]:
    name = f"mi-{instance.slug}"[:40].rstrip("-") + f"-suspend-{operation.pk}"
    labels = {
        "mi-instance": _label(instance.slug),
        "mi-operation": str(operation.pk),
        "mi-purpose": SUSPENSION,
    }
    snap = gcp.disk_snapshot_create(
        project=instance.gcp_project,
        zone=instance.gcp_zone,
        disk=instance.data_disk,
        snapshot=name,
        labels=labels,
        description=(
            f"MI Admin: {instance.slug} suspended by operation #{operation.pk}; the newest "
            "suspension snapshot is kept, older ones are deleted."
        ),
        request_id=_request_id(operation, "suspend-snapshot"),
    )
    snap = _wait_ready(instance.gcp_project, snap, operation)
    return f"{snap.name} ({snap.status})", {
        "snapshot": snap.name,
        "gcp_id": snap.gcp_id,
        "self_link": snap.self_link,
        "labels": labels,
    }


def _suspend_stop(operation: Operation, instance: Instance) -> tuple[str, dict[str, Any]]:
    done = gcp.vm_stop(**_where(instance), request_id=_request_id(operation, "suspend-stop"))
    vm = gcp.vm_get(**_where(instance))
    if vm.status not in ("TERMINATED", "STOPPED", "SUSPENDED"):
        raise StepFailed(f"The VM is {vm.status} after the stop, not TERMINATED.")
    Instance.objects.filter(pk=instance.pk).update(vm_status=vm.status, drift=Drift.NONE)
    return f"VM {vm.status}", {"gcp_operation": done.name, "vm_status": vm.status}


def _suspend_prune(
    operation: Operation, instance: Instance, keep: str
) -> tuple[str, dict[str, Any]]:
    older = [
        snap
        for snap in gcp.snapshot_list(
            project=instance.gcp_project,
            labels={"mi-instance": _label(instance.slug), "mi-purpose": SUSPENSION},
        )
        if snap.name != keep
    ]
    deleted = []
    for snap in older:
        # Gone already (a previous attempt, or by hand) is what we wanted.
        with contextlib.suppress(gcp.GcpNotFound):
            gcp.snapshot_delete(
                project=instance.gcp_project,
                name=snap.name,
                request_id=_request_id(operation, f"prune-{snap.name}"),
            )
        deleted.append(snap.name)
    detail = f"deleted {', '.join(deleted)}" if deleted else "none older"
    return f"{detail}; kept {keep}", {"deleted": deleted, "kept": keep}


def run_suspend(operation: Operation) -> dict[str, Any]:
    instance = _instance(operation)
    step_run(operation=operation, name=PRECHECK, work=lambda: _suspend_precheck(instance))
    snap = step_run(
        operation=operation,
        name=SUSPEND_SNAPSHOT,
        work=lambda: _suspend_snapshot(operation, instance),
    )

    def mark() -> tuple[str, dict[str, Any]]:
        _set_state(operation, instance, LifecycleState.SUSPENDED, "instance.suspended")
        return "suspended: not probed, alerts muted, out of the uptime and version SLAs", {}

    step_run(operation=operation, name=SUSPEND_MARK, work=mark)
    stopped = step_run(
        operation=operation, name=SUSPEND_STOP, work=lambda: _suspend_stop(operation, instance)
    )
    pruned = step_run(
        operation=operation,
        name=SUSPEND_PRUNE,
        work=lambda: _suspend_prune(operation, instance, str(snap["snapshot"])),
    )
    return {
        "snapshot": snap["snapshot"],
        "snapshot_self_link": snap.get("self_link", ""),
        "vm_status": stopped["vm_status"],
        "deleted_snapshots": pruned["deleted"],
        "reference": operation.params.get("reference", ""),
    }


# --- resume --------------------------------------------------------------------------------


def _resume_start(operation: Operation, instance: Instance) -> tuple[str, dict[str, Any]]:
    instance.refresh_from_db()
    if instance.state != LifecycleState.SUSPENDED:
        raise StepFailed(
            f"{instance.slug} is {instance.get_state_display().lower()}, not suspended."
        )
    done = gcp.vm_start(**_where(instance), request_id=_request_id(operation, "resume-start"))
    seconds = float(
        operation.params.get("deadline_seconds", settings.RESUME_HEALTH_DEADLINE_SECONDS)
    )
    deadline = timezone.now() + dt.timedelta(seconds=seconds)
    return f"VM started; healthy expected by {when_text(deadline, fmt=CLOCK)}", {
        "gcp_operation": done.name,
        "deadline_at": deadline.isoformat(),
    }


def _resume_wait(
    operation: Operation, instance: Instance, deadline_at: str
) -> tuple[str, dict[str, Any]]:
    deadline = dt.datetime.fromisoformat(deadline_at)
    poll = max(0.05, float(operation.params.get("poll_seconds", settings.RESUME_POLL_SECONDS)))
    seconds = float(
        operation.params.get("deadline_seconds", settings.RESUME_HEALTH_DEADLINE_SECONDS)
    )
    summary = HealthSummary()
    while True:
        _held_or_stop(operation)
        reading = instance_read(
            base_url=instance.url, timeout=float(settings.UPGRADE_PROBE_TIMEOUT)
        )
        summary.add(reading)
        if reading.healthy:
            return f"healthy on {reading.version or 'an unknown version'} ({summary.text()})", {
                **summary.as_dict(),
                "version": reading.version,
            }
        if timezone.now() >= deadline:
            raise StepFailed(
                f"{instance.slug} did not answer /healthz healthy within {seconds:g} s of the "
                f"VM start (last probe: {reading.describe()}); it stays suspended with its VM "
                "running: look at the VM, then resume again or stop it."
            )
        time.sleep(max(0.0, min(poll, (deadline - timezone.now()).total_seconds())))


def run_resume(operation: Operation) -> dict[str, Any]:
    instance = _instance(operation)
    started = step_run(
        operation=operation, name=RESUME_START, work=lambda: _resume_start(operation, instance)
    )
    health = step_run(
        operation=operation,
        name=RESUME_WAIT,
        work=lambda: _resume_wait(operation, instance, str(started["deadline_at"])),
    )

    def mark() -> tuple[str, dict[str, Any]]:
        fields: dict[str, Any] = {"vm_status": "RUNNING", "drift": Drift.NONE}
        if health.get("version"):
            fields["observed_version"] = health["version"]
        _set_state(operation, instance, LifecycleState.ACTIVE, "instance.resumed", **fields)
        return "active: probed, alerts unmuted, held to the uptime and version SLAs", {}

    step_run(operation=operation, name=RESUME_MARK, work=mark)
    return {
        "health": health,
        "version": health.get("version", ""),
        "reference": operation.params.get("reference", ""),
    }


# --- teardown ------------------------------------------------------------------------------


def _not_before(operation: Operation) -> dt.datetime:
    return dt.datetime.fromisoformat(str(operation.params["not_before"]))


def _wait_for_countdown(operation: Operation) -> None:
    """An early message (a redelivery): put the operation back to wait, before any step,
    so the step log shows no attempt and nothing is touched before the time."""
    not_before, now = _not_before(operation), timezone.now()
    if now < not_before:
        raise OperationDeferred(
            f"Teardown countdown: nothing is deleted before {when_text(not_before, seconds=True)}",
            seconds=(not_before - now).total_seconds(),
        )


def _countdown(operation: Operation) -> tuple[str, dict[str, Any]]:
    now = timezone.now()
    Operation.objects.filter(pk=operation.pk).update(waiting_for="")
    not_before = when_text(_not_before(operation), fmt=CLOCK)
    return f"not before {not_before}; began {when_text(now, fmt=CLOCK)}", {
        "began_at": now.isoformat()
    }


def _resource(kind: str, name: str, gcp_id: str, self_link: str, **extra: str) -> dict[str, str]:
    return {"kind": kind, "name": name, "gcp_id": gcp_id, "self_link": self_link, **extra}


def _inventory(instance: Instance) -> tuple[str, dict[str, Any]]:
    """What the teardown deletes, read once: the VM (its auto-delete disks go with it), its
    other disks and the recorded data disk, and every snapshot labelled with the instance."""
    project, zone = instance.gcp_project, instance.gcp_zone
    resources: list[dict[str, str]] = []
    disk_names: list[str] = []
    try:
        vm = gcp.vm_get(**_where(instance))
    except gcp.GcpNotFound:
        vm = None
    if vm is not None:
        resources.append(_resource(DeletedResourceKind.VM, vm.name, vm.gcp_id, vm.self_link))
        for attached in vm.disks:
            if attached.auto_delete:
                disk = gcp.disk_get(project=project, zone=zone, name=attached.name)
                resources.append(
                    _resource(
                        DeletedResourceKind.DISK,
                        disk.name,
                        disk.gcp_id,
                        disk.self_link,
                        deleted_with=DeletedResourceKind.VM,
                    )
                )
            else:
                disk_names.append(attached.name)
    if instance.data_disk and instance.data_disk not in disk_names:
        disk_names.append(instance.data_disk)
    for name in disk_names:
        try:
            disk = gcp.disk_get(project=project, zone=zone, name=name)
        except gcp.GcpNotFound:
            continue
        resources.append(
            _resource(DeletedResourceKind.DISK, disk.name, disk.gcp_id, disk.self_link)
        )
    for snap in gcp.snapshot_list(project=project, labels={"mi-instance": _label(instance.slug)}):
        resources.append(
            _resource(DeletedResourceKind.SNAPSHOT, snap.name, snap.gcp_id, snap.self_link)
        )
    names = ", ".join(f"{r['kind']} {r['name']}" for r in resources) or "nothing found"
    return names, {"resources": resources}


def _open_record(operation: Operation, instance: Instance) -> tuple[str, dict[str, Any]]:
    actor = operation.actor
    if actor is None:
        raise StepFailed("The teardown has no actor to record.")
    with transaction.atomic():
        record, _ = DeletionRecord.objects.get_or_create(
            operation=operation,
            defaults={
                "instance": instance,
                "instance_slug": instance.slug,
                "customer_name": instance.customer.name,
                "gcp_project": instance.gcp_project,
                "requested_by": actor,
                "requested_by_label": str(actor)[:254],
                "approved_by": operation.params["approved_by"],
                "reference": operation.params["reference"],
                "reason": operation.params.get("reason", ""),
                "created_at": timezone.now(),
            },
        )
        audit_record(
            action="instance.deletion_record_opened",
            actor=actor,
            obj=record,
            after={"operation": operation.pk, "reference": record.reference},
        )
    return f"deletion record #{record.pk}", {"record": record.pk}


def _record_deleted(record_id: int, resource: dict[str, str], gcp_operation: str) -> None:
    DeletedResource.objects.get_or_create(
        record_id=record_id,
        kind=resource["kind"],
        name=resource["name"],
        defaults={
            "gcp_id": resource["gcp_id"],
            "self_link": resource["self_link"],
            "deleted_with": resource.get("deleted_with", ""),
            "gcp_operation": gcp_operation,
            "deleted_at": timezone.now(),
        },
    )


def _delete(
    operation: Operation,
    instance: Instance,
    resource: dict[str, str],
    record_id: int,
    with_vm: list[dict[str, str]],
) -> tuple[str, dict[str, Any]]:
    kind, name = resource["kind"], resource["name"]
    request_id = _request_id(operation, f"delete-{kind}-{name}")
    project, zone = instance.gcp_project, instance.gcp_zone
    try:
        if kind == DeletedResourceKind.VM:
            done = gcp.vm_delete(project=project, zone=zone, name=name, request_id=request_id)
        elif kind == DeletedResourceKind.DISK:
            done = gcp.disk_delete(project=project, zone=zone, name=name, request_id=request_id)
        else:
            done = gcp.snapshot_delete(project=project, name=name, request_id=request_id)
        gcp_operation, detail = done.name, "deleted"
    except gcp.GcpNotFound:
        # Gone already: an earlier attempt deleted it before its worker died.
        gcp_operation, detail = "", "already gone"
    with transaction.atomic():
        _record_deleted(record_id, resource, gcp_operation)
        if kind == DeletedResourceKind.VM:
            for other in with_vm:
                _record_deleted(record_id, other, gcp_operation)
    return f"{detail} ({resource['gcp_id'] or 'no id'})", {"gcp_operation": gcp_operation}


def run_teardown(operation: Operation) -> dict[str, Any]:
    instance = _instance(operation)
    _wait_for_countdown(operation)
    step_run(operation=operation, name=TEARDOWN_COUNTDOWN, work=lambda: _countdown(operation))

    def leave() -> tuple[str, dict[str, Any]]:
        _set_state(operation, instance, LifecycleState.TORN_DOWN, "instance.torn_down")
        return "torn down: not probed, no alerts, out of the SLAs and rollouts", {}

    step_run(operation=operation, name=TEARDOWN_LEAVE, work=leave)
    listed = step_run(
        operation=operation, name=TEARDOWN_INVENTORY, work=lambda: _inventory(instance)
    )
    record = step_run(
        operation=operation, name=TEARDOWN_RECORD, work=lambda: _open_record(operation, instance)
    )
    record_id = int(record["record"])
    resources: list[dict[str, str]] = list(listed["resources"])
    # Boot disks go with their VM (auto-delete): recorded by the VM's step, no step of theirs.
    with_vm = [r for r in resources if r.get("deleted_with") == DeletedResourceKind.VM]
    for resource in resources:
        if resource in with_vm:
            continue

        def delete(r: dict[str, str] = resource) -> tuple[str, dict[str, Any]]:
            return _delete(operation, instance, r, record_id, with_vm)

        step_run(
            operation=operation,
            name=f"Delete {resource['kind']} {resource['name']}",
            work=delete,
        )

    def close() -> tuple[str, dict[str, Any]]:
        count = DeletedResource.objects.filter(record_id=record_id).count()
        audit_record(
            action="instance.resources_deleted",
            actor=operation.actor,
            obj=instance,
            after={"operation": operation.pk, "record": record_id, "resources": count},
        )
        return f"{count} resources deleted and recorded", {"count": count}

    closed = step_run(operation=operation, name="Close the deletion record", work=close)
    return {
        "record": record_id,
        "deleted": int(closed["count"]),
        "reference": operation.params.get("reference", ""),
    }
