"""Rollouts: planning, the actions people take, and the driver the beat task runs.

Every action takes the rollout's row lock (``select_for_update``) and is audited in the same
transaction. The driver (:func:`rollout_advance`) is idempotent: it reads the targets'
operations, starts the upgrades the current wave still needs (the idempotency key names the
target and its attempt, so a second run gets the same operation back), and moves on only
when the gates allow. The upgrades are ordinary upgrade operations: the fleet-wide slot limit
bounds how many run at once (the rest wait as pending operations).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from instances.choices import (
    ACTIVE_OPERATION_STATES,
    InstanceKind,
    LifecycleState,
    OperationKind,
    OperationState,
    ReleaseKind,
)
from instances.models import Instance, Operation, Release
from instances.services.operations import OperationConflict
from instances.services.upgrades import (
    UpgradeRefused,
    upgrade_concurrency,
    upgrade_refusal,
    upgrade_request,
)
from instances.versions import ReleaseHistory, instance_version, supersedes
from mi_admin.accounts.models import User
from mi_admin.accounts.roles import Role, user_roles
from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.models import ApprovalPolicy, ApprovalRequest
from mi_admin.approvals.services import ApprovalError, approval_request_create
from mi_admin.audit.services import audit_record
from mi_admin.queue import task_enqueue
from mi_admin.sla import (
    WorkCalendar,
    add_working_days,
    rollout_stages,
    version_clock,
    work_calendar_from_settings,
)
from rollouts.models import (
    ACTIVE_ROLLOUT_STATES,
    DRIVEN_ROLLOUT_STATES,
    ENDED_ROLLOUT_STATES,
    RESOLVED_TARGET_STATES,
    FleetFreeze,
    Rollout,
    RolloutState,
    RolloutTarget,
    RolloutWave,
    TargetState,
)

logger = logging.getLogger(__name__)

ABORTED_SKIP = "The rollout was aborted before this instance started."
# The approval subject kind and policy of an emergency release's schedule waiver.
WAIVER_KIND = "rollouts.schedule_waiver"
WAIVER_POLICY = "admin-schedule-waiver"


class RolloutError(Exception):
    """The action is not possible now; the message says why."""


# --- planning ---------------------------------------------------------------------------


@dataclass
class PlannedTarget:
    """One instance in a planned wave; ``skip_reason`` when it will not be upgraded."""

    instance: Instance
    skip_reason: str = ""
    sla_deadline: datetime | None = None
    late: bool = False


@dataclass
class PlannedWave:
    """One wave of a plan: its stage in the schedule and its instances."""

    position: int
    name: str
    earliest_start: datetime
    hold_seconds: int
    trial_pct: int = 0
    production_pct: int = 0
    targets: list[PlannedTarget] = field(default_factory=list)


@dataclass
class RolloutPlan:
    """What a rollout of ``release`` would do, before anything is saved."""

    release: Release
    waves: list[PlannedWave]

    @property
    def late(self) -> list[PlannedTarget]:
        return [t for wave in self.waves for t in wave.targets if t.late]


def _share(items: list[Instance], pct: int) -> int:
    # Rounded up, so a small fleet still puts one instance in an early wave.
    return min(len(items), math.ceil(len(items) * pct / 100))


def rollout_plan(
    *,
    release: Release,
    hold_seconds: int = 0,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
) -> RolloutPlan:
    """Plan a rollout of ``release`` over every active instance, from the staged schedule.

    Wave 0 is the test instances (kind internal); then one wave per customer stage of the
    schedule (monthly: 30 % of trials and 10 % of production, then all trials and 40 %,
    then everyone), each instance in the first stage whose cumulative share includes it,
    in slug order (deterministic). An instance the upgrade rules refuse (v1.1, already on
    the release, version unknown) is listed as skipped with the reason. Each wave's earliest
    start is its stage's first working day after the release; a target is flagged ``late``
    when that lands after its version-SLA deadline.
    """
    now = now or timezone.now()
    calendar = calendar or work_calendar_from_settings()
    history = ReleaseHistory.load()
    stages = [s for s in rollout_stages(release_kind=release.kind) if s.last_day is not None]
    internal_stage = stages[0]
    customer_stages = [s for s in stages if s.trial_pct or s.production_pct]
    instances = list(
        Instance.objects.filter(state=LifecycleState.ACTIVE).order_by("slug").select_related()
    )
    by_kind: dict[str, list[Instance]] = {kind: [] for kind in InstanceKind.values}
    for instance in instances:
        by_kind.setdefault(instance.kind, []).append(instance)

    def start(day: int) -> datetime:
        return add_working_days(release.released_at, day, calendar=calendar)

    waves = [PlannedWave(0, "Test instances", start(internal_stage.first_day), hold_seconds)]
    placed = {"trial": 0, "production": 0}
    members: list[list[Instance]] = [list(by_kind[InstanceKind.INTERNAL])]
    for n, stage in enumerate(customer_stages, start=1):
        waves.append(
            PlannedWave(
                n,
                stage.label,
                start(stage.first_day),
                hold_seconds,
                trial_pct=stage.trial_pct,
                production_pct=stage.production_pct,
            )
        )
        chosen: list[Instance] = []
        for kind in ("trial", "production"):
            upto = _share(by_kind[kind], stage.target_pct(kind))
            chosen += by_kind[kind][placed[kind] : upto]
            placed[kind] = max(placed[kind], upto)
        members.append(chosen)
    for wave, chosen in zip(waves, members, strict=True):
        for instance in chosen:
            version = instance_version(instance)
            bound = history.deadline_release(version)
            deadline = version_clock(bound.released_at).deadline if bound else None
            wave.targets.append(
                PlannedTarget(
                    instance=instance,
                    skip_reason=upgrade_refusal(instance=instance, target=release.version),
                    sla_deadline=deadline,
                    late=deadline is not None and wave.earliest_start > deadline,
                )
            )
    return RolloutPlan(release=release, waves=waves)


def rollout_create(
    *,
    release: Release,
    actor: User | None,
    failure_budget: int = 0,
    hold_seconds: int = 0,
    stability_seconds: float | None = None,
    deadline_seconds: float | None = None,
    poll_seconds: float | None = None,
    only_in_maintenance_windows: bool = False,
    now: datetime | None = None,
    restarted_from: Rollout | None = None,
) -> Rollout:
    """Save the plan of a rollout of ``release`` (state planned; nothing starts yet).

    With ``only_in_maintenance_windows`` every upgrade it starts waits for its instance's
    maintenance window (fixed at creation, like the timings)."""
    if failure_budget < 0 or hold_seconds < 0:
        raise RolloutError("The failure budget and the hold cannot be negative.")
    plan = rollout_plan(release=release, hold_seconds=hold_seconds, now=now)
    # The timings are fixed on the rollout when it is planned: its upgrades are asked for by
    # whichever process drives it (the beat, a worker's finished listener, a person's
    # action), and each must get the same ones.
    if stability_seconds is None:
        stability_seconds = float(settings.UPGRADE_STABILITY_SECONDS)
    if deadline_seconds is None:
        deadline_seconds = float(settings.UPGRADE_PROGRESS_DEADLINE_SECONDS)
    if poll_seconds is None:
        poll_seconds = float(settings.UPGRADE_POLL_SECONDS)
    with transaction.atomic():
        rollout = Rollout.objects.create(
            release=release,
            failure_budget=failure_budget,
            hold_seconds=hold_seconds,
            stability_seconds=stability_seconds,
            deadline_seconds=deadline_seconds,
            poll_seconds=poll_seconds,
            only_in_maintenance_windows=only_in_maintenance_windows,
            created_by=actor,
            restarted_from=restarted_from,
        )
        for planned in plan.waves:
            wave = RolloutWave.objects.create(
                rollout=rollout,
                position=planned.position,
                name=planned.name,
                earliest_start=planned.earliest_start,
                hold_seconds=planned.hold_seconds,
                trial_pct=planned.trial_pct,
                production_pct=planned.production_pct,
            )
            RolloutTarget.objects.bulk_create(
                RolloutTarget(
                    rollout=rollout,
                    wave=wave,
                    instance=t.instance,
                    state=TargetState.SKIPPED if t.skip_reason else TargetState.PENDING,
                    skip_reason=t.skip_reason,
                    sla_deadline=t.sla_deadline,
                )
                for t in planned.targets
            )
        audit_record(
            action="rollout.planned",
            actor=actor,
            obj=rollout,
            after={
                "release": release.version,
                "failure_budget": failure_budget,
                "hold_seconds": hold_seconds,
                "only_in_maintenance_windows": only_in_maintenance_windows,
                "waves": [[t.instance.slug for t in w.targets] for w in plan.waves],
                "late": [t.instance.slug for t in plan.late],
                "restarted_from": restarted_from.pk if restarted_from else None,
            },
        )
    return rollout


def _planned_locked(rollout_id: int) -> Rollout:
    rollout = _locked(rollout_id)
    if rollout.state != RolloutState.PLANNED:
        raise RolloutError("Only a planned rollout's plan can be changed.")
    return rollout


def rollout_target_move(
    *, target: RolloutTarget, position: int, actor: User | None
) -> RolloutTarget:
    """Move an instance of a planned rollout to another wave (its late flag follows)."""
    with transaction.atomic():
        rollout = _planned_locked(target.rollout_id)
        wave = rollout.waves.filter(position=position).first()
        if wave is None:
            raise RolloutError(f"This rollout has no wave {position}.")
        locked = RolloutTarget.objects.select_related("instance", "wave").get(pk=target.pk)
        before = locked.wave.position
        locked.wave = wave
        locked.save(update_fields=["wave"])
        _audit(
            rollout,
            "target_moved",
            actor,
            instance=locked.instance.slug,
            from_wave=before,
            to_wave=position,
        )
    return locked


def rollout_wave_hold_set(
    *, wave: RolloutWave, hold_seconds: int, actor: User | None
) -> RolloutWave:
    """Change how long the wave after ``wave`` waits once it finished (planned rollouts)."""
    if hold_seconds < 0:
        raise RolloutError("The hold cannot be negative.")
    with transaction.atomic():
        rollout = _planned_locked(wave.rollout_id)
        locked = rollout.waves.get(pk=wave.pk)
        before, locked.hold_seconds = locked.hold_seconds, hold_seconds
        locked.save(update_fields=["hold_seconds"])
        _audit(
            rollout,
            "wave_hold_set",
            actor,
            wave=locked.position,
            before=before,
            hold_seconds=hold_seconds,
        )
    return locked


def share_label(trial_pct: int, production_pct: int) -> str:
    """A customer wave's name from its cumulative shares (as the schedule names them)."""
    if trial_pct >= 100 and production_pct >= 100:
        return "All customers"
    trials = "All trials" if trial_pct >= 100 else f"{trial_pct} % of trials"
    return f"{trials}, {production_pct} % of customers"


