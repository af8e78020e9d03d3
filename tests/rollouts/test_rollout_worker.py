"""Rollouts end to end: the driver (the beat task's service, run here in a bounded poll)
starts real upgrade operations that a real Celery worker runs against the fleet simulator.
The suite's UPGRADE_CONCURRENCY is 2 (tests/settings.py), so waves queue on the slots."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from instances.choices import ACTIVE_OPERATION_STATES, OperationState
from instances.models import Instance, Operation, Release
from instances.services.upgrades import upgrade_request
from rollouts.models import Rollout, RolloutState, RolloutTarget, TargetState
from rollouts.services import (
    ABORTED_SKIP,
    rollout_abort,
    rollout_advance,
    rollout_create,
    rollout_resume,
    rollout_start,
    rollout_target_retry,
    rollout_target_skip,
)
from rollouts.tasks import rollouts_advance
from tests.rollouts.conftest import FROM, TO, make_fleet, make_fleet_extra, make_releases

pytestmark = pytest.mark.django_db(transaction=True)


def _rollout(actor) -> Rollout:
    rollout = rollout_create(
        release=make_releases(),
        actor=actor,
        stability_seconds=0.6,
        deadline_seconds=4,
        poll_seconds=0.1,
    )
    return rollout_start(rollout=rollout, actor=actor)


def _drive(rollout: Rollout, until: Callable[[Rollout], bool], seconds: float = 90) -> Rollout:
    """Run the driver until ``until`` holds (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rollout_advance(rollout_id=rollout.pk)
        rollout.refresh_from_db()
        if until(rollout):
            return rollout
        time.sleep(0.1)
    states = list(rollout.targets.values_list("instance__slug", "state"))
    raise AssertionError(f"rollout {rollout.pk} still {rollout.state} after {seconds} s: {states}")


def _target(rollout: Rollout, slug: str) -> RolloutTarget:
    return RolloutTarget.objects.select_related("operation").get(
        rollout=rollout, instance__slug=slug
    )


def _states(rollout: Rollout) -> dict[str, str]:
    return dict(rollout.targets.values_list("instance__slug", "state"))


def test_a_rollout_upgrades_test_instances_before_any_customer(celery_worker, fleetsim, devops):
    # given the fleet on 6.9.1 and a started rollout of 6.10.0
    make_fleet(fleetsim)
    rollout = _rollout(devops)
    # when the beat task and then the driver run until it ends
    rollouts_advance.apply()
    rollout = _drive(rollout, lambda r: r.state not in (RolloutState.RUNNING,))
    # then it completed, every v1.0 instance runs 6.10.0, the v1.1 one was skipped
    assert rollout.state == RolloutState.COMPLETED, _states(rollout)
    states = _states(rollout)
    assert states.pop("rctest") == TargetState.SKIPPED
    assert set(states.values()) == {TargetState.DONE}
    for slug in states:
        assert fleetsim.get_instance(slug)["version"] == TO
    # test instances finished before any customer upgrade started, and each wave's
    # upgrades started after the previous wave's had all finished
    by_wave: dict[int, list[Operation]] = {}
    for target in rollout.targets.filter(state=TargetState.DONE).select_related("operation"):
        assert target.operation is not None
        by_wave.setdefault(target.wave.position, []).append(target.operation)
    assert sorted(by_wave) == [0, 1, 2, 3]
    for position in (1, 2, 3):
        previous_end = max(op.finished_at for op in by_wave[position - 1] if op.finished_at)
        first_start = min(op.started_at for op in by_wave[position] if op.started_at)
        assert previous_end < first_start, (
            f"wave {position} started before wave {position - 1} ended"
        )
    # the fleet-wide limit held throughout
    assert fleetsim.peak_deploys() <= 2
    assert rollout.waves.filter(finished_at__isnull=True).count() == 0


def test_a_failure_rolls_back_pauses_and_skip_then_resume_completes(
    celery_worker, fleetsim, devops
):
    # given prod-a (wave 1) on which the new release fails its health check
    make_fleet(fleetsim, prod_a="bad_release")
    rollout = _rollout(devops)
    # when the rollout runs
    rollout = _drive(rollout, lambda r: r.state != RolloutState.RUNNING)
    # then it paused on prod-a's failure, which was rolled back to the previous version
    assert rollout.state == RolloutState.PAUSED
    assert rollout.paused_reason.startswith("prod-a failed in 30 % of trials, 10 % of customers")
    failed = _target(rollout, "prod-a")
    assert failed.state == TargetState.FAILED
    assert failed.operation is not None
    assert failed.operation.state == OperationState.FAILED
    assert f"{FROM} was set back" in failed.error
    assert fleetsim.get_instance("prod-a")["version"] == FROM
    # and nothing of the next waves started
    for slug in ("trial-b", "prod-b", "prod-c"):
        assert _target(rollout, slug).state == TargetState.PENDING
    # when devops skips it with a reason and resumes
    rollout_target_skip(target=failed, actor=devops, reason="prod-a moves to v1.1 next week")
    rollout_resume(rollout=rollout, actor=devops)
    rollout = _drive(rollout, lambda r: r.state != RolloutState.RUNNING)
    # then the rollout completes without it
    assert rollout.state == RolloutState.COMPLETED
    assert _target(rollout, "prod-a").skip_reason == "prod-a moves to v1.1 next week"
    for slug in ("trial-b", "prod-b", "prod-c"):
        assert fleetsim.get_instance(slug)["version"] == TO


def test_retrying_a_failed_instance_after_the_fix_completes_the_rollout(
    celery_worker, fleetsim, devops
):
    # given dev (wave 0) fails the release
    make_fleet(fleetsim, dev="bad_release")
    rollout = _rollout(devops)
    rollout = _drive(rollout, lambda r: r.state != RolloutState.RUNNING)
    assert rollout.state == RolloutState.PAUSED
    assert rollout.paused_reason.startswith("dev failed in Test instances")
    # no customer upgrade was ever asked for
    customers = Operation.objects.exclude(instance__kind="internal")
    assert not customers.exists()
    # when the cause is fixed, dev retried, and the rollout resumed
    fleetsim.set_health("dev", "ok")
    first = _target(rollout, "dev").operation
    rollout_target_retry(target=_target(rollout, "dev"), actor=devops)
    rollout_resume(rollout=rollout, actor=devops)
    rollout = _drive(rollout, lambda r: r.state != RolloutState.RUNNING)
    # then dev got a second upgrade, and the rollout completed
    assert rollout.state == RolloutState.COMPLETED
    dev = _target(rollout, "dev")
    assert (dev.state, dev.attempts) == (TargetState.DONE, 1)
    assert dev.operation != first
    assert fleetsim.get_instance("dev")["version"] == TO


def test_abort_leaves_no_instance_mid_upgrade(celery_worker, fleetsim, devops):
    # given a rollout whose customer wave is under way
    make_fleet(fleetsim)
    rollout = _rollout(devops)
    rollout = _drive(
        rollout,
        lambda r: r.targets.filter(wave__position=1, state=TargetState.UPGRADING).exists(),
    )
    # when devops aborts it
    rollout_abort(rollout=rollout, actor=devops, reason="customer escalation")
    rollout = _drive(rollout, lambda r: r.state != RolloutState.ABORTING)
    # then it ended 'aborted' with no upgrade in flight and nothing new started
    assert rollout.state == RolloutState.ABORTED
    assert not Operation.objects.filter(state__in=ACTIVE_OPERATION_STATES).exists()
    for slug in ("trial-b", "prod-b", "prod-c"):
        target = _target(rollout, slug)
        assert (target.state, target.skip_reason, target.operation) == (
            TargetState.SKIPPED,
            ABORTED_SKIP,
            None,
        )
    # and every instance runs one whole version, the one its record says
    for instance in Instance.objects.exclude(slug="rctest"):
        vm = fleetsim.get_instance(instance.slug)
        assert vm["version"] in (FROM, TO)
        assert vm["metadata"]["sourcegraph-version"] == vm["version"]
    assert Release.objects.filter(version=TO).exists()


def test_a_rollout_and_single_upgrades_together_stay_within_the_fleet_limit(
    celery_worker, fleetsim, devops
):
    # given a started rollout, and two instances outside it that devops upgrades by hand
    make_fleet(fleetsim)
    rollout = _rollout(devops)
    extra = make_fleet_extra(fleetsim, ["solo-a", "solo-b"])
    rollout_advance(rollout_id=rollout.pk)
    singles = [
        upgrade_request(
            instance=instance, target=TO, actor=devops, stability_seconds=0.6, poll_seconds=0.1
        )[0]
        for instance in extra
    ]
    # when both run to the end
    rollout = _drive(rollout, lambda r: r.state != RolloutState.RUNNING)
    for operation in singles:
        operation.refresh_from_db()
        assert operation.state == OperationState.SUCCEEDED, operation.error
    # then everything is upgraded and never more than UPGRADE_CONCURRENCY (2) deployed at once
    assert rollout.state == RolloutState.COMPLETED
    assert Operation.objects.filter(state=OperationState.SUCCEEDED).count() == 9
    assert fleetsim.peak_deploys() <= 2


def test_the_rollout_advances_when_its_upgrades_end_without_the_beat(
    celery_worker, fleetsim, devops
):
    # given a started rollout that the driver ran once (the test instances were asked for)
    make_fleet(fleetsim)
    rollout = _rollout(devops)
    rollout_advance(rollout_id=rollout.pk)
    assert _target(rollout, "dev").state == TargetState.UPGRADING
    # when nothing but the worker runs (no beat, no driver call from here): the operations'
    # finished listener queues the driver each time an upgrade ends
    deadline = time.monotonic() + 90
    while rollout.state == RolloutState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.2)
        rollout.refresh_from_db()
    # then the rollout went through every wave to the end on its own
    assert rollout.state == RolloutState.COMPLETED, _states(rollout)
    for slug in ("dev", "demo", "trial-a", "trial-b", "prod-a", "prod-b", "prod-c"):
        assert fleetsim.get_instance(slug)["version"] == TO
    assert fleetsim.peak_deploys() <= 2


