"""The rollout pages: plan then start, the live page and its partial, actions, the freeze."""

from __future__ import annotations

from instances.models import Operation
from mi_admin.audit.models import AuditEvent
from rollouts.models import FleetFreeze, Rollout, RolloutState, RolloutTarget, TargetState
from rollouts.services import rollout_advance
from tests.rollouts.conftest import make_fleet

PLAN = {"release": "6.10.0", "failure_budget": "0", "hold_seconds": "0"}


def test_devops_sees_the_plan_then_starts_it(release, client_for) -> None:
    # given the fleet and devops on the planning page
    make_fleet(None)
    client = client_for("devops")
    # when they choose the release
    page = client.get("/rollouts/new/", PLAN)
    # then the plan shows the waves, the skipped v1.1 instance and the late ones
    assert page.status_code == 200
    html = page.content.decode()
    assert "Wave 0: Test instances" in html
    assert "Skipped: rctest has no Cloud SQL instance recorded" in html
    assert "3 instances would be upgraded after their version-SLA deadline" in html
    assert not Rollout.objects.exists()  # showing a plan saves nothing
    # when they save it: planned, shown with its edit forms
    response = client.post("/rollouts/new/", PLAN)
    rollout = Rollout.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/rollouts/{rollout.pk}/"
    assert rollout.state == RolloutState.PLANNED
    detail = client.get(f"/rollouts/{rollout.pk}/").content.decode()
    assert 'data-testid="start-rollout"' in detail
    assert 'data-testid="wave-hold-form"' in detail
    # they move prod-c (late in wave 3) to wave 1 and set the test wave's hold
    prod_c = RolloutTarget.objects.get(rollout=rollout, instance__slug="prod-c")
    assert prod_c.late
    client.post(f"/rollouts/{rollout.pk}/plan/", {"target": prod_c.pk, "wave": 1})
    client.post(f"/rollouts/{rollout.pk}/plan/", {"wave": 0, "hold_seconds": 3600})
    prod_c.refresh_from_db()
    assert prod_c.wave.position == 1
    assert not prod_c.late
    assert rollout.waves.get(position=0).hold_seconds == 3600
    # a wave that does not exist is refused with the reason
    bad = client.post(
        f"/rollouts/{rollout.pk}/plan/", {"target": prod_c.pk, "wave": 9}, follow=True
    )
    assert "This rollout has no wave 9." in bad.content.decode()
    # then they start it
    client.post(f"/rollouts/{rollout.pk}/action/", {"action": "start"})
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.RUNNING
    assert {
        "rollout.planned",
        "rollout.target_moved",
        "rollout.wave_hold_set",
        "rollout.started",
    } <= set(AuditEvent.objects.values_list("action", flat=True))
    # the plan of a started rollout no longer changes
    late = client.post(
        f"/rollouts/{rollout.pk}/plan/", {"target": prod_c.pk, "wave": 3}, follow=True
    )
    assert "Only a planned rollout&#x27;s plan can be changed." in late.content.decode()
    # and a second rollout of the same release cannot start while this one runs
    client.post("/rollouts/new/", PLAN)
    second = Rollout.objects.exclude(pk=rollout.pk).get()
    again = client.post(f"/rollouts/{second.pk}/action/", {"action": "start"}, follow=True)
    assert "A rollout of 6.10.0 is already under way." in again.content.decode()


def test_an_unknown_release_is_a_clear_error(release, client_for) -> None:
    response = client_for("devops").get("/rollouts/new/", {**PLAN, "release": "9.9.9"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_live_page_polls_while_running_and_shows_targets(release, client_for) -> None:
    make_fleet(None)
    client = client_for("devops")
    client.post("/rollouts/new/", PLAN)
    rollout = Rollout.objects.get()
    client.post(f"/rollouts/{rollout.pk}/action/", {"action": "start"})
    rollout_advance(rollout_id=rollout.pk)
    # the partial htmx polls: the targets, their operations, and the polling trigger
    partial = client.get(f"/rollouts/{rollout.pk}/", HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert 'id="rollout-live"' in html
    assert "<html" not in html
    assert 'hx-trigger="every 2s"' in html
    dev_op = Operation.objects.get(instance__slug="dev")
    assert f"/operations/{dev_op.pk}/" in html
    assert html.count('data-testid="target-row"') == RolloutTarget.objects.count()
    # each wave not finished shows its projected window and the instances it makes late
    assert html.count('data-testid="wave-projection"') == 4
    assert "after their version-SLA deadline" in html
    # when devops pauses it without a reason: refused, still running
    response = client.post(f"/rollouts/{rollout.pk}/action/", {"action": "pause"}, follow=True)
    assert "Say why the rollout is paused." in response.content.decode()
    rollout.refresh_from_db()
    assert rollout.state == RolloutState.RUNNING
    # with a reason: paused, the reason shown, and the page stops polling
    client.post(f"/rollouts/{rollout.pk}/action/", {"action": "pause", "reason": "weekend"})
    rollout.refresh_from_db()
    assert (rollout.state, rollout.paused_reason) == (RolloutState.PAUSED, "weekend")
    paused = client.get(f"/rollouts/{rollout.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Paused: weekend" in paused
    assert "hx-trigger" not in paused
    # a pending target is skipped from the page, with its reason
    target = RolloutTarget.objects.get(rollout=rollout, instance__slug="prod-c")
    client.post(
        f"/rollouts/{rollout.pk}/targets/{target.pk}/",
        {"action": "skip", "reason": "customer freeze"},
    )
    target.refresh_from_db()
    assert (target.state, target.skip_reason) == (TargetState.SKIPPED, "customer freeze")
    # and the list shows the rollout
    listing = client.get("/rollouts/").content.decode()
    assert f"/rollouts/{rollout.pk}/" in listing


def test_an_admin_freezes_and_lifts_from_the_list(client_for) -> None:
    client = client_for("admin")
    refused = client.post("/rollouts/freeze/", {"action": "freeze"}, follow=True)
    assert "Say why the fleet is frozen." in refused.content.decode()
    client.post("/rollouts/freeze/", {"action": "freeze", "reason": "incident 42"})
    assert FleetFreeze.objects.get().active
    assert "incident 42" in client.get("/rollouts/").content.decode()
    client.post("/rollouts/freeze/", {"action": "lift"})
    assert not FleetFreeze.objects.get().active