def rollout_wave_share_set(
    *, wave: RolloutWave, trial_pct: int, production_pct: int, actor: User | None
) -> RolloutWave:
    """Change a customer wave's share of a planned rollout and re-plan the waves after it.

    Shares are cumulative (by the end of this wave, this percent of the trials / production
    instances runs the release), 0-100. A later wave with a smaller share is raised to this
    one; the last wave stays at 100 % so the waves still cover everyone. The trial and
    production instances of this wave and the later ones are then dealt out again in slug
    order (rounded up, as planned); the earlier waves, wave 0 and instances of other kinds
    placed by hand keep their places. Audited with every instance that moved.
    """
    for label, pct in (("trials", trial_pct), ("production", production_pct)):
        if not 0 <= pct <= 100:
            raise RolloutError(f"A share is a percent from 0 to 100; {pct} % of {label} is not.")
    with transaction.atomic():
        rollout = _planned_locked(wave.rollout_id)
        waves = list(rollout.waves.order_by("position"))
        locked = next((w for w in waves if w.pk == wave.pk), None)
        if locked is None:
            raise RolloutError("This rollout has no such wave.")
        if locked.position == 0:
            raise RolloutError("Wave 0 is the test instances; it has no customer share.")
        if locked is waves[-1] and (trial_pct < 100 or production_pct < 100):
            raise RolloutError(
                "The last wave must reach 100 % of trials and production, "
                "or some instances would never be upgraded."
            )
        earlier = [w for w in waves if 0 < w.position < locked.position]
        floor_trial = max((w.trial_pct for w in earlier), default=0)
        floor_production = max((w.production_pct for w in earlier), default=0)
        if trial_pct < floor_trial or production_pct < floor_production:
            raise RolloutError(
                f"Shares add up wave by wave: {locked.name} cannot have less than the wave "
                f"before it ({floor_trial} % of trials, {floor_production} % of production)."
            )
        before = {"trial_pct": locked.trial_pct, "production_pct": locked.production_pct}
        later = [w for w in waves if w.position >= locked.position]
        for w in later:
            if w is locked:
                w.trial_pct, w.production_pct = trial_pct, production_pct
            else:
                w.trial_pct = max(w.trial_pct, trial_pct)
                w.production_pct = max(w.production_pct, production_pct)
            w.name = share_label(w.trial_pct, w.production_pct)
            w.save(update_fields=["trial_pct", "production_pct", "name"])
        moved = _replan_shares(rollout, waves, from_position=locked.position)
        _audit(
            rollout,
            "wave_share_set",
            actor,
            wave=locked.position,
            before=before,
            trial_pct=trial_pct,
            production_pct=production_pct,
            moved=moved,
        )
    return locked


