"""Changing a wave's share before start: the waves after it are re-planned, the rules hold
(0-100, shares add up, the last wave covers everyone), and every change is audited."""

from __future__ import annotations

import pytest

from instances.models import Release
from mi_admin.audit.models import AuditEvent
from rollouts.models import Rollout, RolloutState
from rollouts.services import RolloutError, rollout_create, rollout_start, rollout_wave_share_set
from tests.rollouts.conftest import make_fleet


def _waves(rollout: Rollout) -> list[list[str]]:
    return [
        list(w.targets.order_by("instance__slug").values_list("instance__slug", flat=True))
        for w in rollout.waves.order_by("position")
    ]


def _shares(rollout: Rollout) -> list[tuple[int, int]]:
    return [(w.trial_pct, w.production_pct) for w in rollout.waves.order_by("position")]


@pytest.fixture
def planned(release: Release, devops) -> Rollout:
    # the fleet: 3 test instances, trials a-b, production a-c; the staged shares
    make_fleet(None)
    return rollout_create(release=release, actor=devops)


def test_the_saved_plan_keeps_each_waves_cumulative_share(planned: Rollout) -> None:
    assert _shares(planned) == [(0, 0), (30, 10), (100, 40), (100, 100)]
    assert _waves(planned) == [
        ["demo", "dev", "rctest"],
        ["prod-a", "trial-a"],
        ["prod-b", "trial-b"],
        ["prod-c"],
    ]


def test_raising_a_waves_share_moves_instances_forward_from_the_waves_after_it(
    planned: Rollout, devops
) -> None:
    # when wave 1 takes 40 % of production (ceil(3 x 0.4) = 2) instead of 10 %
    wave1 = planned.waves.get(position=1)
    rollout_wave_share_set(wave=wave1, trial_pct=30, production_pct=40, actor=devops)
    # then prod-b moves from wave 2 into wave 1; wave 2 keeps trial-b; wave 3 keeps prod-c
    assert _waves(planned) == [
        ["demo", "dev", "rctest"],
        ["prod-a", "prod-b", "trial-a"],
        ["trial-b"],
        ["prod-c"],
    ]
    assert _shares(planned) == [(0, 0), (30, 40), (100, 40), (100, 100)]
    assert planned.waves.get(position=1).name == "30 % of trials, 40 % of customers"
    # and the change is audited with what moved
    event = AuditEvent.objects.get(action="rollout.wave_share_set")
    assert event.actor == devops
    assert event.after is not None
    assert event.after["wave"] == 1
    assert event.after["before"] == {"trial_pct": 30, "production_pct": 10}
    assert (event.after["trial_pct"], event.after["production_pct"]) == (30, 40)
    assert event.after["moved"] == {"prod-b": [2, 1]}


def test_a_share_above_a_later_wave_raises_it_and_lowering_gives_instances_back(
    planned: Rollout, devops
) -> None:
    # when wave 1 takes every trial and 70 % of production: wave 2 is raised to match
    wave1 = planned.waves.get(position=1)
    rollout_wave_share_set(wave=wave1, trial_pct=100, production_pct=70, actor=devops)
    assert _shares(planned) == [(0, 0), (100, 70), (100, 70), (100, 100)]
    assert _waves(planned) == [
        ["demo", "dev", "rctest"],
        ["prod-a", "prod-b", "prod-c", "trial-a", "trial-b"],
        [],
        [],
    ]
    # when it goes back to 0 % of both: wave 2 (100/70) deals them out again
    rollout_wave_share_set(wave=wave1, trial_pct=0, production_pct=0, actor=devops)
    assert _waves(planned) == [
        ["demo", "dev", "rctest"],
        [],
        ["prod-a", "prod-b", "prod-c", "trial-a", "trial-b"],
        [],
    ]
    # and every instance is still in exactly one wave
    assert sorted(slug for wave in _waves(planned) for slug in wave) == sorted(
        ["demo", "dev", "rctest", "trial-a", "trial-b", "prod-a", "prod-b", "prod-c"]
    )


@pytest.mark.parametrize(
    ("position", "trial", "production", "message"),
    [
        (1, 101, 10, "0 to 100"),
        (1, 30, -1, "0 to 100"),
        (3, 100, 90, "last wave must reach 100 %"),
        (0, 10, 10, "Wave 0 is the test instances"),
        (2, 20, 40, "cannot have less than the wave before it"),
    ],
)
def test_a_share_that_breaks_the_plan_is_refused_and_changes_nothing(
    planned: Rollout, devops, position: int, trial: int, production: int, message: str
) -> None:
    before = (_waves(planned), _shares(planned))
    wave = planned.waves.get(position=position)
    with pytest.raises(RolloutError, match=message):
        rollout_wave_share_set(wave=wave, trial_pct=trial, production_pct=production, actor=devops)
    assert (_waves(planned), _shares(planned)) == before
    assert not AuditEvent.objects.filter(action="rollout.wave_share_set").exists()


def test_the_share_of_a_started_rollout_cannot_change(planned: Rollout, devops) -> None:
    rollout_start(rollout=planned, actor=devops)
    wave1 = planned.waves.get(position=1)
    with pytest.raises(RolloutError, match="Only a planned rollout"):
        rollout_wave_share_set(wave=wave1, trial_pct=50, production_pct=50, actor=devops)
    assert planned.waves.get(position=1).production_pct == 10


def test_the_plan_page_shows_and_edits_shares_before_start(planned: Rollout, client_for) -> None:
    client = client_for("devops")
    # the planned rollout's page shows each wave's share and a form to change it
    page = client.get(f"/rollouts/{planned.pk}/").content.decode()
    assert "10 % of production" in page
    assert 'data-testid="wave-share-form"' in page
    # a change re-plans; a bad one says why and changes nothing
    response = client.post(
        f"/rollouts/{planned.pk}/plan/", {"wave": 1, "trial_pct": 30, "production_pct": 40}
    )
    assert response.status_code == 302
    assert planned.waves.get(position=1).production_pct == 40
    response = client.post(
        f"/rollouts/{planned.pk}/plan/",
        {"wave": 1, "trial_pct": 150, "production_pct": 40},
        follow=True,
    )
    assert "0 to 100" in response.content.decode()
    assert planned.waves.get(position=1).trial_pct == 30
    # CE may look but not change it
    assert (
        client_for("ce")
        .post(f"/rollouts/{planned.pk}/plan/", {"wave": 1, "trial_pct": 0, "production_pct": 0})
        .status_code
        == 403
    )
    assert Rollout.objects.get(pk=planned.pk).state == RolloutState.PLANNED
