"""A patch release mid-rollout restarts the stages (the seed's rule), with a real worker and
the simulator: the running rollout stops starting upgrades, lets the ones under way finish,
ends 'superseded' naming the patch, and a rollout of the patch starts from wave 0 with its
schedule counted from the patch's date."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from instances.choices import OperationState
from instances.models import Operation, Release
from instances.services.releases import release_create
from mi_admin.audit.models import AuditEvent
from mi_admin.sla import add_working_days, work_calendar_from_settings
from rollouts.models import Rollout, RolloutState, RolloutTarget, TargetState
from rollouts.services import rollout_advance, rollout_create, rollout_start, rollouts_advance_all
from tests.rollouts.conftest import TO, make_fleet, make_releases

pytestmark = pytest.mark.django_db(transaction=True)

PATCH = "6.10.1"


def _patch_time() -> datetime:
    """A release time at most a minute ago whose working day 0 has begun (on a weekend, the
    Friday before), so the patch's wave 0 may start now and its customer wave (day 3) not."""
    calendar = work_calendar_from_settings()
    now = timezone.now()
    moment = now - timedelta(minutes=1)
    while add_working_days(moment, 0, calendar=calendar) > now:
        moment -= timedelta(days=1)
    return moment


def _wait(rollout: Rollout, until: Callable[[Rollout], bool], seconds: float = 90) -> Rollout:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rollouts_advance_all()
        rollout.refresh_from_db()
        if until(rollout):
            return rollout
        time.sleep(0.1)
    states = list(rollout.targets.values_list("instance__slug", "state"))
    raise AssertionError(f"rollout {rollout.pk} still {rollout.state}: {states}")


def test_a_patch_release_mid_rollout_restarts_the_stages(celery_worker, fleetsim, devops):
    # given a rollout of 6.10.0 whose first customer wave is under way
    make_fleet(fleetsim)
    old = rollout_create(
        release=make_releases(),
        actor=devops,
        failure_budget=1,
        stability_seconds=1.5,
        deadline_seconds=6,
        poll_seconds=0.1,
    )
    old = rollout_start(rollout=old, actor=devops)
    old = _wait(
        old,
        lambda r: r.targets.filter(wave__position=1, state=TargetState.UPGRADING).exists(),
    )
    in_flight = list(
        RolloutTarget.objects.filter(rollout=old, state=TargetState.UPGRADING).values_list(
            "operation_id", flat=True
        )
    )
    # when the patch release 6.10.1 is recorded (as the admin form or a command does)
    patch = release_create(version=PATCH, kind="patch", released_at=_patch_time())
    # then the old rollout starts nothing new at once (the release hook, after the commit)
    old.refresh_from_db()
    assert old.state in (RolloutState.SUPERSEDING, RolloutState.SUPERSEDED)
    assert old.superseded_by == patch
    for slug in ("trial-b", "prod-b", "prod-c"):
        target = RolloutTarget.objects.get(rollout=old, instance__slug=slug)
        assert (target.state, target.operation) == (TargetState.SKIPPED, None)
        assert target.skip_reason == f"Superseded by {PATCH} before this instance started."
    # the upgrades under way finish (not cancelled), and it ends 'superseded'
    old = _wait(old, lambda r: r.state != RolloutState.SUPERSEDING)
    assert old.state == RolloutState.SUPERSEDED
    for operation in Operation.objects.filter(pk__in=in_flight).select_related("instance"):
        assert operation.state == OperationState.SUCCEEDED, operation.error
        assert operation.instance is not None
        assert fleetsim.get_instance(operation.instance.slug)["version"] == TO
    # a rollout of the patch restarted the stages from wave 0, counted from the patch's date
    new = Rollout.objects.get(release=patch)
    assert new.restarted_from == old
    assert new.state == RolloutState.RUNNING  # the old one ran, so the new one runs
    assert (new.failure_budget, new.stability_seconds) == (1, 1.5)
    waves = list(new.waves.order_by("position"))
    assert [w.name for w in waves] == ["Test instances", "Everyone"]
    calendar = work_calendar_from_settings()
    assert waves[0].earliest_start == add_working_days(patch.released_at, 0, calendar=calendar)
    assert waves[1].earliest_start == add_working_days(patch.released_at, 3, calendar=calendar)
    assert sorted(waves[0].targets.values_list("instance__slug", flat=True)) == [
        "demo",
        "dev",
        "rctest",
    ]
    # and its test instances go first: they reach the patch, no customer upgrade starts
    # before the patch's customer stage (3 working days on)
    new = _wait(new, lambda r: r.waves.get(position=0).finished_at is not None)
    for slug in ("dev", "demo"):
        assert fleetsim.get_instance(slug)["version"] == PATCH
    rollout_advance(rollout_id=new.pk)
    assert not Operation.objects.filter(params__target=PATCH, instance__kind="trial").exists()
    assert not Operation.objects.filter(params__target=PATCH, instance__kind="production").exists()
    # audited: superseding, superseded (by the patch), and the new plan restarted from it
    superseded = AuditEvent.objects.get(action="rollout.superseded", object_id=str(old.pk))
    assert superseded.after is not None
    assert superseded.after["superseded_by"] == PATCH
    planned = AuditEvent.objects.get(action="rollout.planned", object_id=str(new.pk))
    assert planned.after is not None
    assert planned.after["restarted_from"] == old.pk