def _replan_shares(
    rollout: Rollout, waves: list[RolloutWave], *, from_position: int
) -> dict[str, list[int]]:
    """Deal the trial and production targets of waves ``from_position``.. out again by the
    waves' cumulative shares; returns {slug: [from wave, to wave]} for each one that moved."""
    customer_waves = [w for w in waves if w.position > 0]
    later = [w for w in customer_waves if w.position >= from_position]
    targets = list(
        RolloutTarget.objects.filter(rollout=rollout, wave__position__gt=0)
        .select_related("instance", "wave")
        .order_by("instance__slug")
    )
    moved: dict[str, list[int]] = {}
    for kind, pct_field in (("trial", "trial_pct"), ("production", "production_pct")):
        of_kind = [t for t in targets if t.instance.kind == kind]
        placed = sum(1 for t in of_kind if t.wave.position < from_position)
        queue = [t for t in of_kind if t.wave.position >= from_position]
        total = len(of_kind)
        for w in later:
            upto = (
                total
                if w is later[-1]
                else min(total, math.ceil(total * getattr(w, pct_field) / 100))
            )
            take = max(0, upto - placed)
            for target in queue[:take]:
                if target.wave_id != w.pk:
                    moved[target.instance.slug] = [target.wave.position, w.position]
                    target.wave = w
                    target.save(update_fields=["wave"])
            queue, placed = queue[take:], placed + take
    return moved


# --- actions ------------------------------------------------------------------------------


def _locked(rollout_id: int) -> Rollout:
    return Rollout.objects.select_for_update().select_related("release").get(pk=rollout_id)


def _audit(rollout: Rollout, action: str, actor: User | None, **after: object) -> None:
    audit_record(
        action=f"rollout.{action}",
        actor=actor,
        obj=rollout,
        after={"state": rollout.state, **after},
    )


