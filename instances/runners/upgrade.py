"""Upgrading one instance, and rolling one back.

Upgrade: if asked for only inside the maintenance window, wait for it (deferred, no slot
held); take an upgrade slot (fleet-wide limit; without one the operation is deferred), then
the steps

1. pre-checks: active, the VM RUNNING, ``/healthz`` healthy, running an older version, and
   something to back up (one mutating operation per instance is the database's partial
   unique index);
2. the backup. v1.0: snapshot the data disk, labelled with the instance, from/to versions
   and the operation, and when it may be deleted (one year on). v1.1: an on-demand Cloud SQL
   backup through the Cloud SQL Admin API. Cloud SQL has no requestId, so the step first
   looks for the backup this operation already asked for (its description carries
   ``mi-admin-operation:<id>``) and reuses it: a worker killed mid-backup causes no second
   one. Either way it waits until the backup is done (SUCCESSFUL / READY);
3. set the VM metadata ``sourcegraph-version`` to the target (fingerprint-guarded);
4. wait until ``/__version`` reports the target and ``/healthz`` answers healthy, before the
   progress deadline (counted from step 3);
5. probe for the stability window; every probe must be healthy on the target;
6. record the new version on the instance.

If 3 to 5 fail (deadline, unhealthy, wrong version), the decision is recorded as a step, the
previous version is set back and waited for, and the operation fails with the reason.

Waiting is done inside the step, probing every ``poll_seconds`` with bounded sleeps while
the task's LeaseKeeper renews the lease (each probe also checks the lease is still ours).
We chose this over re-scheduling the operation between probes: an upgrade holds a slot for
its whole length anyway, so the worker thread it keeps is no extra limit, and the steps stay
a plain sequence. A worker killed mid-wait is resumed by another; the done steps (snapshot,
metadata) are skipped, the deadline is the recorded one, and a stability window restarts.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from instances import gcp
from instances.choices import Architecture, LifecycleState
from instances.models import Instance, Operation
from instances.probes import HealthSummary, Reading, instance_read
from instances.services.operations import (
    LeaseLost,
    OperationFailed,
    StepFailed,
    operation_held,
    step_done,
    step_run,
)
from instances.services.upgrades import (
    no_cloud_sql_refusal,
    upgrade_slot_claim,
    upgrade_window_wait,
)
from instances.versions import parse_version
from mi_admin.audit.services import audit_record
from mi_admin.ui.times import CLOCK, when_text

VERSION_KEY = "sourcegraph-version"
SNAPSHOT_KEEP_DAYS = 365
PRECHECK = "Pre-checks"
SNAPSHOT = "Snapshot the data disk"
SQL_BACKUP = "Back up the Cloud SQL database"
# The marker a Cloud SQL backup's description carries, so a resumed step finds its backup.
_BACKUP_MARK = "mi-admin-operation:{pk}"
_BACKUP_MARK_RE = re.compile(r"\bmi-admin-operation:(\d+)\b")
DECIDE = "Upgrade failed: roll back"
RECORD = "Record the new version"


@dataclass(frozen=True)
class Timing:
    stability: float
    deadline: float
    poll: float

    @classmethod
    def of(cls, operation: Operation) -> Timing:
        p = operation.params
        return cls(
            stability=float(p.get("stability_seconds", settings.UPGRADE_STABILITY_SECONDS)),
            deadline=float(p.get("deadline_seconds", settings.UPGRADE_PROGRESS_DEADLINE_SECONDS)),
            poll=max(0.05, float(p.get("poll_seconds", settings.UPGRADE_POLL_SECONDS))),
        )


def _label(value: str) -> str:
    """A GCP label value: lowercase letters, digits, ``-`` and ``_``, at most 63."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in value.lower())[:63]


def _where(instance: Instance) -> dict[str, str]:
    return {"project": instance.gcp_project, "zone": instance.gcp_zone, "name": instance.vm_name}


def _probe(instance: Instance) -> Reading:
    return instance_read(base_url=instance.url, timeout=float(settings.UPGRADE_PROBE_TIMEOUT))


def _held_or_stop(operation: Operation) -> None:
    if operation.lease_owner and not operation_held(operation=operation):
        raise LeaseLost(f"operation {operation.pk}: lease lost while waiting")


