"""Planning a rollout and the driver's gates, without a worker (operations are rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from instances.choices import OperationKind, OperationState
from instances.models import Operation, Release
from instances.services.upgrades import no_cloud_sql_refusal
from mi_admin.audit.models import AuditEvent
from rollouts import selectors
from rollouts.models import Rollout, RolloutState, RolloutTarget, TargetState
from rollouts.selectors import rollout_projection
from rollouts.services import (
    RolloutError,
    fleet_freeze_lift,
    fleet_freeze_set,
    rollout_advance,
    rollout_create,
    rollout_plan,
    rollout_resume,
    rollout_start,
    rollout_target_skip,
)
from tests.rollouts.conftest import make_fleet


def _waves(rollout: Rollout) -> list[list[str]]:
    return [
        list(w.targets.order_by("instance__slug").values_list("instance__slug", flat=True))
        for w in rollout.waves.order_by("position")
    ]


def test_the_plan_puts_test_instances_first_then_the_staged_shares(release: Release) -> None:
    # given the fleet (3 test instances, 2 trials, 3 production) on 6.9.1
    make_fleet(None)
    # when a rollout of 6.10.0 is planned
    plan = rollout_plan(release=release)
    # then wave 0 is the test instances, then 30 % trials + 10 % production (rounded up),
    # then all trials + 40 % production, then everyone, in slug order
    slugs = [[t.instance.slug for t in w.targets] for w in plan.waves]
    assert slugs == [
        ["demo", "dev", "rctest"],
        ["trial-a", "prod-a"],
        ["trial-b", "prod-b"],
        ["prod-c"],
    ]
    assert plan.waves[0].name == "Test instances"
    # the v1.1 test instance without its Cloud SQL instance recorded is listed, skipped
    skipped = {t.instance: t.skip_reason for w in plan.waves for t in w.targets if t.skip_reason}
    assert {i.slug: reason for i, reason in skipped.items()} == {
        "rctest": no_cloud_sql_refusal(next(iter(skipped)))
    }
    # each wave starts on its stage's working day: 0, 5, 7, 9 after Thu 2026-03-05
    starts = [w.earliest_start.date().isoformat() for w in plan.waves]
    assert starts == ["2026-03-05", "2026-03-12", "2026-03-16", "2026-03-18"]
    # the deadline is 7 days after the release: waves 2 and 3 land after it and are flagged
    assert {t.instance.slug for t in plan.late} == {"trial-b", "prod-b", "prod-c"}
    # and planning again gives the same plan
    assert [
        [t.instance.slug for t in w.targets] for w in rollout_plan(release=release).waves
    ] == slugs


def test_saving_a_plan_records_waves_targets_and_an_audit_event(release: Release, devops) -> None:
    make_fleet(None)
    rollout = rollout_create(release=release, actor=devops)
    assert rollout.state == RolloutState.PLANNED
    assert _waves(rollout)[0] == ["demo", "dev", "rctest"]
    rctest = RolloutTarget.objects.get(rollout=rollout, instance__slug="rctest")
    assert (rctest.state, rctest.skip_reason) == (
        TargetState.SKIPPED,
        no_cloud_sql_refusal(rctest.instance),
    )
    assert RolloutTarget.objects.get(rollout=rollout, instance__slug="prod-c").late
    assert not RolloutTarget.objects.get(rollout=rollout, instance__slug="dev").late
    event = AuditEvent.objects.get(action="rollout.planned")
    assert event.after is not None
    assert event.after["late"] == ["trial-b", "prod-b", "prod-c"]


def test_one_running_rollout_per_release_and_one_target_per_instance(release, devops) -> None:
    make_fleet(None)
    first = rollout_start(rollout=rollout_create(release=release, actor=devops), actor=devops)
    second = rollout_create(release=release, actor=devops)
    # the service refuses, and the database refuses too
    with pytest.raises(RolloutError, match="already under way"):
        rollout_start(rollout=second, actor=devops)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rollout.objects.filter(pk=second.pk).update(state=RolloutState.PAUSED, paused_reason="x")
    target = RolloutTarget.objects.filter(rollout=first).first()
    assert target is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        RolloutTarget.objects.create(rollout=first, wave=target.wave, instance=target.instance)


def _loaded(rollout: Rollout) -> Rollout:
    loaded = selectors.rollout_detail(pk=rollout.pk)
    assert loaded is not None
    return loaded


def _finish(rollout: Rollout, position: int, state: str = OperationState.SUCCEEDED) -> None:
    """The wave's upgrade operations end (as a worker would leave them)."""
    ops = Operation.objects.filter(
        pk__in=RolloutTarget.objects.filter(
            rollout=rollout, wave__position=position, state=TargetState.UPGRADING
        ).values("operation")
    )
    assert ops.exists()
    ops.update(state=state, error="boom" if state == OperationState.FAILED else "")