def rollout_start(*, rollout: Rollout, actor: User | None) -> Rollout:
    """Start a planned rollout. Refused while another rollout of the release is under way
    (the database's constraint decides, not a check-then-act)."""
    with transaction.atomic():
        locked = _locked(rollout.pk)
        if locked.state != RolloutState.PLANNED:
            raise RolloutError(f"This rollout is {locked.get_state_display().lower()}.")
        if Rollout.objects.filter(release=locked.release, state__in=ACTIVE_ROLLOUT_STATES).exists():
            raise RolloutError(f"A rollout of {locked.release.version} is already under way.")
        locked.state, locked.started_at = RolloutState.RUNNING, timezone.now()
        locked.save(update_fields=["state", "started_at", "updated_at"])
        _audit(locked, "started", actor)
    return locked


def rollout_pause(*, rollout: Rollout, actor: User | None, reason: str) -> Rollout:
    """Pause a running rollout: no new upgrade starts; the ones under way finish."""
    reason = reason.strip()
    if not reason:
        raise RolloutError("Say why the rollout is paused.")
    with transaction.atomic():
        locked = _locked(rollout.pk)
        if locked.state != RolloutState.RUNNING:
            raise RolloutError(f"Only a running rollout can be paused; this one is {locked.state}.")
        _pause(locked, reason)
        _audit(locked, "paused", actor, reason=reason)
    return locked


def _pause(rollout: Rollout, reason: str) -> None:
    rollout.state, rollout.paused_reason = RolloutState.PAUSED, reason[:500]
    rollout.save(update_fields=["state", "paused_reason", "updated_at"])


def rollout_resume(*, rollout: Rollout, actor: User | None) -> Rollout:
    """Resume a paused rollout. Refused while a wave has more failed targets than the
    failure budget: retry or skip them first."""
    with transaction.atomic():
        locked = _locked(rollout.pk)
        if locked.state != RolloutState.PAUSED:
            raise RolloutError(f"Only a paused rollout can be resumed; this one is {locked.state}.")
        over = _wave_over_budget(locked)
        if over is not None:
            raise RolloutError(
                f"{over.name} has more failed instances than the failure budget "
                f"({locked.failure_budget}): retry or skip them first."
            )
        locked.state, locked.paused_reason = RolloutState.RUNNING, ""
        locked.save(update_fields=["state", "paused_reason", "updated_at"])
        _audit(locked, "resumed", actor)
    return locked


def rollout_abort(*, rollout: Rollout, actor: User | None, reason: str) -> Rollout:
    """Abort: nothing new starts, targets not yet started are skipped, upgrades in flight
    finish or roll back (they are operations), and the rollout ends 'aborted' once none is
    in flight (here, or at the driver's next run)."""
    reason = reason.strip()
    if not reason:
        raise RolloutError("Say why the rollout is aborted.")
    with transaction.atomic():
        locked = _locked(rollout.pk)
        if locked.state not in (RolloutState.PLANNED, RolloutState.RUNNING, RolloutState.PAUSED):
            raise RolloutError(f"This rollout is {locked.get_state_display().lower()}.")
        locked.state, locked.paused_reason = RolloutState.ABORTING, ""
        locked.save(update_fields=["state", "paused_reason", "updated_at"])
        _audit(locked, "abort_requested", actor, reason=reason)
        _drive(locked)
    return locked


def _target_locked(target: RolloutTarget) -> tuple[Rollout, RolloutTarget]:
    rollout = _locked(target.rollout_id)
    return rollout, RolloutTarget.objects.select_related("instance").get(pk=target.pk)


def rollout_target_retry(*, target: RolloutTarget, actor: User | None) -> RolloutTarget:
    """Put a failed target back to pending: the driver starts a new upgrade for it (a new
    attempt, so a new operation) when its wave runs."""
    with transaction.atomic():
        rollout, locked = _target_locked(target)
        if rollout.state not in (RolloutState.RUNNING, RolloutState.PAUSED):
            raise RolloutError(f"This rollout is {rollout.get_state_display().lower()}.")
        if locked.state != TargetState.FAILED:
            raise RolloutError(
                f"Only a failed instance is retried; {locked.instance} is {locked.state}."
            )
        locked.state, locked.error = TargetState.PENDING, ""
        locked.attempts += 1
        locked.save(update_fields=["state", "error", "attempts"])
        _audit(rollout, "target_retried", actor, instance=locked.instance.slug)
    return locked


def rollout_target_skip(*, target: RolloutTarget, actor: User | None, reason: str) -> RolloutTarget:
    """Skip a pending or failed target, saying why; it no longer counts as a failure."""
    reason = reason.strip()
    if not reason:
        raise RolloutError("Say why the instance is skipped.")
    with transaction.atomic():
        rollout, locked = _target_locked(target)
        if rollout.state not in (RolloutState.RUNNING, RolloutState.PAUSED):
            raise RolloutError(f"This rollout is {rollout.get_state_display().lower()}.")
        if locked.state not in (TargetState.PENDING, TargetState.FAILED):
            raise RolloutError(f"{locked.instance} is {locked.state}; it cannot be skipped.")
        locked.state, locked.skip_reason = TargetState.SKIPPED, reason[:500]
        locked.save(update_fields=["state", "skip_reason"])
        _audit(rollout, "target_skipped", actor, instance=locked.instance.slug, reason=reason)
    return locked


