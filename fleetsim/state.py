"""The simulator's data model: VMs, disks, snapshots, IAM policies, Cloud SQL instances and
their backup runs, and the VMs' frontends.

Everything lives in one ``Store`` owned by the event loop thread, so no locks are needed.
Times that must survive a restart (reconcile deadlines) are wall-clock epoch seconds.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleetsim.errors import ApiError, not_found

API_ROOT = "https://www.googleapis.com/compute/v1"
VERSION_KEY = "sourcegraph-version"
HEALTH_MODES = ("ok", "slow", "error", "never_healthy", "bad_release", "hang")
VM_STATUSES = (
    "PROVISIONING",
    "STAGING",
    "RUNNING",
    "STOPPING",
    "SUSPENDING",
    "SUSPENDED",
    "REPAIRING",
    "TERMINATED",
)
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")

_ids = itertools.count(int(time.time() * 1000) % 10**12 * 1000)


def new_id() -> int:
    return next(_ids)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fingerprint(payload: object) -> str:
    """An opaque token that changes whenever ``payload`` changes, like GCP's fingerprints."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def zone_link(project: str, zone: str) -> str:
    return f"{API_ROOT}/projects/{project}/zones/{zone}"


@dataclass
class AttachedDisk:
    name: str
    boot: bool = False
    auto_delete: bool = False
    device_name: str = ""


@dataclass
class Disk:
    project: str
    zone: str
    name: str
    size_gb: int = 100
    type: str = "pd-ssd"
    status: str = "READY"
    labels: dict[str, str] = field(default_factory=dict)
    id: int = field(default_factory=new_id)
    creation_timestamp: str = field(default_factory=now_rfc3339)

    @property
    def path(self) -> str:
        return f"projects/{self.project}/zones/{self.zone}/disks/{self.name}"

    @property
    def self_link(self) -> str:
        return f"{API_ROOT}/{self.path}"


@dataclass
class Snapshot:
    project: str
    name: str
    source_disk: str
    source_disk_id: int
    disk_size_gb: int
    labels: dict[str, str] = field(default_factory=dict)
    description: str = ""
    status: str = "CREATING"
    id: int = field(default_factory=new_id)
    creation_timestamp: str = field(default_factory=now_rfc3339)

    @property
    def path(self) -> str:
        return f"projects/{self.project}/global/snapshots/{self.name}"

    @property
    def self_link(self) -> str:
        return f"{API_ROOT}/{self.path}"


@dataclass
class BackupRun:
    """One Cloud SQL backup run (on demand): ENQUEUED → RUNNING → SUCCESSFUL or FAILED."""

    project: str
    instance: str
    description: str = ""
    status: str = "ENQUEUED"
    type: str = "ON_DEMAND"
    error_code: str = ""
    error_message: str = ""
    id: int = field(default_factory=new_id)
    enqueued_time: str = field(default_factory=now_rfc3339)
    start_time: str = ""
    end_time: str = ""


@dataclass
class SqlInstance:
    """A Cloud SQL instance (a v1.1 deployment's database) and its backup runs, oldest first."""

    project: str
    name: str
    region: str = "us-central1"
    database_version: str = "POSTGRES_16"
    state: str = "RUNNABLE"
    backups: list[BackupRun] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"projects/{self.project}/instances/{self.name}"


@dataclass
class IamPolicy:
    version: int = 1
    bindings: list[dict[str, Any]] = field(default_factory=list)
    etag: str = "ACAB"


@dataclass
class Instance:
    """One VM plus the frontend it serves; ``slug`` names the frontend under ``/i/``."""

    project: str
    zone: str
    name: str
    slug: str
    machine_type: str = "n2-standard-8"
    status: str = "RUNNING"
    running_version: str = "0.0.0"
    metadata: dict[str, str] = field(default_factory=dict)
    metadata_fingerprint: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    disks: list[AttachedDisk] = field(default_factory=list)
    internal_ip: str = ""
    external_ip: str = ""
    iam: IamPolicy = field(default_factory=IamPolicy)
    id: int = field(default_factory=new_id)
    creation_timestamp: str = field(default_factory=now_rfc3339)
    last_start_timestamp: str = ""
    last_stop_timestamp: str = ""
    # Frontend behaviour.
    health_mode: str = "ok"
    health_latency: float = 0.0
    hang_seconds: float = 30.0
    reconcile_delay: float | None = None
    reconcile_target: str | None = None
    reconcile_until: float = 0.0
    broken: bool = False
    # ``bad_release`` mode: the version whose deploy landed in that mode fails its health
    # check while it runs; going back to another version heals the instance.
    broken_version: str = ""
    # Fields that replace the API's answer for this VM in instances.get/list, to simulate
    # whatever GCP might return (a status it never documented, a garbled timestamp...).
    api_fields: dict[str, Any] = field(default_factory=dict)
    # The Cloud SQL instance of a v1.1 deployment (in the same project), "" for none.
    sql_instance: str = ""

    def __post_init__(self) -> None:
        if not self.metadata_fingerprint:
            self.metadata_fingerprint = fingerprint(self.metadata)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.project, self.zone, self.name)

    @property
    def path(self) -> str:
        return f"projects/{self.project}/zones/{self.zone}/instances/{self.name}"

    @property
    def self_link(self) -> str:
        return f"{API_ROOT}/{self.path}"

    def set_metadata(self, items: dict[str, str]) -> None:
        self.metadata = dict(items)
        self.metadata_fingerprint = fingerprint(self.metadata)

    def settle(self, now: float) -> None:
        """Finish a reconcile whose delay has passed (evaluated lazily, on every read)."""
        if self.reconcile_target is not None and now >= self.reconcile_until:
            self.running_version = self.reconcile_target
            self.reconcile_target = None
            if self.health_mode == "never_healthy":
                self.broken = True
            if self.health_mode == "bad_release" and not self.broken_version:
                self.broken_version = self.running_version

    @property
    def unhealthy(self) -> bool:
        """The frontend fails its health check (never_healthy, or a bad release running)."""
        return self.broken or (
            bool(self.broken_version) and self.running_version == self.broken_version
        )

    def begin_reconcile_if_needed(self, now: float, default_delay: float) -> None:
        """The agent on the VM notices a new desired version and redeploys to it."""
        desired = self.metadata.get(VERSION_KEY)
        if self.status != "RUNNING" or not desired:
            return
        self.settle(now)
        if desired == self.running_version:
            # Set back before the new version landed (a rollback of a stuck deploy): the
            # old containers still run, so the agent only drops the pending deploy.
            self.reconcile_target = None
            return
        if desired == self.reconcile_target:
            return
        delay = self.reconcile_delay if self.reconcile_delay is not None else default_delay
        self.reconcile_target = desired
        self.reconcile_until = now + delay