def _started(rollout: Rollout) -> set[str]:
    return set(
        RolloutTarget.objects.filter(rollout=rollout, operation__isnull=False).values_list(
            "instance__slug", flat=True
        )
    )


def test_a_wave_starts_only_after_the_previous_finished_and_its_hold_passed(
    release, devops
) -> None:
    make_fleet(None)
    rollout = rollout_create(release=release, actor=devops, hold_seconds=600)
    rollout_start(rollout=rollout, actor=devops)
    # when the driver runs: only the test instances' upgrades are asked for
    rollout_advance(rollout_id=rollout.pk)
    rollout_advance(rollout_id=rollout.pk)  # a second run changes nothing
    assert _started(rollout) == {"dev", "demo"}
    assert Operation.objects.filter(kind=OperationKind.UPGRADE).count() == 2
    # one test instance finished, the other not: wave 1 waits
    Operation.objects.filter(instance__slug="dev").update(state=OperationState.SUCCEEDED)
    rollout_advance(rollout_id=rollout.pk)
    assert _started(rollout) == {"dev", "demo"}
    # both finished: wave 1 still waits for the 10-minute hold
    _finish(rollout, 0)
    rollout_advance(rollout_id=rollout.pk)
    assert _started(rollout) == {"dev", "demo"}
    finished = rollout.waves.get(position=0).finished_at
    assert finished is not None
    rollout_advance(rollout_id=rollout.pk, now=finished + timedelta(seconds=599))
    assert _started(rollout) == {"dev", "demo"}
    # then, the hold passed, wave 1 starts
    rollout_advance(rollout_id=rollout.pk, now=finished + timedelta(seconds=601))
    assert _started(rollout) == {"dev", "demo", "trial-a", "prod-a"}


def test_a_wave_waits_for_its_earliest_start(devops) -> None:
    # given a release published on a Thursday, driven that afternoon (a fixed weekday: on a
    # weekend even wave 0 waits for Monday): wave 1 may start only 5 working days later
    released = timezone.now().replace(year=2026, month=3, day=5, hour=12, minute=0)
    that_afternoon = released + timedelta(hours=2)
    release = Release.objects.create(version="6.10.0", released_at=released)
    Release.objects.create(version="6.9.1", released_at=released - timedelta(days=30))
    make_fleet(None)
    rollout = rollout_start(rollout=rollout_create(release=release, actor=devops), actor=devops)
    rollout_advance(rollout_id=rollout.pk, now=that_afternoon)
    _finish(rollout, 0)
    rollout_advance(rollout_id=rollout.pk, now=that_afternoon)
    # then no customer upgrade is asked for before its day
    assert _started(rollout) == {"dev", "demo"}
    wave1 = rollout.waves.get(position=1)
    rollout_advance(rollout_id=rollout.pk, now=wave1.earliest_start)
    assert _started(rollout) == {"dev", "demo", "trial-a", "prod-a"}


@pytest.mark.parametrize("budget", [0, 1])
def test_a_failure_over_the_budget_pauses_the_rollout(release, devops, budget: int) -> None:
    make_fleet(None)
    rollout = rollout_create(release=release, actor=devops, failure_budget=budget)
    rollout_start(rollout=rollout, actor=devops)
    rollout_advance(rollout_id=rollout.pk)
    # one test instance fails, the other succeeds
    Operation.objects.filter(instance__slug="dev").update(
        state=OperationState.FAILED, error="Upgrade to 6.10.0 failed"
    )
    Operation.objects.filter(instance__slug="demo").update(state=OperationState.SUCCEEDED)
    state = rollout_advance(rollout_id=rollout.pk)
    rollout.refresh_from_db()
    if budget == 0:
        # then the rollout pauses with the reason, and no customer upgrade starts
        assert state == RolloutState.PAUSED
        assert rollout.paused_reason.startswith("dev failed in Test instances: Upgrade to 6.10.0")
        assert _started(rollout) == {"dev", "demo"}
        # resume is refused until the failure is retried or skipped
        with pytest.raises(RolloutError, match="retry or skip"):
            rollout_resume(rollout=rollout, actor=devops)
        dev = RolloutTarget.objects.get(rollout=rollout, instance__slug="dev")
        rollout_target_skip(target=dev, actor=devops, reason="dev is rebuilt tomorrow")
        rollout_resume(rollout=rollout, actor=devops)
        rollout_advance(rollout_id=rollout.pk)
    else:
        # then, within the budget, the rollout goes on
        assert state == RolloutState.RUNNING
    # and wave 1 starts
    assert {"trial-a", "prod-a"} <= _started(rollout)