def fleet_freeze_set(*, actor: User, reason: str) -> FleetFreeze:
    """Freeze the fleet (Admin only, with a reason): no rollout starts a new upgrade."""
    reason = reason.strip()
    if Role.ADMIN not in user_roles(actor):
        raise RolloutError("Only an Admin can freeze the fleet.")
    if not reason:
        raise RolloutError("Say why the fleet is frozen.")
    return _freeze_write(actor=actor, active=True, reason=reason)


def fleet_freeze_lift(*, actor: User) -> FleetFreeze:
    """Lift the freeze (Admin only)."""
    if Role.ADMIN not in user_roles(actor):
        raise RolloutError("Only an Admin can lift the freeze.")
    return _freeze_write(actor=actor, active=False, reason="")


def _freeze_write(*, actor: User, active: bool, reason: str) -> FleetFreeze:
    with transaction.atomic():
        freeze, _ = FleetFreeze.objects.select_for_update().get_or_create(pk=1)
        before = {"active": freeze.active, "reason": freeze.reason}
        freeze.active, freeze.reason = active, reason[:500]
        freeze.changed_by, freeze.changed_at = actor, timezone.now()
        freeze.save()
        audit_record(
            action="fleet.freeze_set" if active else "fleet.freeze_lifted",
            actor=actor,
            obj=freeze,
            before=before,
            after={"active": active, "reason": reason},
        )
    return freeze


def fleet_frozen() -> bool:
    return FleetFreeze.objects.filter(pk=1, active=True).exists()


# --- the driver -------------------------------------------------------------------------


