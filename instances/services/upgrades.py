"""Upgrades and rollbacks of single instances: asking for one, and the fleet-wide slots.

:func:`upgrade_request` and :func:`rollback_request` validate and create the operation
(audited, through :func:`operation_create`); the runner (``instances/runners/upgrade.py``)
does the work. At most ``UPGRADE_CONCURRENCY`` upgrades run fleet-wide, whoever asked for
them (a person on the instance page or a rollout): before its first step an upgrade takes
one of the numbered slots 1..N with :func:`upgrade_slot_claim`. A partial unique index on
``Operation.upgrade_slot`` (active operations only) makes two upgrades holding the same
number impossible, so the limit holds in the database, not by a check-then-act. The slot is
freed when the operation ends (it leaves the index's condition); an upgrade that finds no
free slot is deferred (pending, asked again later) and woken when one frees.

An upgrade asked for "only inside the maintenance window" (``maintenance_window_only`` in
its params; rollouts set it) passes :func:`upgrade_window_wait` before it takes a slot: while
its instance's weekly window is closed it is deferred until the window opens, holding no
slot. Instances without a window are not held.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from instances.choices import (
    ACTIVE_OPERATION_STATES,
    Architecture,
    LifecycleState,
    OperationKind,
    OperationState,
)
from instances.models import Instance, Operation, Release
from instances.services.operations import (
    OperationDeferred,
    operation_create,
    operation_wake,
)
from instances.versions import effective_version, parse_version
from instances.windows import window_is_open, window_next_opening
from mi_admin.accounts.models import User
from mi_admin.ui.times import CLOCK, display_zone, when_text

logger = logging.getLogger(__name__)

# What a deferred upgrade waits for while its instance's window is closed (the pages say
# "Waiting for " + this); also how the slot wake-up tells those from slot waiters.
WINDOW_WAIT = "the maintenance window"
# A closed window is looked at again at least this often, so an edited window counts.
WINDOW_RECHECK_SECONDS = 300.0


def no_cloud_sql_refusal(instance: Instance) -> str:
    return (
        f"{instance.slug} has no Cloud SQL instance recorded: a v1.1 upgrade backs it up "
        "first. Record it on the instance."
    )


class UpgradeRefused(Exception):
    """The upgrade or rollback cannot be asked for; the message says why."""


def upgrade_refusal(*, instance: Instance, target: str) -> str:
    """Why ``instance`` cannot be upgraded to ``target`` now; "" when it can."""
    if instance.state != LifecycleState.ACTIVE:
        return f"{instance.slug} is {instance.get_state_display().lower()}, not active."
    if instance.architecture == Architecture.V1_1 and not instance.cloud_sql_instance:
        return no_cloud_sql_refusal(instance)
    if not Release.objects.filter(version=target).exists():
        return f"{target or 'That version'} is not a registered release."
    current = effective_version(instance.observed_version, instance.vm_version)
    current_key, target_key = parse_version(current), parse_version(target)
    if current_key is None:
        return f"{instance.slug}'s version is unknown; sync it or wait for a health probe."
    if target_key is None or target_key <= current_key:
        return f"{target} is not newer than {current}, the version {instance.slug} runs."
    return ""


def upgrade_refusal_for_page(*, instance: Instance) -> str:
    """Why the instance page offers no upgrade at all ("" when it offers one): the rules
    that do not depend on the chosen release (no query)."""
    if instance.state != LifecycleState.ACTIVE:
        state = instance.get_state_display().lower()
        return f"Only active instances are upgraded; {instance.slug} is {state}."
    if instance.architecture == Architecture.V1_1 and not instance.cloud_sql_instance:
        return no_cloud_sql_refusal(instance)
    return ""


def upgrade_request(
    *,
    instance: Instance,
    target: str,
    actor: User | None,
    idempotency_key: str = "",
    stability_seconds: float | None = None,
    deadline_seconds: float | None = None,
    poll_seconds: float | None = None,
    maintenance_window_only: bool = False,
) -> tuple[Operation, bool]:
    """Ask for an upgrade of ``instance`` to the registered release ``target``.

    The timings are fixed on the operation when it is asked for (a rollout may shorten or
    lengthen them); they default to the ``UPGRADE_*`` settings. With
    ``maintenance_window_only`` the upgrade starts only while the instance's maintenance
    window is open (it waits for it; an instance without a window is not held). Raises
    :class:`UpgradeRefused` with the reason, or ``OperationConflict`` when another change to
    the instance is under way.
    """
    refusal = upgrade_refusal(instance=instance, target=target)
    if refusal:
        raise UpgradeRefused(refusal)
    params: dict[str, Any] = {
        "target": target,
        "from": effective_version(instance.observed_version, instance.vm_version),
        "stability_seconds": _seconds(stability_seconds, "UPGRADE_STABILITY_SECONDS"),
        "deadline_seconds": _seconds(deadline_seconds, "UPGRADE_PROGRESS_DEADLINE_SECONDS"),
        "poll_seconds": _seconds(poll_seconds, "UPGRADE_POLL_SECONDS"),
        "maintenance_window_only": bool(maintenance_window_only),
    }
    return operation_create(
        kind=OperationKind.UPGRADE,
        actor=actor,
        instance=instance,
        params=params,
        idempotency_key=idempotency_key,
    )


def rollback_target(*, instance: Instance) -> str:
    """The version the last successful upgrade of ``instance`` started from ("" if none)."""
    last = (
        Operation.objects.filter(
            instance=instance, kind=OperationKind.UPGRADE, state=OperationState.SUCCEEDED
        )
        .order_by("-finished_at")
        .first()
    )
    return str(last.result.get("from", "")) if last is not None else ""


def rollback_request(
    *,
    instance: Instance,
    actor: User | None,
    reason: str,
    idempotency_key: str = "",
    deadline_seconds: float | None = None,
    poll_seconds: float | None = None,
) -> tuple[Operation, bool]:
    """Ask to set ``instance`` back to the version its last successful upgrade replaced.

    A reason is required (it is in the operation and its audit event). Raises
    :class:`UpgradeRefused` when there is no reason, the instance is not an active v1.0
    one, or no earlier upgrade is recorded.
    """
    reason = reason.strip()
    if not reason:
        raise UpgradeRefused("Say why the instance is rolled back.")
    if instance.state != LifecycleState.ACTIVE:
        raise UpgradeRefused(f"{instance.slug} is {instance.get_state_display().lower()}.")
    target = rollback_target(instance=instance)
    if not target:
        raise UpgradeRefused(f"No successful upgrade of {instance.slug} is recorded to undo.")
    params: dict[str, Any] = {
        "target": target,
        "from": effective_version(instance.observed_version, instance.vm_version),
        "reason": reason,
        "deadline_seconds": _seconds(deadline_seconds, "UPGRADE_PROGRESS_DEADLINE_SECONDS"),
        "poll_seconds": _seconds(poll_seconds, "UPGRADE_POLL_SECONDS"),
    }
    return operation_create(
        kind=OperationKind.ROLLBACK,
        actor=actor,
        instance=instance,
        params=params,
        idempotency_key=idempotency_key,
    )


def _seconds(value: float | None, setting: str) -> float:
    return float(value if value is not None else getattr(settings, setting))


def upgrade_concurrency() -> int:
    return max(1, int(settings.UPGRADE_CONCURRENCY))


def _slots_taken() -> set[int]:
    slots = Operation.objects.filter(
        state__in=ACTIVE_OPERATION_STATES, upgrade_slot__isnull=False
    ).values_list("upgrade_slot", flat=True)
    return {slot for slot in slots if slot is not None}


def upgrade_slot_claim(*, operation: Operation) -> int:
    """The upgrade slot ``operation`` holds, taking a free one if it holds none.

    Raises :class:`OperationDeferred` when all ``UPGRADE_CONCURRENCY`` slots are taken. Two
    workers picking the same free number race on the unique index; the loser reads again.
    """
    if operation.upgrade_slot is not None:
        return operation.upgrade_slot
    limit = upgrade_concurrency()
    for _ in range(limit + 1):
        in_use = _slots_taken()  # one query per attempt, not one per slot number
        free = [n for n in range(1, limit + 1) if n not in in_use]
        if not free:
            break
        # Spread by id: upgrades claiming at once mostly try different numbers instead of
        # all racing for the lowest one on the index.
        slot = free[operation.pk % len(free)]
        try:
            with transaction.atomic():
                taken = Operation.objects.filter(
                    pk=operation.pk,
                    state=OperationState.RUNNING,
                    lease_owner=operation.lease_owner,
                    upgrade_slot=None,
                ).update(upgrade_slot=slot, waiting_for="")
        except IntegrityError:
            continue  # another upgrade took that number first
        if taken:
            operation.upgrade_slot, operation.waiting_for = slot, ""
            logger.info("operation %s: took upgrade slot %d of %d", operation.pk, slot, limit)
            return slot
        operation.refresh_from_db()
        if operation.upgrade_slot is not None:
            return operation.upgrade_slot
    raise OperationDeferred(
        f"a free upgrade slot (all {limit} are taken)",
        seconds=float(settings.UPGRADE_SLOT_WAIT_SECONDS),
    )


def upgrade_window_wait(*, operation: Operation, instance: Instance) -> None:
    """Hold an upgrade asked for "only inside the maintenance window" while the instance's
    window is closed: raises :class:`OperationDeferred` until it opens (asked again at the
    opening, or every ``WINDOW_RECHECK_SECONDS`` so an edited window counts). Called before
    the upgrade starts changing anything (the runner skips it once the pre-checks are done:
    an upgrade under way is never interrupted by its window closing). A slot taken before
    the window closed is given back, so a waiting upgrade holds none."""
    if not operation.params.get("maintenance_window_only"):
        return
    instance.refresh_from_db(
        fields=["maintenance_days", "maintenance_start", "maintenance_minutes"]
    )
    window = instance.maintenance_window
    now = timezone.now()
    if window is None or window_is_open(window, now):
        return
    opens = window_next_opening(window, now)
    if operation.upgrade_slot is not None:
        Operation.objects.filter(pk=operation.pk, lease_owner=operation.lease_owner).update(
            upgrade_slot=None
        )
        operation.upgrade_slot = None
    seconds = min(max((opens - now).total_seconds(), 0.0) + 0.2, WINDOW_RECHECK_SECONDS)
    raise OperationDeferred(
        f"{WINDOW_WAIT} (opens {_when(opens, now)}; {window.describe()})", seconds=seconds
    )


def _when(moment: dt.datetime, now: dt.datetime) -> str:
    """``14:05:30 CET`` today (in the display zone), else ``Tue 8 Dec 02:00 CET``."""
    zone = display_zone()
    if moment.astimezone(zone).date() == now.astimezone(zone).date():
        return when_text(moment, fmt=CLOCK)
    return when_text(moment, fmt="D j M H:i")


def upgrade_wake_next() -> int | None:
    """After an upgrade ended: start the longest-waiting deferred upgrade now, if a slot is
    free, instead of at its next ask. Returns its id."""
    if len(_slots_taken()) >= upgrade_concurrency():
        return None
    waiting = (
        Operation.objects.filter(kind=OperationKind.UPGRADE, state=OperationState.PENDING)
        .exclude(waiting_for="")
        # Those waiting for their window would only go back to waiting.
        .exclude(waiting_for__startswith=WINDOW_WAIT)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:5]
    )
    for pk in waiting:
        if operation_wake(operation_id=pk):
            return pk
    return None
