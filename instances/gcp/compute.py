"""The adapter's operations on VMs, disks, snapshots and VM IAM policies.

Every function is keyword-only and returns plain dataclasses. Reads retry transient errors;
mutations start once, wait for their operation and raise if it ends in error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from google.cloud.compute_v1.types import compute

from instances.gcp.calls import mutate, read, request_timeout, reraise, wait_for_operation
from instances.gcp.clients import compute_clients
from instances.gcp.iam import expiry_condition, policy_with_binding, policy_without_binding
from instances.gcp.models import (
    Disk,
    IamPolicy,
    Operation,
    Snapshot,
    Vm,
    disk_from_proto,
    operation_from_proto,
    policy_from_proto,
    policy_to_proto,
    snapshot_from_proto,
    vm_from_proto,
)

IAM_POLICY_VERSION = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _optional(**fields: str | None) -> dict[str, str]:
    """Only the fields with a value: setting an optional proto field to "" still sends it."""
    return {key: value for key, value in fields.items() if value}


# --- VMs -----------------------------------------------------------------------------------


def vm_get(*, project: str, zone: str, name: str) -> Vm:
    def call() -> Vm:
        inst = compute_clients().instances.get(
            project=project, zone=zone, instance=name, retry=None, timeout=request_timeout()
        )
        return vm_from_proto(project, inst)

    return read(f"instances.get {project}/{zone}/{name}", call)


def vm_list(*, project: str, zone: str, filter_expr: str = "") -> list[Vm]:
    """Every VM in the zone, optionally filtered (Compute filter syntax, e.g. ``name = "x"``)."""

    def call() -> list[Vm]:
        request = compute.ListInstancesRequest(
            project=project, zone=zone, **_optional(filter=filter_expr)
        )
        pager = compute_clients().instances.list(
            request=request, retry=None, timeout=request_timeout()
        )
        return [vm_from_proto(project, inst) for inst in pager]

    return read(f"instances.list {project}/{zone}", call)


def _vm_lifecycle(verb: str, request: Any, project: str, zone: str, name: str) -> Operation:
    """Send one stop/start/delete request and wait for its operation."""
    method = getattr(compute_clients().instances, f"{verb}_unary")
    return mutate(
        f"instances.{verb} {project}/{zone}/{name}",
        project,
        lambda: method(request=request, retry=None, timeout=request_timeout()),
    )


def vm_stop(*, project: str, zone: str, name: str, request_id: str | None = None) -> Operation:
    request = compute.StopInstanceRequest(
        project=project, zone=zone, instance=name, **_optional(request_id=request_id)
    )
    return _vm_lifecycle("stop", request, project, zone, name)


def vm_start(*, project: str, zone: str, name: str, request_id: str | None = None) -> Operation:
    request = compute.StartInstanceRequest(
        project=project, zone=zone, instance=name, **_optional(request_id=request_id)
    )
    return _vm_lifecycle("start", request, project, zone, name)


def vm_delete(*, project: str, zone: str, name: str, request_id: str | None = None) -> Operation:
    """Delete the VM; disks marked auto-delete (the boot disk) go with it, data disks stay."""
    request = compute.DeleteInstanceRequest(
        project=project, zone=zone, instance=name, **_optional(request_id=request_id)
    )
    return _vm_lifecycle("delete", request, project, zone, name)


def vm_set_metadata(
    *,
    project: str,
    zone: str,
    name: str,
    updates: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    request_id: str | None = None,
) -> Operation | None:
    """Set and/or remove metadata keys, keeping every other key.

    Read-modify-write guarded by the metadata fingerprint: if someone else changed the
    metadata in between, GCP answers 412 and this raises GcpConflict (retry the step).
    Returns None, without writing, when the metadata already has the wanted values.
    """
    vm = vm_get(project=project, zone=zone, name=name)
    items = dict(vm.metadata)
    for key in remove:
        items.pop(key, None)
    items.update(updates or {})
    if items == vm.metadata:
        return None
    request = compute.SetMetadataInstanceRequest(
        project=project,
        zone=zone,
        instance=name,
        **_optional(request_id=request_id),
        metadata_resource=compute.Metadata(
            fingerprint=vm.metadata_fingerprint,
            items=[compute.Items(key=k, value=v) for k, v in items.items()],
        ),
    )
    return mutate(
        f"instances.setMetadata {project}/{zone}/{name}",
        project,
        lambda: compute_clients().instances.set_metadata_unary(
            request=request, retry=None, timeout=request_timeout()
        ),
    )


# --- VM IAM policies -----------------------------------------------------------------------


def vm_iam_policy_get(*, project: str, zone: str, name: str) -> IamPolicy:
    def call() -> IamPolicy:
        request = compute.GetIamPolicyInstanceRequest(
            project=project,
            zone=zone,
            resource=name,
            options_requested_policy_version=IAM_POLICY_VERSION,
        )
        policy = compute_clients().instances.get_iam_policy(
            request=request, retry=None, timeout=request_timeout()
        )
        return policy_from_proto(policy)

    return read(f"instances.getIamPolicy {project}/{zone}/{name}", call)


def vm_iam_policy_set(*, project: str, zone: str, name: str, policy: IamPolicy) -> IamPolicy:
    """Write the whole policy. Its etag (from ``vm_iam_policy_get``) guards against lost
    updates: a stale etag raises GcpConflict. Not retried (read again and retry the step)."""
    request = compute.SetIamPolicyInstanceRequest(
        project=project,
        zone=zone,
        resource=name,
        zone_set_policy_request_resource=compute.ZoneSetPolicyRequest(
            policy=policy_to_proto(policy)
        ),
    )
    what = f"instances.setIamPolicy {project}/{zone}/{name}"
    try:
        result = compute_clients().instances.set_iam_policy(
            request=request, retry=None, timeout=request_timeout()
        )
    except Exception as exc:
        reraise(exc, what)
    return policy_from_proto(result)


def vm_iam_binding_add(
    *,
    project: str,
    zone: str,
    name: str,
    role: str,
    member: str,
    expires_at: datetime | None = None,
    title: str = "",
) -> IamPolicy:
    """Grant ``role`` to ``member`` on the VM, until ``expires_at`` when given (an IAM
    condition, so GCP ends the access itself). No write if the binding is already there."""
    condition = expiry_condition(expires_at, title=title) if expires_at is not None else None
    current = vm_iam_policy_get(project=project, zone=zone, name=name)
    wanted = policy_with_binding(current, role=role, member=member, condition=condition)
    if wanted == current:
        return current
    return vm_iam_policy_set(project=project, zone=zone, name=name, policy=wanted)


def vm_iam_binding_remove(
    *,
    project: str,
    zone: str,
    name: str,
    role: str,
    member: str,
    condition_title: str | None = None,
) -> IamPolicy:
    """Remove ``member`` from ``role`` (only under conditions with that title when given).
    No write if there is nothing to remove."""
    current = vm_iam_policy_get(project=project, zone=zone, name=name)
    wanted = policy_without_binding(
        current, role=role, member=member, condition_title=condition_title
    )
    if wanted == current:
        return current
    return vm_iam_policy_set(project=project, zone=zone, name=name, policy=wanted)


# --- disks and snapshots -------------------------------------------------------------------


def disk_get(*, project: str, zone: str, name: str) -> Disk:
    def call() -> Disk:
        disk = compute_clients().disks.get(
            project=project, zone=zone, disk=name, retry=None, timeout=request_timeout()
        )
        return disk_from_proto(project, disk)

    return read(f"disks.get {project}/{zone}/{name}", call)


def disk_delete(*, project: str, zone: str, name: str, request_id: str | None = None) -> Operation:
    """Delete a disk; GCP refuses (GcpPermanentError, 400) while a VM still uses it."""
    request = compute.DeleteDiskRequest(
        project=project, zone=zone, disk=name, **_optional(request_id=request_id)
    )
    return mutate(
        f"disks.delete {project}/{zone}/{name}",
        project,
        lambda: compute_clients().disks.delete_unary(
            request=request, retry=None, timeout=request_timeout()
        ),
    )


def disk_snapshot_create(
    *,
    project: str,
    zone: str,
    disk: str,
    snapshot: str,
    labels: Mapping[str, str] | None = None,
    description: str = "",
    request_id: str | None = None,
) -> Snapshot:
    """Snapshot a disk into a global snapshot named ``snapshot``; returns it once READY."""
    request = compute.CreateSnapshotDiskRequest(
        project=project,
        zone=zone,
        disk=disk,
        **_optional(request_id=request_id),
        snapshot_resource=compute.Snapshot(
            name=snapshot, labels=dict(labels or {}), description=description
        ),
    )
    mutate(
        f"disks.createSnapshot {project}/{zone}/{disk} -> {snapshot}",
        project,
        lambda: compute_clients().disks.create_snapshot_unary(
            request=request, retry=None, timeout=request_timeout()
        ),
    )
    return snapshot_get(project=project, name=snapshot)


def snapshot_get(*, project: str, name: str) -> Snapshot:
    def call() -> Snapshot:
        snap = compute_clients().snapshots.get(
            project=project, snapshot=name, retry=None, timeout=request_timeout()
        )
        return snapshot_from_proto(project, snap)

    return read(f"snapshots.get {project}/{name}", call)


def _label_filter(labels: Mapping[str, str]) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return " AND ".join(f"(labels.{key} = {quoted(value)})" for key, value in labels.items())


def snapshot_list(
    *, project: str, labels: Mapping[str, str] | None = None, filter_expr: str = ""
) -> list[Snapshot]:
    """The project's snapshots, newest first; ``labels`` keeps those with all these labels,
    ``filter_expr`` is a raw Compute filter (e.g. ``sourceDisk : "*data-disk"``)."""
    parts = [f"({filter_expr})"] if filter_expr else []
    if labels:
        parts.append(_label_filter(labels))
    request = compute.ListSnapshotsRequest(project=project, **_optional(filter=" AND ".join(parts)))

    def call() -> list[Snapshot]:
        pager = compute_clients().snapshots.list(
            request=request, retry=None, timeout=request_timeout()
        )
        return [snapshot_from_proto(project, snap) for snap in pager]

    snaps = read(f"snapshots.list {project}", call)
    return sorted(snaps, key=lambda s: s.created_at or _EPOCH, reverse=True)


def snapshot_delete(*, project: str, name: str, request_id: str | None = None) -> Operation:
    request = compute.DeleteSnapshotRequest(
        project=project, snapshot=name, **_optional(request_id=request_id)
    )
    return mutate(
        f"snapshots.delete {project}/{name}",
        project,
        lambda: compute_clients().snapshots.delete_unary(
            request=request, retry=None, timeout=request_timeout()
        ),
    )


# --- operations ----------------------------------------------------------------------------


def operation_wait(
    *, project: str, name: str, zone: str | None = None, timeout: float | None = None
) -> Operation:
    """Wait for a zonal (``zone`` given) or global operation, e.g. one a previous attempt
    of a task started. Raises GcpTimeout after ``timeout`` (default
    ``GCP_OPERATION_TIMEOUT``) and the operation's error if it fails."""
    return wait_for_operation(project=project, zone=zone, name=name, timeout=timeout)


def operation_get(*, project: str, name: str, zone: str | None = None) -> Operation:
    """An operation's current state, without waiting."""

    def call() -> Operation:
        clients = compute_clients()
        if zone:
            op = clients.zone_operations.get(
                project=project, zone=zone, operation=name, retry=None, timeout=request_timeout()
            )
        else:
            op = clients.global_operations.get(
                project=project, operation=name, retry=None, timeout=request_timeout()
            )
        return operation_from_proto(project, op)

    return read(f"operations.get {project}/{name}", call)