def test_a_freeze_stops_new_upgrades_until_lifted(release, devops, admin_user) -> None:
    admin = admin_user
    make_fleet(None)
    # only an Admin freezes, and says why
    with pytest.raises(RolloutError, match="Only an Admin"):
        fleet_freeze_set(actor=devops, reason="incident")
    with pytest.raises(RolloutError, match="Say why"):
        fleet_freeze_set(actor=admin, reason=" ")
    fleet_freeze_set(actor=admin, reason="incident 42")
    rollout = rollout_start(rollout=rollout_create(release=release, actor=devops), actor=devops)
    # when the driver runs while frozen: nothing starts
    rollout_advance(rollout_id=rollout.pk)
    assert _started(rollout) == set()
    assert not Operation.objects.exists()
    # when the freeze is lifted: the test instances start
    fleet_freeze_lift(actor=admin)
    rollout_advance(rollout_id=rollout.pk)
    assert _started(rollout) == {"dev", "demo"}
    actions = list(
        AuditEvent.objects.filter(action__startswith="fleet.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["fleet.freeze_set", "fleet.freeze_lifted"]


def test_customer_upgrades_wait_for_every_test_instance_to_finish(release, devops) -> None:
    # given a rollout with no hold
    make_fleet(None)
    rollout = rollout_start(rollout=rollout_create(release=release, actor=devops), actor=devops)
    # when the driver runs while the test instances' upgrades are under way
    rollout_advance(rollout_id=rollout.pk)
    rollout_advance(rollout_id=rollout.pk)
    assert _started(rollout) == {"dev", "demo"}
    Operation.objects.filter(instance__slug="dev").update(state=OperationState.SUCCEEDED)
    rollout_advance(rollout_id=rollout.pk)
    # then no customer upgrade is asked for until both finished
    assert _started(rollout) == {"dev", "demo"}
    Operation.objects.filter(instance__slug="demo").update(state=OperationState.SUCCEEDED)
    rollout_advance(rollout_id=rollout.pk)
    assert _started(rollout) == {"dev", "demo", "trial-a", "prod-a"}
    assert list(
        RolloutTarget.objects.filter(rollout=rollout, wave__position=0)
        .order_by("instance__slug")
        .values_list("instance__slug", "state")
    ) == [("demo", "done"), ("dev", "done"), ("rctest", "skipped")]


def test_the_projection_counts_waves_of_upgrades_and_flags_late_instances(
    release, devops, settings
) -> None:
    # given a started rollout, 2 upgrade slots, and an estimate of 60 s per upgrade
    settings.UPGRADE_CONCURRENCY = 2
    make_fleet(None)
    rollout = rollout_create(release=release, actor=devops, hold_seconds=30, stability_seconds=0)
    rollout_start(rollout=rollout, actor=devops)
    now = timezone.now()
    # when it is projected
    projected = rollout_projection(rollout=_loaded(rollout), now=now)
    # then each wave takes ceil(upgrades / 2) x 60 s, after the previous one and its hold
    minutes = [
        ((p.start - now).total_seconds(), (p.finish - now).total_seconds(), p.late)
        for p in projected.values()
    ]
    assert minutes == [(0, 60, 2), (90, 150, 2), (180, 240, 2), (270, 330, 1)]
    # and once the test instances took 10 s each (the driver saw them end at +40 s), wave 1
    # is projected after the 30 s hold, taking 10 s
    rollout_advance(rollout_id=rollout.pk)
    for op in Operation.objects.all():
        Operation.objects.filter(pk=op.pk).update(
            state=OperationState.SUCCEEDED, started_at=now, finished_at=now + timedelta(seconds=10)
        )
    rollout_advance(rollout_id=rollout.pk, now=now + timedelta(seconds=40))
    wave1 = selectors.rollout_projection(rollout=_loaded(rollout), now=now + timedelta(seconds=40))[
        rollout.waves.get(position=1).pk
    ]
    assert ((wave1.start - now).total_seconds(), (wave1.finish - now).total_seconds()) == (70, 80)