def test_the_beat_sweep_supersedes_when_the_release_hook_was_lost(db, devops) -> None:
    # given a running rollout of 6.10.0 and a patch recorded without the hook (a raw insert,
    # as if the process died right after the commit)
    make_fleet(None)
    old = rollout_start(rollout=rollout_create(release=make_releases(), actor=devops), actor=devops)
    patch = Release.objects.bulk_create(
        [Release(version=PATCH, kind="patch", released_at=timezone.now())]
    )[0]
    old.refresh_from_db()
    assert old.state == RolloutState.RUNNING
    # when the beat's body runs
    rollouts_advance_all()
    # then it superseded the old rollout (nothing was in flight: it ended at once) and
    # started the patch's; a second run changes nothing
    old.refresh_from_db()
    assert (old.state, old.superseded_by) == (RolloutState.SUPERSEDED, patch)
    rollouts_advance_all()
    assert Rollout.objects.filter(release=patch).count() == 1


def test_a_release_of_another_line_or_an_older_one_supersedes_nothing(db, devops) -> None:
    make_fleet(None)
    rollout = rollout_start(
        rollout=rollout_create(release=make_releases(), actor=devops), actor=devops
    )
    # a new monthly line and a patch of the previous line
    release_create(version="6.11.0", kind="monthly")
    release_create(version="6.9.2", kind="patch")
    rollouts_advance_all()
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.RUNNING
    assert rollout.superseded_by is None


def test_the_pages_say_superseded_by_which_release_and_link_the_restart(
    db, devops, client_for
) -> None:
    # given a rollout superseded by a patch through the sweep
    make_fleet(None)
    old = rollout_start(rollout=rollout_create(release=make_releases(), actor=devops), actor=devops)
    Release.objects.bulk_create([Release(version=PATCH, kind="patch", released_at=timezone.now())])
    rollouts_advance_all()
    new = Rollout.objects.get(release__version=PATCH)
    client = client_for("ce")
    # then the old rollout's page names the patch and links the rollout that restarted it
    page = client.get(f"/rollouts/{old.pk}/").content.decode()
    assert f"Superseded by patch release {PATCH}" in page
    assert f'href="/rollouts/{new.pk}/"' in page
    # and the new one's page links back
    page = client.get(f"/rollouts/{new.pk}/").content.decode()
    assert f'href="/rollouts/{old.pk}/"' in page
    assert "Restarts the stages of" in page