def _sleep_until(until: dt.datetime, poll: float) -> None:
    remaining = (until - timezone.now()).total_seconds()
    time.sleep(max(0.0, min(poll, remaining)))


def _set_version(
    operation: Operation, instance: Instance, version: str, key: str, timing: Timing
) -> Callable[[], tuple[str, dict[str, Any]]]:
    def work() -> tuple[str, dict[str, Any]]:
        done = gcp.vm_set_metadata(
            **_where(instance),
            updates={VERSION_KEY: version},
            request_id=gcp.request_id_for(f"op-{operation.pk}-{key}"),
        )
        deadline = timezone.now() + dt.timedelta(seconds=timing.deadline)
        detail = "metadata set" if done is not None else "metadata already had it"
        return f"{detail}; deadline {when_text(deadline, fmt=CLOCK)}", {
            "written": done is not None,
            "deadline_at": deadline.isoformat(),
        }

    return work


def _wait_for(
    operation: Operation, instance: Instance, version: str, deadline_at: str, timing: Timing
) -> Callable[[], tuple[str, dict[str, Any]]]:
    """Probe until ``version`` is reported and healthy; StepFailed past the deadline."""
    deadline = dt.datetime.fromisoformat(deadline_at)

    def work() -> tuple[str, dict[str, Any]]:
        summary = HealthSummary()
        while True:
            _held_or_stop(operation)
            reading = _probe(instance)
            summary.add(reading)
            if reading.healthy and reading.version == version:
                return f"{version} reported and healthy ({summary.text()})", summary.as_dict()
            if timezone.now() >= deadline:
                raise StepFailed(
                    f"{instance.slug} did not report {version} and answer healthy within "
                    f"{timing.deadline:g} s of the version change (last probe: "
                    f"{reading.describe()})"
                )
            _sleep_until(deadline, timing.poll)

    return work


def _stay_healthy(
    operation: Operation, instance: Instance, version: str, timing: Timing
) -> Callable[[], tuple[str, dict[str, Any]]]:
    def work() -> tuple[str, dict[str, Any]]:
        summary = HealthSummary()
        start = timezone.now()
        end = start + dt.timedelta(seconds=timing.stability)
        while True:
            _held_or_stop(operation)
            reading = _probe(instance)
            summary.add(reading)
            if not reading.healthy or reading.version != version:
                after = (reading.at - start).total_seconds()
                raise StepFailed(
                    f"{instance.slug} was not healthy on {version} {after:.0f} s into the "
                    f"{timing.stability:g} s stability window ({reading.describe()}; "
                    f"{summary.text()})"
                )
            if timezone.now() >= end:
                return f"healthy for {timing.stability:g} s: {summary.text()}", summary.as_dict()
            _sleep_until(end, timing.poll)

    return work


def _precheck(operation: Operation, instance: Instance, target: str) -> tuple[str, dict[str, Any]]:
    instance.refresh_from_db()
    if instance.state != LifecycleState.ACTIVE:
        raise StepFailed(f"{instance.slug} is {instance.get_state_display().lower()}, not active.")
    v1_1 = instance.architecture == Architecture.V1_1
    if v1_1 and not instance.cloud_sql_instance:
        raise StepFailed(no_cloud_sql_refusal(instance))
    if not v1_1 and not instance.data_disk:
        raise StepFailed(f"{instance.slug} has no data disk recorded to snapshot.")
    vm = gcp.vm_get(**_where(instance))
    if vm.status != "RUNNING":
        raise StepFailed(f"The VM is {vm.status}, not RUNNING.")
    reading = _probe(instance)
    if not reading.healthy:
        raise StepFailed(f"{instance.slug} is not healthy before the upgrade: {reading.describe()}")
    running, target_key = parse_version(reading.version), parse_version(target)
    if running is None or target_key is None:
        raise StepFailed(f"Cannot compare the running version {reading.version!r} with {target}.")
    if running >= target_key:
        raise StepFailed(
            f"{instance.slug} already runs {reading.version}, not older than {target}."
        )
    backup = "cloud_sql" if v1_1 else "snapshot"
    detail = (
        f"active, {instance.architecture}, VM RUNNING, healthy on {reading.version}; "
        "no other change under way (one per instance)"
    )
    return detail, {
        "previous": reading.version,
        "metadata": vm.metadata.get(VERSION_KEY, ""),
        "backup": backup,
    }


