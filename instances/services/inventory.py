"""The inventory: what GCP says each instance's VM is, and where that drifts from intent."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from instances import gcp
from instances.choices import Drift, LifecycleState
from instances.models import Instance
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)

VERSION_METADATA_KEY = "sourcegraph-version"
# States whose VM we expect to read; a requested or torn-down instance has none to read.
SYNCED_STATES = (LifecycleState.PROVISIONING, LifecycleState.ACTIVE, LifecycleState.SUSPENDED)
_TRACKED = (
    "vm_status",
    "vm_machine_type",
    "vm_internal_ip",
    "vm_external_ip",
    "vm_version",
    "drift",
    "drift_detail",
)


@dataclass(frozen=True)
class SyncOutcome:
    instance_id: int
    changed: bool
    drift: str
    error: str = ""


def drift_for(state: str, vm: gcp.Vm | None) -> tuple[Drift, str]:
    """Compare the lifecycle state with the VM GCP reports."""
    if state == LifecycleState.ACTIVE:
        if vm is None:
            return Drift.VM_MISSING, "No VM in GCP for an active instance."
        if vm.status != "RUNNING":
            return Drift.VM_STOPPED, f"VM is {vm.status} while the instance is active."
    # Suspending removes the VM (v1.0) or stops it; a running one means it is still billed.
    if state == LifecycleState.SUSPENDED and vm is not None and vm.status == "RUNNING":
        return Drift.VM_RUNNING, "VM is RUNNING while the instance is suspended."
    return Drift.NONE, ""


def _inventory_fields(vm: gcp.Vm | None) -> dict[str, Any]:
    if vm is None:
        return {
            "vm_status": "",
            "vm_machine_type": "",
            "vm_internal_ip": None,
            "vm_external_ip": None,
            "vm_version": "",
        }
    return {
        "vm_status": vm.status,
        "vm_machine_type": vm.machine_type,
        "vm_internal_ip": vm.internal_ip or None,
        "vm_external_ip": vm.external_ip or None,
        "vm_version": vm.metadata.get(VERSION_METADATA_KEY, ""),
    }


def _apply(instance_id: int, values: dict[str, Any]) -> bool:
    """Write the new inventory values; record a change in the audit trail. True if changed."""
    with transaction.atomic():
        instance = Instance.objects.select_for_update().get(pk=instance_id)
        before = {field: getattr(instance, field) for field in _TRACKED}
        changed = {f: v for f, v in values.items() if f in _TRACKED and before[f] != v}
        instance.last_synced_at = timezone.now()
        for field, value in values.items():
            setattr(instance, field, value)
        instance.save(update_fields=[*values, "last_synced_at"])
        if changed:
            audit_record(
                action="instance.inventory_changed",
                obj=instance,
                actor_label="inventory-sync",
                before={f: before[f] for f in changed},
                after=changed,
            )
    return bool(changed)


def instance_sync(*, instance: Instance) -> SyncOutcome:
    """Read one instance's VM from GCP and update the inventory.

    Transient errors propagate (the task retries with backoff); a permanent one (403, a
    bad project) is recorded on the instance as ``sync_failed`` and returned.
    """
    try:
        vm: gcp.Vm | None = gcp.vm_get(
            project=instance.gcp_project, zone=instance.gcp_zone, name=instance.vm_name
        )
    except gcp.GcpNotFound:
        vm = None
    except gcp.GcpPermanentError as exc:
        detail = f"Could not read the VM: {exc}"[:255]
        changed = _apply(instance.pk, {"drift": Drift.SYNC_FAILED, "drift_detail": detail})
        return SyncOutcome(instance.pk, changed, Drift.SYNC_FAILED, str(exc))
    drift, detail = drift_for(instance.state, vm)
    values = {**_inventory_fields(vm), "drift": drift, "drift_detail": detail}
    changed = _apply(instance.pk, values)
    return SyncOutcome(instance.pk, changed, drift)


@dataclass
class FleetSyncReport:
    checked: int = 0
    changed: int = 0
    drifted: int = 0
    failed: int = 0

    def summary(self) -> str:
        return (
            f"{self.checked} instances read, {self.changed} changed, "
            f"{self.drifted} drifting, {self.failed} unreadable"
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "checked": self.checked,
            "changed": self.changed,
            "drifted": self.drifted,
            "failed": self.failed,
        }


def _sync_one(instance: Instance) -> SyncOutcome | None:
    try:
        return instance_sync(instance=instance)
    except gcp.GcpTransientError as exc:
        # One unreachable project must not stop the sweep; the next run tries again.
        logger.warning("sync of %s failed transiently: %s", instance.slug, exc)
        return None
    finally:
        connection.close()  # each worker thread has its own connection


def fleet_sync(*, concurrency: int | None = None) -> FleetSyncReport:
    """Sync every instance that should have a VM, a bounded number at a time."""
    workers = concurrency or getattr(settings, "INVENTORY_SYNC_CONCURRENCY", 8)
    instances = list(Instance.objects.filter(state__in=SYNCED_STATES).order_by("pk"))
    report = FleetSyncReport()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sync") as pool:
        for outcome in pool.map(_sync_one, instances):
            report.checked += 1
            if outcome is None or outcome.error:
                report.failed += 1
                continue
            report.changed += int(outcome.changed)
            report.drifted += int(bool(outcome.drift))
    logger.info("fleet sync: %s", report.summary())
    return report
