"""The adapter's operations on VMs, disks, snapshots and VM IAM policies.

Every function is keyword-only and returns plain dataclasses. Reads retry transient errors;
mutations start once, wait for their operation and raise if it ends in error.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.cloud.compute_v1.types import compute

from instances.gcp.calls import mutate, read, request_timeout, reraise, wait_for_operation
from instances.gcp.clients import compute_clients
from instances.gcp.errors import GcpConflict
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

logger = logging.getLogger(__name__)

T = TypeVar("T")

IAM_POLICY_VERSION = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_ZERO_UUID = uuid.UUID(int=0)
# Namespace of the UUIDs derived from callers' keys (fixed: the same key must give the
# same UUID in every process and release, or a resent request would not be recognised).
_REQUEST_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mi-admin/gcp/request-id")


def _optional(**fields: str | None) -> dict[str, str]:
    """Only the fields with a value: setting an optional proto field to "" still sends it."""
    return {key: value for key, value in fields.items() if value}


def request_id_for(key: str) -> str:
    """The ``requestId`` Compute gets for a caller's key: the key itself when it already is
    a (non-zero) UUID, else a UUID derived from it (the same key always gives the same one).

    Compute refuses any other requestId with 400, and de-duplicates a mutation resent with
    the same one: a task passes a key naming its step (e.g. ``f"{operation.idempotency_key}
    :stop"``) so a retry after a lost answer gets the first operation back.
    """
    if _UUID_RE.match(key) and uuid.UUID(key) != _ZERO_UUID:
        return str(uuid.UUID(key))
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, key))


def _request_id(key: str | None) -> str:
    """Every mutation carries a requestId; without a caller's key it is a fresh one."""
    return request_id_for(key) if key else str(uuid.uuid4())


def _reread_once(what: str, attempt: Callable[[str | None], T], request_id: str | None) -> T:
    """Run a read-modify-write; if its guard (fingerprint, etag) went stale between the read
    and the write, read and write once more. A second conflict is raised (someone keeps
    changing it: let the task retry the step later). The second write is a new request, so
    it gets its own requestId derived from the caller's key."""
    try:
        return attempt(request_id)
    except GcpConflict as exc:
        if exc.status not in (409, 412):
            raise
        logger.info("gcp %s: %s; reading again and retrying once", what, exc)
    return attempt(f"{request_id}:reread" if request_id else None)


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
        project=project, zone=zone, instance=name, request_id=_request_id(request_id)
    )
    return _vm_lifecycle("stop", request, project, zone, name)


def vm_start(*, project: str, zone: str, name: str, request_id: str | None = None) -> Operation:
    request = compute.StartInstanceRequest(
        project=project, zone=zone, instance=name, request_id=_request_id(request_id)
    )
    return _vm_lifecycle("start", request, project, zone, name)


def vm_delete(*, project: str, zone: str, name: str, request_id: str | None = None) -> Operation:
    """Delete the VM; disks marked auto-delete (the boot disk) go with it, data disks stay."""
    request = compute.DeleteInstanceRequest(
        project=project, zone=zone, instance=name, request_id=_request_id(request_id)
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
    metadata in between, GCP answers 412; the metadata is read again and the change applied
    on top of theirs, once. A second 412 raises GcpConflict (retry the step later).
    Returns None, without writing, when the metadata already has the wanted values.
    """
    what = f"instances.setMetadata {project}/{zone}/{name}"

    def attempt(key: str | None) -> Operation | None:
        vm = vm_get(project=project, zone=zone, name=name)
        items = dict(vm.metadata)
        for item in remove:
            items.pop(item, None)
        items.update(updates or {})
        if items == vm.metadata:
            return None
        request = compute.SetMetadataInstanceRequest(
            project=project,
            zone=zone,
            instance=name,
            request_id=_request_id(key),
            metadata_resource=compute.Metadata(
                fingerprint=vm.metadata_fingerprint,
                items=[compute.Items(key=k, value=v) for k, v in items.items()],
            ),
        )
        return mutate(
            what,
            project,
            lambda: compute_clients().instances.set_metadata_unary(
                request=request, retry=None, timeout=request_timeout()
            ),
        )

    return _reread_once(what, attempt, request_id)


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
    condition, so GCP ends the access itself). No write if the binding is already there.
    A stale etag (someone changed the policy in between) is read again and retried once."""
    condition = expiry_condition(expires_at, title=title) if expires_at is not None else None

    def attempt(_key: str | None) -> IamPolicy:
        current = vm_iam_policy_get(project=project, zone=zone, name=name)
        wanted = policy_with_binding(current, role=role, member=member, condition=condition)
        if wanted == current:
            return current
        return vm_iam_policy_set(project=project, zone=zone, name=name, policy=wanted)

    return _reread_once(f"instances.setIamPolicy {project}/{zone}/{name}", attempt, None)


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
    No write if there is nothing to remove. A stale etag is read again and retried once."""

    def attempt(_key: str | None) -> IamPolicy:
        current = vm_iam_policy_get(project=project, zone=zone, name=name)
        wanted = policy_without_binding(
            current, role=role, member=member, condition_title=condition_title
        )
        if wanted == current:
            return current
        return vm_iam_policy_set(project=project, zone=zone, name=name, policy=wanted)

    return _reread_once(f"instances.setIamPolicy {project}/{zone}/{name}", attempt, None)


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
        project=project, zone=zone, disk=name, request_id=_request_id(request_id)
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
        request_id=_request_id(request_id),
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
        project=project, snapshot=name, request_id=_request_id(request_id)
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