def _snapshot(
    operation: Operation, instance: Instance, previous: str, target: str
) -> tuple[str, dict[str, Any]]:
    keep_until = (timezone.now() + dt.timedelta(days=SNAPSHOT_KEEP_DAYS)).date().isoformat()
    name = f"mi-{instance.slug}"[:40].rstrip("-") + f"-upgrade-{operation.pk}"
    labels = {
        "mi-instance": _label(instance.slug),
        "mi-operation": str(operation.pk),
        "mi-from-version": _label(previous),
        "mi-to-version": _label(target),
        "mi-delete-after": keep_until,
    }
    snap = gcp.disk_snapshot_create(
        project=instance.gcp_project,
        zone=instance.gcp_zone,
        disk=instance.data_disk,
        snapshot=name,
        labels=labels,
        description=(
            f"MI Admin: {instance.slug} before the upgrade from {previous} to {target} "
            f"(operation #{operation.pk}); keep until {keep_until}."
        ),
        request_id=gcp.request_id_for(f"op-{operation.pk}-snapshot"),
    )
    return f"{snap.name} ({snap.status}), kept until {keep_until}", {
        "snapshot": snap.name,
        "labels": labels,
        "keep_until": keep_until,
    }


def _marked_for(operation: Operation, description: str) -> bool:
    found = _BACKUP_MARK_RE.search(description)
    return found is not None and int(found.group(1)) == operation.pk


def _sql_backup(
    operation: Operation, instance: Instance, previous: str, target: str
) -> tuple[str, dict[str, Any]]:
    """An on-demand Cloud SQL backup, once per operation: reuse the one this operation
    already asked for (a killed worker's), else ask for one; then wait until SUCCESSFUL."""
    where = {"project": instance.gcp_project, "instance": instance.cloud_sql_instance}
    mark = _BACKUP_MARK.format(pk=operation.pk)
    earlier = [
        run
        for run in gcp.sql_backup_run_list(**where)
        if _marked_for(operation, run.description) and run.status != "FAILED"
    ]
    if earlier:
        backup_id, how = earlier[0].id, "found the backup this upgrade asked for earlier"
    else:
        op = gcp.sql_backup_run_insert(
            **where,
            description=(
                f"MI Admin: {instance.slug} before the upgrade from {previous} to {target} ({mark})"
            ),
        )
        op = gcp.sql_operation_wait(project=instance.gcp_project, name=op.name)
        backup_id, how = op.backup_id, "asked for"
        if not backup_id:
            raise gcp.GcpBadResponse(f"Cloud SQL operation {op.name} names no backup run.")
    run = gcp.sql_backup_run_wait(
        project=instance.gcp_project, instance=instance.cloud_sql_instance, backup_id=backup_id
    )
    if run.status != "SUCCESSFUL":
        raise StepFailed(
            f"The Cloud SQL backup {run.id} of {instance.cloud_sql_instance} ended "
            f"{run.status}{': ' + run.error if run.error else ''}; nothing was changed."
        )
    return f"backup {run.id} of {instance.cloud_sql_instance} SUCCESSFUL ({how})", {
        "backup_id": run.id,
        "cloud_sql_instance": instance.cloud_sql_instance,
        "reused": bool(earlier),
    }


def _record(operation: Operation, instance: Instance, version: str, action: str) -> None:
    with transaction.atomic():
        before = {"observed_version": instance.observed_version, "vm_version": instance.vm_version}
        Instance.objects.filter(pk=instance.pk).update(
            desired_version=version, observed_version=version, vm_version=version
        )
        audit_record(
            action=action,
            actor=operation.actor,
            obj=instance,
            before=before,
            after={"version": version, "operation": operation.pk},
        )


