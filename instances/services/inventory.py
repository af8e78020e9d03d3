"""The inventory: what GCP says each instance's VM is, and where that drifts from intent.

Whatever GCP returns, one instance's bad data never fails the sweep: values that do not fit
the inventory (a version longer than the column, an unprintable character, an IP that is
not one, a status the API does not document) are left blank and the instance is flagged
``sync_failed`` with the reason; an answer the adapter cannot parse, or any unexpected
error, flags that instance the same way; the other instances are synced.
"""

from __future__ import annotations

import ipaddress
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
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


DETAIL_LIMIT = 255  # Instance.drift_detail


def _short(text: str, limit: int = DETAIL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: str) -> str:
    """A bad value as a reason shows it: short, and with control characters escaped."""
    return repr(_short(value, 25))


def _max_length(field: str) -> int:
    model_field = Instance._meta.get_field(field)
    if not isinstance(model_field, models.CharField) or not model_field.max_length:
        raise TypeError(f"Instance.{field} is not a bounded CharField")
    return model_field.max_length


def _text(value: str, *, field: str, label: str, problems: list[str]) -> str:
    """``value`` if the inventory can store it in ``field``, else "" and a problem."""
    if not value:
        return ""
    if not value.isprintable():
        problems.append(f"{label} contains unprintable characters: {_shown(value)}")
        return ""
    limit = _max_length(field)
    if len(value) > limit:
        problems.append(f"{label} is {len(value)} characters (at most {limit}): {_shown(value)}")
        return ""
    return value


def _ip(value: str, *, label: str, problems: list[str]) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        problems.append(f"{label} {_shown(value)} is not an IP address")
        return None


def _status(value: str, *, problems: list[str]) -> str:
    if not value:
        problems.append("GCP reported no VM status")
        return ""
    if value not in gcp.VM_STATUSES:
        problems.append(f"unknown VM status {_shown(value)}")
        return ""
    return value


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


def _inventory_fields(vm: gcp.Vm | None) -> tuple[dict[str, Any], list[str]]:
    """The inventory values for what GCP reported, and what in it could not be stored."""
    if vm is None:
        values = {
            "vm_status": "",
            "vm_machine_type": "",
            "vm_internal_ip": None,
            "vm_external_ip": None,
            "vm_version": "",
        }
        return values, []
    problems: list[str] = []
    values = {
        "vm_status": _status(vm.status, problems=problems),
        "vm_machine_type": _text(
            vm.machine_type, field="vm_machine_type", label="machine type", problems=problems
        ),
        "vm_internal_ip": _ip(vm.internal_ip, label="internal IP", problems=problems),
        "vm_external_ip": _ip(vm.external_ip, label="external IP", problems=problems),
        "vm_version": _text(
            vm.metadata.get(VERSION_METADATA_KEY, ""),
            field="vm_version",
            label=f"{VERSION_METADATA_KEY} metadata",
            problems=problems,
        ),
    }
    return values, problems


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

    Transient errors propagate (the task retries with backoff). Anything else that keeps
    this instance from being synced (a permanent GCP error such as 403, an answer that
    cannot be parsed, data that does not fit, an unexpected error) flags the instance
    ``sync_failed`` with a readable reason and is returned as the outcome's ``error``.
    """
    try:
        return _instance_sync(instance)
    except gcp.GcpTransientError:
        raise
    except Exception as exc:
        logger.exception("sync of %s failed", instance.slug)
        detail = _short(f"Sync failed: {type(exc).__name__}: {exc}")
        changed = _apply(instance.pk, {"drift": Drift.SYNC_FAILED, "drift_detail": detail})
        return SyncOutcome(instance.pk, changed, Drift.SYNC_FAILED, detail)


def _instance_sync(instance: Instance) -> SyncOutcome:
    try:
        vm: gcp.Vm | None = gcp.vm_get(
            project=instance.gcp_project, zone=instance.gcp_zone, name=instance.vm_name
        )
    except gcp.GcpNotFound:
        vm = None
    except gcp.GcpPermanentError as exc:
        detail = _short(f"Could not read the VM: {exc}")
        changed = _apply(instance.pk, {"drift": Drift.SYNC_FAILED, "drift_detail": detail})
        return SyncOutcome(instance.pk, changed, Drift.SYNC_FAILED, detail)
    values, problems = _inventory_fields(vm)
    drift, detail = drift_for(instance.state, vm)
    if problems:
        # The VM was read, but part of it is unusable: say what, and keep the rest.
        reasons = [f"GCP returned data that cannot be stored: {'; '.join(problems)}"]
        if drift and values["vm_status"]:
            reasons.append(detail)
        drift, detail = Drift.SYNC_FAILED, _short(". ".join(reasons))
    changed = _apply(instance.pk, {**values, "drift": drift, "drift_detail": detail})
    return SyncOutcome(instance.pk, changed, drift, detail if problems else "")


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
    except Exception as exc:
        # Not even the flag could be written (e.g. the database went away): count it as
        # unreadable and let the other instances be synced.
        logger.exception("sync of %s failed", instance.slug)
        return SyncOutcome(instance.pk, False, Drift.SYNC_FAILED, f"{type(exc).__name__}: {exc}")
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