def rollouts_advance_all() -> list[int]:
    """Supersede what a patch release replaced, then advance every rollout the driver moves
    (running, aborting, superseding); returns their ids (the beat task's body: the sweep
    behind the finished-upgrade listener and the release hook)."""
    try:
        rollouts_supersede_all()
    except Exception:
        logger.exception("superseding rollouts failed; advancing the others")
    ids = list(
        Rollout.objects.filter(state__in=DRIVEN_ROLLOUT_STATES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for rollout_id in ids:
        try:
            rollout_advance(rollout_id=rollout_id)
        except Exception:
            # One rollout's unexpected error must not hold up the others; it is retried at
            # the next beat (the driver is idempotent).
            logger.exception("rollout %s: advancing failed", rollout_id)
    return ids


def rollout_advance(
    *, rollout_id: int, now: datetime | None = None, skip_locked: bool = False
) -> str | None:
    """One step of the driver for one rollout, under its row lock; returns its state.

    ``skip_locked``: return None at once when another driver run holds the lock, instead of
    waiting for it (the finished listener's task then asks again shortly, so no worker
    thread sits blocked while upgrades wait for one)."""
    with transaction.atomic():
        rows = Rollout.objects.select_for_update(skip_locked=skip_locked).select_related("release")
        rollout = rows.filter(pk=rollout_id).first()
        if rollout is None:
            if skip_locked and Rollout.objects.filter(pk=rollout_id).exists():
                return None
            raise Rollout.DoesNotExist(f"No rollout #{rollout_id}.")
        if rollout.state in DRIVEN_ROLLOUT_STATES:
            _drive(rollout, now=now)
        return str(rollout.state)


ADVANCE_AFTER_TASK = "rollouts.tasks.rollouts_advance_after"
ADVANCE_ROLLOUT_TASK = "rollouts.tasks.rollout_advance_soon"


def _enqueue_quietly(name: str, *args: object) -> None:
    """Queue a driver run; if the broker is down the beat's sweep does it instead."""
    try:
        task_enqueue(name, *args)
    except Exception:
        logger.warning("could not queue %s%r; the beat task will do it", name, args, exc_info=True)


def rollout_upgrade_finished(*, operation: Operation) -> None:
    """The finished-operation listener: when an upgrade ends, queue the driver for it.

    Queued rather than run here: the worker that finished the upgrade goes on to hand its
    slot to a waiting upgrade (``upgrade_wake_next``), which must not wait behind the
    rollout's row lock. If queueing fails (broker down) the beat sweep advances it."""
    if operation.kind == OperationKind.UPGRADE:
        _enqueue_quietly(ADVANCE_AFTER_TASK, operation.pk)


def rollouts_advance_after_operation(*, operation_id: int) -> list[int]:
    """The listener's task: advance the rollouts after operation ``operation_id`` ended;
    returns the ids another driver run held (the task asks again for those)."""
    operation = Operation.objects.filter(pk=operation_id).first()
    if operation is None:
        return []
    return rollouts_advance_for_operation(operation=operation, skip_locked=True)


def rollouts_advance_for_operation(*, operation: Operation, skip_locked: bool = False) -> list[int]:
    """An upgrade ended (the operations' finished listener, after its commit): its slot is
    free, so advance the rollouts now (the next upgrade or wave starts without waiting for
    the beat). Every driven rollout, not only the one the upgrade belonged to, so a rollout
    whose upgrades are all waiting is not starved by another that always takes the freed
    slot first: the others are advanced before the upgrade's own. Idempotent, like every
    driver run; the beat task reaches the same state if this hook is lost. Returns the ids
    advanced, in that order."""
    if operation.kind != OperationKind.UPGRADE:
        return []
    own = set(
        RolloutTarget.objects.filter(operation_id=operation.pk).values_list("rollout_id", flat=True)
    )
    driven = Rollout.objects.filter(state__in=DRIVEN_ROLLOUT_STATES).order_by("pk")
    ids = sorted(driven.values_list("pk", flat=True), key=lambda pk: (pk in own, pk))
    busy = []
    for rollout_id in ids:
        try:
            if rollout_advance(rollout_id=rollout_id, skip_locked=skip_locked) is None:
                busy.append(rollout_id)
        except Exception:
            # One rollout's error must not keep the others from advancing (the beat retries).
            logger.exception(
                "rollout %s: advancing after operation %s failed", rollout_id, operation.pk
            )
    return busy


def _sync_targets(rollout: Rollout) -> None:
    """Record the state of every target whose upgrade was under way."""
    upgrading = RolloutTarget.objects.filter(
        rollout=rollout, state=TargetState.UPGRADING
    ).select_related("operation")
    for target in upgrading:
        operation = target.operation
        assert operation is not None  # a constraint: an upgrading target has one
        if operation.state == OperationState.SUCCEEDED:
            target.state = TargetState.DONE
        elif operation.state in (OperationState.FAILED, OperationState.CANCELLED):
            target.state, target.error = TargetState.FAILED, operation.error or operation.state
        else:
            continue
        target.save(update_fields=["state", "error"])


def _wave_over_budget(rollout: Rollout) -> RolloutWave | None:
    for wave in rollout.waves.order_by("position"):
        failed = wave.targets.filter(state=TargetState.FAILED).count()
        if failed > rollout.failure_budget:
            return wave
    return None


def _drive(rollout: Rollout, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    _sync_targets(rollout)
    if rollout.state in (RolloutState.ABORTING, RolloutState.SUPERSEDING):
        aborting = rollout.state == RolloutState.ABORTING
        skip_reason = ABORTED_SKIP if aborting else _superseded_skip(rollout)
        RolloutTarget.objects.filter(rollout=rollout, state=TargetState.PENDING).update(
            state=TargetState.SKIPPED, skip_reason=skip_reason
        )
        if not rollout.targets.filter(state=TargetState.UPGRADING).exists():
            _end(rollout, RolloutState.ABORTED if aborting else RolloutState.SUPERSEDED, now)
        return
    previous: RolloutWave | None = None
    # Every target in one query (the listener runs this as each upgrade ends).
    by_wave: dict[int, list[RolloutTarget]] = {}
    for target in rollout.targets.select_related("instance").order_by("instance__slug"):
        by_wave.setdefault(target.wave_id, []).append(target)
    for wave in rollout.waves.order_by("position"):
        targets = by_wave.get(wave.pk, [])
        failed = [t for t in targets if t.state == TargetState.FAILED]
        if len(failed) > rollout.failure_budget:
            first = failed[0]
            _pause(rollout, f"{first.instance.slug} failed in {wave.name}: {first.error}")
            _audit(rollout, "paused", None, reason=rollout.paused_reason)
            return
        unresolved = [t for t in targets if t.state not in RESOLVED_TARGET_STATES]
        if not unresolved:
            if wave.finished_at is None:
                wave.finished_at = now
                wave.save(update_fields=["finished_at"])
            previous = wave
            continue
        if wave.started_at is None and not _may_start(rollout, wave, previous, now):
            return
        if fleet_frozen():
            return
        if wave.started_at is None:
            wave.started_at = now
            wave.save(update_fields=["started_at"])
        room = _upgrade_room()
        # At most one set of slots per run: a run asking for 2 x N at once held the row lock
        # (and the audit chain's) long enough to delay the first upgrades; the rest is asked
        # for by a run queued for right after this one commits.
        batch = min(room, upgrade_concurrency())
        pending = [t for t in unresolved if t.state == TargetState.PENDING]
        tried = 0
        for target in pending:
            if batch <= 0:
                break
            tried += 1
            if _start_upgrade(rollout, target):
                batch, room = batch - 1, room - 1
        # Only when the batch, not the candidates, ran out (a target another change holds
        # stays pending and must not make the runs chase each other).
        if room > 0 and tried < len(pending):
            transaction.on_commit(partial(_enqueue_quietly, ADVANCE_ROLLOUT_TASK, rollout.pk))
        return
    failures = rollout.targets.filter(state=TargetState.FAILED).exists()
    _end(rollout, RolloutState.FAILED if failures else RolloutState.COMPLETED, now)


def _may_start(
    rollout: Rollout, wave: RolloutWave, previous: RolloutWave | None, now: datetime
) -> bool:
    """A wave starts at its earliest start, and after the previous wave's hold; an emergency
    release's rollout whose schedule waiver an Admin approved waits for neither."""
    if rollout.schedule_waived_at is not None:
        return True
    if now < wave.earliest_start:
        return False
    if previous is not None:
        assert previous.finished_at is not None
        if now < previous.finished_at + timedelta(seconds=previous.hold_seconds):
            return False
    return True


def _upgrade_room() -> int:
    """How many more upgrades the driver asks for now: twice the fleet-wide slots less every
    upgrade already pending or running (any rollout's or a person's).

    One set runs; the second waits as pending operations, so a slot that frees is handed to
    a waiting upgrade at once (``upgrade_wake_next``) while the driver, run by the finished
    listener, tops the queue up off that path. Asking for a whole wave at once instead made
    one long transaction at each wave's start and kept dozens of operations polling for a
    slot. The slots, not this count, enforce the limit."""
    active = Operation.objects.filter(
        kind=OperationKind.UPGRADE, state__in=ACTIVE_OPERATION_STATES
    ).count()
    return 2 * upgrade_concurrency() - active


def _start_upgrade(rollout: Rollout, target: RolloutTarget) -> bool:
    """Ask for the target's upgrade; True when it is now upgrading."""
    version = rollout.release.version
    try:
        operation, _ = upgrade_request(
            instance=target.instance,
            target=version,
            actor=rollout.created_by,
            idempotency_key=f"rollout-{rollout.pk}-target-{target.pk}-attempt-{target.attempts}",
            stability_seconds=rollout.stability_seconds,
            deadline_seconds=rollout.deadline_seconds,
            poll_seconds=rollout.poll_seconds,
            maintenance_window_only=rollout.only_in_maintenance_windows,
        )
    except UpgradeRefused as exc:
        # The rules changed since planning (e.g. someone upgraded it by hand): not a failure.
        target.state, target.skip_reason = TargetState.SKIPPED, str(exc)[:500]
        target.save(update_fields=["state", "skip_reason"])
        return False
    except OperationConflict as exc:
        # Another change holds the instance; stay pending and ask again next time.
        target.error = str(exc)
        target.save(update_fields=["error"])
        return False
    if operation.params.get("target") != version:
        target.error = f"Another upgrade (to {operation.params.get('target')}) is under way."
        target.save(update_fields=["error"])
        return False
    target.state, target.operation, target.error = TargetState.UPGRADING, operation, ""
    target.save(update_fields=["state", "operation", "error"])
    logger.info(
        "rollout %s: upgrade of %s is operation %s", rollout.pk, target.instance, operation.pk
    )
    return True


def _end(rollout: Rollout, state: RolloutState, now: datetime) -> None:
    rollout.state, rollout.finished_at = state, now
    rollout.save(update_fields=["state", "finished_at", "updated_at"])
    if state == RolloutState.SUPERSEDED and rollout.superseded_by is not None:
        _audit(rollout, state.value, None, superseded_by=rollout.superseded_by.version)
    else:
        _audit(rollout, state.value, None)


# --- patch releases restart the stages ------------------------------------------------------


def _superseded_skip(rollout: Rollout) -> str:
    by = rollout.superseded_by.version if rollout.superseded_by else "a newer release"
    return f"Superseded by {by} before this instance started."


def rollouts_supersede_all() -> list[Rollout]:
    """Supersede every running or paused rollout a newer release of its line replaced (the
    beat's sweep; the release hook does it at once). Returns the new rollouts."""
    active = list(
        Rollout.objects.filter(
            state__in=(RolloutState.RUNNING, RolloutState.PAUSED)
        ).select_related("release")
    )
    if not active:
        return []
    # The newest release of each superseded rollout's line (6.10.2 rather than 6.10.1).
    newest: dict[int, Release] = {}
    for release in Release.objects.all():
        for rollout in active:
            best = newest.get(rollout.pk)
            if supersedes(newer=release.version, older=rollout.release.version) and (
                best is None or supersedes(newer=release.version, older=best.version)
            ):
                newest[rollout.pk] = release
    started: list[Rollout] = []
    for release in {r.pk: r for r in newest.values()}.values():
        started += rollouts_supersede(release=release)
    return started


def rollouts_supersede(*, release: Release, now: datetime | None = None) -> list[Rollout]:
    """A patch release of a line whose rollout runs restarts the stages (the seed's rule).

    Each running or paused rollout of an older release of the same MAJOR.MINOR line is
    superseded: it starts no new upgrade, the upgrades under way finish (or roll back), its
    pending instances are skipped saying by which release, and it ends 'superseded'. A
    rollout of ``release`` is planned in its place from wave 0 (the test instances first),
    its schedule counted from ``release``'s date, with the old one's budget, holds and
    timings; it starts at once if the old one was running (a paused one waits for a person).
    Idempotent: a rollout already superseded, or a release whose rollout exists, is left
    alone. Returns the new rollouts.
    """
    created: list[Rollout] = []
    candidates = list(
        Rollout.objects.filter(state__in=(RolloutState.RUNNING, RolloutState.PAUSED))
        .select_related("release")
        .order_by("pk")
    )
    for candidate in candidates:
        if not supersedes(newer=release.version, older=candidate.release.version):
            continue
        with transaction.atomic():
            old = _locked(candidate.pk)
            if old.state not in (RolloutState.RUNNING, RolloutState.PAUSED):
                continue
            was_running = old.state == RolloutState.RUNNING
            old.state, old.paused_reason, old.superseded_by = (
                RolloutState.SUPERSEDING,
                "",
                release,
            )
            old.save(update_fields=["state", "paused_reason", "superseded_by", "updated_at"])
            _audit(old, "superseding", None, superseded_by=release.version)
            _drive(old, now=now)
            if (
                Rollout.objects.filter(release=release)
                .exclude(state__in=ENDED_ROLLOUT_STATES)
                .exists()
            ):
                continue  # someone planned or started the patch's rollout already
            new = rollout_create(
                release=release,
                actor=old.created_by,
                failure_budget=old.failure_budget,
                hold_seconds=old.hold_seconds,
                stability_seconds=old.stability_seconds,
                deadline_seconds=old.deadline_seconds,
                poll_seconds=old.poll_seconds,
                now=now,
                restarted_from=old,
            )
            if was_running:
                new = rollout_start(rollout=new, actor=None)
            created.append(new)
            logger.info(
                "rollout %s of %s superseded by %s: rollout %s restarts the stages",
                old.pk,
                old.release.version,
                release.version,
                new.pk,
            )
    return created


def release_recorded(*, release_id: int) -> list[Rollout]:
    """A release was recorded (after its commit): supersede what it replaces now, instead
    of at the next beat."""
    release = Release.objects.filter(pk=release_id).first()
    return rollouts_supersede(release=release) if release is not None else []


# --- emergency releases: the schedule waived with an Admin's approval ------------------------


def rollout_schedule_waiver_request(
    *, rollout: Rollout, actor: User, reason: str
) -> ApprovalRequest:
    """Ask to waive the staged schedule (every wave's earliest start and hold) of an
    emergency release's rollout. An Admin other than the requester must approve it (the
    approval engine, policy ``WAIVER_POLICY``); until then the rollout follows the schedule.
    """
    reason = reason.strip()
    if not reason:
        raise RolloutError("Say why the schedule should be waived.")
    with transaction.atomic():
        locked = _locked(rollout.pk)
        if locked.release.kind != ReleaseKind.EMERGENCY:
            raise RolloutError(
                f"Only an emergency release may skip the schedule; {locked.release.version} "
                f"is a {locked.release.get_kind_display().lower()} release."
            )
        if locked.state in ENDED_ROLLOUT_STATES or locked.state in (
            RolloutState.ABORTING,
            RolloutState.SUPERSEDING,
        ):
            raise RolloutError(f"This rollout is {locked.get_state_display().lower()}.")
        if locked.schedule_waived_at is not None:
            raise RolloutError("The schedule of this rollout is already waived.")
        pending = locked.schedule_waiver_request
        if pending is not None and pending.state == RequestState.PENDING:
            raise RolloutError(f"A waiver is already waiting for approval (#{pending.pk}).")
        policy = ApprovalPolicy.objects.filter(slug=WAIVER_POLICY).first()
        if policy is None:
            raise RolloutError(f"The approval policy {WAIVER_POLICY!r} is missing.")
        try:
            request = approval_request_create(
                policy=policy,
                requester=actor,
                subject_kind=WAIVER_KIND,
                subject_id=str(locked.pk),
                subject_summary=(
                    f"Skip the staged schedule of the rollout of emergency release "
                    f"{locked.release.version} (#{locked.pk}): {reason}"
                ),
            )
        except ApprovalError as exc:
            raise RolloutError(str(exc)) from exc
        locked.schedule_waiver_request, locked.schedule_waiver_reason = request, reason[:500]
        locked.save(
            update_fields=["schedule_waiver_request", "schedule_waiver_reason", "updated_at"]
        )
        _audit(locked, "schedule_waiver_requested", actor, reason=reason, approval=request.pk)
    return request


def rollout_schedule_waiver_decided(request: ApprovalRequest) -> None:
    """The approval engine's outcome (after commit; may run twice). Approved: the schedule
    is waived and the driver runs at once; anything else leaves the schedule in force."""
    with transaction.atomic():
        rollout = Rollout.objects.select_for_update().filter(pk=int(request.subject_id)).first()
        if rollout is None or rollout.schedule_waiver_request_id != request.pk:
            logger.warning("schedule waiver #%s: no rollout waits for it", request.pk)
            return
        if request.state != RequestState.APPROVED:
            _audit(
                rollout, "schedule_waiver_refused", None, approval=request.pk, outcome=request.state
            )
            return
        if rollout.schedule_waived_at is not None:
            return
        rollout.schedule_waived_at = timezone.now()
        rollout.save(update_fields=["schedule_waived_at", "updated_at"])
        _audit(
            rollout,
            "schedule_waived",
            None,
            approval=request.pk,
            reason=rollout.schedule_waiver_reason,
        )
        if rollout.state == RolloutState.RUNNING:
            _drive(rollout)


def rollout_operations_in_flight(*, rollout: Rollout) -> list[Operation]:
    """The rollout's upgrades still pending or running."""
    return list(
        Operation.objects.filter(
            pk__in=rollout.targets.filter(state=TargetState.UPGRADING).values("operation")
        )
    )