@dataclass
class Config:
    operation_duration: float = 0.3
    operation_durations: dict[str, float] = field(default_factory=dict)
    reconcile_delay: float = 2.0
    wait_max: float = 120.0

    def duration_for(self, method: str) -> float:
        return self.operation_durations.get(method, self.operation_duration)


@dataclass
class Store:
    instances: dict[tuple[str, str, str], Instance] = field(default_factory=dict)
    disks: dict[tuple[str, str, str], Disk] = field(default_factory=dict)
    snapshots: dict[tuple[str, str], Snapshot] = field(default_factory=dict)
    # A slug outlives its VM: a deleted VM leaves the frontend answering 502.
    slugs: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    sql_instances: dict[tuple[str, str], SqlInstance] = field(default_factory=dict)
    config: Config = field(default_factory=Config)

    # --- lookups that raise the API's 404 ------------------------------------------------

    def instance(self, project: str, zone: str, name: str) -> Instance:
        inst = self.instances.get((project, zone, name))
        if inst is None:
            raise not_found(f"projects/{project}/zones/{zone}/instances/{name}")
        return inst

    def disk(self, project: str, zone: str, name: str) -> Disk:
        disk = self.disks.get((project, zone, name))
        if disk is None:
            raise not_found(f"projects/{project}/zones/{zone}/disks/{name}")
        return disk

    def snapshot(self, project: str, name: str) -> Snapshot:
        snap = self.snapshots.get((project, name))
        if snap is None:
            raise not_found(f"projects/{project}/global/snapshots/{name}")
        return snap

    def sql_instance(self, project: str, name: str) -> SqlInstance:
        found = self.sql_instances.get((project, name))
        if found is None:
            raise ApiError(404, "The Cloud SQL instance does not exist.", "instanceDoesNotExist")
        return found

    def disk_users(self, disk: Disk) -> list[Instance]:
        return [
            inst
            for inst in self.instances.values()
            if inst.project == disk.project
            and inst.zone == disk.zone
            and any(d.name == disk.name for d in inst.disks)
        ]

    def instance_by_slug(self, slug: str) -> tuple[bool, Instance | None]:
        """(slug known, live VM or None when the VM behind a known slug is gone)."""
        key = self.slugs.get(slug)
        if key is None:
            return False, None
        return True, self.instances.get(key)

    # --- changes ---------------------------------------------------------------------------

    def remove_instance(self, inst: Instance) -> None:
        self.instances.pop(inst.key, None)
        for attached in inst.disks:
            if attached.auto_delete:
                self.disks.pop((inst.project, inst.zone, attached.name), None)

    def delete_slug(self, slug: str) -> Instance | None:
        key = self.slugs.pop(slug, None)
        if key is None:
            return None
        inst = self.instances.get(key)
        if inst is not None:
            self.remove_instance(inst)
            for attached in inst.disks:
                self.disks.pop((inst.project, inst.zone, attached.name), None)
            if inst.sql_instance:
                self.sql_instances.pop((inst.project, inst.sql_instance), None)
        return inst

    # --- persistence -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "instances": [asdict(i) for i in self.instances.values()],
            "disks": [asdict(d) for d in self.disks.values()],
            "snapshots": [asdict(s) for s in self.snapshots.values()],
            "slugs": {slug: list(key) for slug, key in self.slugs.items()},
            "sql_instances": [asdict(s) for s in self.sql_instances.values()],
            "config": asdict(self.config),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Store:
        store = cls(config=Config(**data.get("config", {})))
        for raw in data.get("instances", []):
            raw = dict(raw)
            raw["disks"] = [AttachedDisk(**d) for d in raw.get("disks", [])]
            raw["iam"] = IamPolicy(**raw.get("iam", {}))
            inst = Instance(**raw)
            store.instances[inst.key] = inst
        for raw in data.get("disks", []):
            disk = Disk(**raw)
            store.disks[(disk.project, disk.zone, disk.name)] = disk
        for raw in data.get("snapshots", []):
            snap = Snapshot(**raw)
            store.snapshots[(snap.project, snap.name)] = snap
        for raw in data.get("sql_instances", []):
            raw = dict(raw)
            raw["backups"] = [BackupRun(**b) for b in raw.get("backups", [])]
            sql = SqlInstance(**raw)
            store.sql_instances[(sql.project, sql.name)] = sql
        store.slugs = {slug: (k[0], k[1], k[2]) for slug, k in data.get("slugs", {}).items()}
        return store


def check_name(kind: str, name: str) -> None:
    if not NAME_RE.match(name):
        raise ApiError(
            400,
            f"Invalid value for field 'resource.name': '{name}'. Must be a match of regex "
            f"'(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)' ({kind}).",
            "invalid",
        )
