"""Plain frozen dataclasses the adapter returns, and their conversion from Compute messages.

Nothing outside this package ever sees a protobuf message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.cloud.compute_v1.types import compute

logger = logging.getLogger(__name__)

# Every VM status the Compute API documents (the client's enum, so a new one arrives with a
# client upgrade); anything else in ``Vm.status`` is data GCP should not have sent.
VM_STATUSES = frozenset(
    name for name in compute.Instance.Status.__members__ if name != "UNDEFINED_STATUS"
)


@dataclass(frozen=True)
class AttachedDisk:
    name: str
    boot: bool
    auto_delete: bool
    device_name: str


@dataclass(frozen=True)
class Vm:
    project: str
    zone: str
    name: str
    status: str
    machine_type: str
    internal_ip: str
    external_ip: str
    metadata: dict[str, str]
    metadata_fingerprint: str
    labels: dict[str, str]
    disks: tuple[AttachedDisk, ...]
    created_at: datetime | None = None
    gcp_id: str = ""  # Compute's numeric id, as text (the evidence a deletion record keeps)
    self_link: str = ""

    @property
    def data_disks(self) -> tuple[AttachedDisk, ...]:
        return tuple(d for d in self.disks if not d.boot)


@dataclass(frozen=True)
class Disk:
    project: str
    zone: str
    name: str
    status: str
    size_gb: int
    users: tuple[str, ...]
    labels: dict[str, str]
    gcp_id: str = ""
    self_link: str = ""


@dataclass(frozen=True)
class Snapshot:
    project: str
    name: str
    status: str
    source_disk: str
    source_disk_link: str
    disk_size_gb: int
    storage_bytes: int
    labels: dict[str, str]
    description: str
    created_at: datetime | None
    gcp_id: str = ""
    self_link: str = ""


@dataclass(frozen=True)
class Operation:
    project: str
    zone: str | None
    name: str
    status: str
    operation_type: str
    target_link: str
    request_id: str = ""  # the requestId it was started with (Compute's clientOperationId)


@dataclass(frozen=True)
class IamCondition:
    title: str
    expression: str
    description: str = ""


@dataclass(frozen=True)
class IamBinding:
    role: str
    members: tuple[str, ...]
    condition: IamCondition | None = None


@dataclass(frozen=True)
class IamPolicy:
    version: int = 1
    etag: str = ""
    bindings: tuple[IamBinding, ...] = field(default_factory=tuple)


def short_name(url: str) -> str:
    """``.../zones/us-central1-f/machineTypes/n2-standard-8`` → ``n2-standard-8``."""
    return url.rstrip("/").rsplit("/", 1)[-1] if url else ""


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when absent or unparseable (a
    timestamp is informative, never worth failing a read over)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        logger.warning("unparseable timestamp from GCP: %r", value[:64])
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def vm_from_proto(project: str, inst: compute.Instance) -> Vm:
    internal_ip = external_ip = ""
    if inst.network_interfaces:
        nic = inst.network_interfaces[0]
        internal_ip = nic.network_i_p
        nat = [ac.nat_i_p for ac in nic.access_configs if ac.nat_i_p]
        external_ip = nat[0] if nat else ""
    return Vm(
        project=project,
        zone=short_name(inst.zone),
        name=inst.name,
        status=inst.status,
        machine_type=short_name(inst.machine_type),
        internal_ip=internal_ip,
        external_ip=external_ip,
        metadata={item.key: item.value for item in inst.metadata.items},
        metadata_fingerprint=inst.metadata.fingerprint,
        labels=dict(inst.labels),
        disks=tuple(
            AttachedDisk(
                name=short_name(d.source),
                boot=d.boot,
                auto_delete=d.auto_delete,
                device_name=d.device_name,
            )
            for d in inst.disks
        ),
        created_at=parse_timestamp(inst.creation_timestamp),
        gcp_id=str(inst.id) if inst.id else "",
        self_link=inst.self_link,
    )


def disk_from_proto(project: str, disk: compute.Disk) -> Disk:
    return Disk(
        project=project,
        zone=short_name(disk.zone),
        name=disk.name,
        status=disk.status,
        size_gb=int(disk.size_gb),
        users=tuple(short_name(u) for u in disk.users),
        labels=dict(disk.labels),
        gcp_id=str(disk.id) if disk.id else "",
        self_link=disk.self_link,
    )


def snapshot_from_proto(project: str, snap: compute.Snapshot) -> Snapshot:
    return Snapshot(
        project=project,
        name=snap.name,
        status=snap.status,
        source_disk=short_name(snap.source_disk),
        source_disk_link=snap.source_disk,
        disk_size_gb=int(snap.disk_size_gb),
        storage_bytes=int(snap.storage_bytes),
        labels=dict(snap.labels),
        description=snap.description,
        created_at=parse_timestamp(snap.creation_timestamp),
        gcp_id=str(snap.id) if snap.id else "",
        self_link=snap.self_link,
    )


def operation_from_proto(project: str, op: compute.Operation) -> Operation:
    return Operation(
        project=project,
        zone=short_name(op.zone) or None,
        name=op.name,
        status=op.status.name,
        operation_type=op.operation_type,
        target_link=op.target_link,
        request_id=op.client_operation_id,
    )


def policy_from_proto(policy: compute.Policy) -> IamPolicy:
    return IamPolicy(
        version=policy.version,
        etag=policy.etag,
        bindings=tuple(
            IamBinding(
                role=b.role,
                members=tuple(b.members),
                condition=(
                    IamCondition(
                        title=b.condition.title,
                        expression=b.condition.expression,
                        description=b.condition.description,
                    )
                    if b.condition.expression
                    else None
                ),
            )
            for b in policy.bindings
        ),
    )


def policy_to_proto(policy: IamPolicy) -> compute.Policy:
    bindings = []
    for b in policy.bindings:
        binding = compute.Binding(role=b.role, members=list(b.members))
        if b.condition is not None:
            binding.condition = compute.Expr(
                title=b.condition.title,
                expression=b.condition.expression,
                description=b.condition.description,
            )
        bindings.append(binding)
    proto = compute.Policy(version=policy.version, bindings=bindings)
    if policy.etag:
        proto.etag = policy.etag
    return proto