def test_two_rollouts_and_single_upgrades_at_once_stay_within_the_fleet_limit(
    celery_worker, fleetsim, devops
):
    # given two releases rolled out at once over the same fleet (one running rollout per
    # release is the model's rule; 6.11.0 is another line, so it supersedes nothing)
    make_fleet(fleetsim)
    first = _rollout(devops)
    newer = Release.objects.create(
        version="6.11.0", released_at=datetime(2026, 4, 2, 12, tzinfo=UTC)
    )
    second = rollout_start(
        rollout=rollout_create(
            release=newer, actor=devops, stability_seconds=0.6, deadline_seconds=4, poll_seconds=0.1
        ),
        actor=devops,
    )
    # and two instances outside both, which devops upgrades by hand meanwhile
    extra = make_fleet_extra(fleetsim, ["solo-a", "solo-b"])
    rollouts_advance.apply()
    singles = [
        upgrade_request(
            instance=instance,
            target="6.11.0",
            actor=devops,
            stability_seconds=0.6,
            poll_seconds=0.1,
        )[0]
        for instance in extra
    ]
    # when the beat's body runs until both rollouts ended
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rollouts_advance.apply()
        first.refresh_from_db()
        second.refresh_from_db()
        if RolloutState.RUNNING not in (first.state, second.state):
            break
        time.sleep(0.2)
    # then both completed and every v1.0 instance runs the newer release
    assert (first.state, second.state) == (RolloutState.COMPLETED, RolloutState.COMPLETED), (
        _states(first),
        _states(second),
    )
    for operation in singles:
        operation.refresh_from_db()
        assert operation.state == OperationState.SUCCEEDED, operation.error
    for instance in Instance.objects.exclude(slug="rctest"):
        assert fleetsim.get_instance(instance.slug)["version"] == "6.11.0", instance.slug
    # an instance the newer rollout reached first was skipped by the older one, saying why
    for target in first.targets.filter(state=TargetState.SKIPPED).exclude(instance__slug="rctest"):
        assert "is not newer than 6.11.0" in target.skip_reason
    # and never more than UPGRADE_CONCURRENCY (2) upgrades deployed at once, all together
    assert fleetsim.peak_deploys() <= 2
    upgrades = Operation.objects.filter(kind="upgrade", state=OperationState.SUCCEEDED)
    assert upgrades.count() >= 9  # 7 v1.0 instances to 6.11.0 (some via 6.10.0) + 2 singles
    assert set(upgrades.values_list("upgrade_slot", flat=True)) <= {1, 2}