def _roll_back(
    operation: Operation,
    instance: Instance,
    *,
    previous: str,
    target: str,
    reason: str,
    result: dict[str, Any],
    timing: Timing,
) -> None:
    """Set ``previous`` back, wait for it, and fail the operation with ``reason``."""
    step_run(operation=operation, name=DECIDE, work=lambda: (reason, {"reason": reason}))
    result["rolled_back_to"] = previous
    reset = step_run(
        operation=operation,
        name=f"Roll back: set {VERSION_KEY} to {previous}",
        work=_set_version(operation, instance, previous, "rollback-set-version", timing),
    )
    try:
        recovered = step_run(
            operation=operation,
            name=f"Roll back: wait for {previous} and health",
            work=_wait_for(operation, instance, previous, reset["deadline_at"], timing),
        )
    except StepFailed as exc:
        result["health"]["rollback"] = {"error": str(exc)}
        raise OperationFailed(
            f"Upgrade to {target} failed: {reason}. Setting {previous} back did not recover "
            f"it: {exc}",
            result=result,
        ) from exc
    result["health"]["rollback"] = recovered
    _record(operation, instance, previous, "instance.version_rolled_back")
    raise OperationFailed(
        f"Upgrade to {target} failed and {previous} was set back: {reason}", result=result
    )


def run_upgrade(operation: Operation) -> dict[str, Any]:
    instance = operation.instance
    if instance is None:
        raise StepFailed("An upgrade needs an instance.")
    target = str(operation.params["target"])
    timing = Timing.of(operation)
    if step_done(operation=operation, name=PRECHECK) is None:
        upgrade_window_wait(operation=operation, instance=instance)
    slot = upgrade_slot_claim(operation=operation)
    pre = step_run(
        operation=operation, name=PRECHECK, work=lambda: _precheck(operation, instance, target)
    )
    previous = str(pre["previous"])
    result: dict[str, Any] = {"from": previous, "to": target, "slot": slot, "health": {}}
    if pre.get("backup") == "cloud_sql":
        backup = step_run(
            operation=operation,
            name=SQL_BACKUP,
            work=lambda: _sql_backup(operation, instance, previous, target),
        )
        result["backup"] = {
            "kind": "cloud_sql",
            "id": backup["backup_id"],
            "instance": backup["cloud_sql_instance"],
        }
    else:
        snap = step_run(
            operation=operation,
            name=SNAPSHOT,
            work=lambda: _snapshot(operation, instance, previous, target),
        )
        result["snapshot"] = snap["snapshot"]
        result["backup"] = {"kind": "snapshot", "name": snap["snapshot"]}
    decided = step_done(operation=operation, name=DECIDE)
    if decided is not None:  # a previous attempt already chose to roll back
        reason = str(decided.output.get("reason", decided.detail))
        _roll_back(
            operation,
            instance,
            previous=previous,
            target=target,
            reason=reason,
            result=result,
            timing=timing,
        )
    try:
        changed = step_run(
            operation=operation,
            name=f"Set {VERSION_KEY} to {target}",
            work=_set_version(operation, instance, target, "set-version", timing),
        )
        result["health"]["reach"] = step_run(
            operation=operation,
            name=f"Wait for /__version to report {target}",
            work=_wait_for(operation, instance, target, changed["deadline_at"], timing),
        )
        result["health"]["stability"] = step_run(
            operation=operation,
            name=f"Stay healthy for {timing.stability:g} s",
            work=_stay_healthy(operation, instance, target, timing),
        )
    except StepFailed as exc:
        _roll_back(
            operation,
            instance,
            previous=previous,
            target=target,
            reason=str(exc),
            result=result,
            timing=timing,
        )

    def record() -> tuple[str, dict[str, Any]]:
        _record(operation, instance, target, "instance.version_upgraded")
        return f"{instance.slug} runs {target}", {}

    step_run(operation=operation, name=RECORD, work=record)
    return result


def run_rollback(operation: Operation) -> dict[str, Any]:
    """A person's rollback: set the version the last upgrade replaced back, and wait for it
    to be reported and healthy before the deadline."""
    instance = operation.instance
    if instance is None:
        raise StepFailed("A rollback needs an instance.")
    target = str(operation.params["target"])
    timing = Timing.of(operation)
    reset = step_run(
        operation=operation,
        name=f"Set {VERSION_KEY} to {target}",
        work=_set_version(operation, instance, target, "set-version", timing),
    )
    health = step_run(
        operation=operation,
        name=f"Wait for /__version to report {target}",
        work=_wait_for(operation, instance, target, reset["deadline_at"], timing),
    )

    def record() -> tuple[str, dict[str, Any]]:
        _record(operation, instance, target, "instance.version_rolled_back")
        return f"{instance.slug} runs {target}", {}

    step_run(operation=operation, name=RECORD, work=record)
    return {"to": target, "reason": operation.params.get("reason", ""), "health": health}
