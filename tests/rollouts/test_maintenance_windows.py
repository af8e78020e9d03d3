"""A rollout started "only inside maintenance windows": chosen when planning, shown, passed to
every upgrade it asks for, and the rollout page says what an upgrade waits for. (The wait
itself, with a worker, is tests/instances/test_upgrade_windows.py.)"""

from __future__ import annotations

from instances.choices import OperationKind
from instances.models import Operation
from mi_admin.audit.models import AuditEvent
from rollouts.models import Rollout
from rollouts.services import rollout_advance, rollout_create, rollout_start
from tests.rollouts.conftest import make_fleet

PLAN = {"release": "6.10.0", "failure_budget": "0", "hold_seconds": "0"}


def test_devops_plans_a_rollout_only_inside_windows_and_sees_it(release, client_for) -> None:
    make_fleet(None)
    client = client_for("devops")
    # the planning form offers the choice, off by default
    form = client.get("/rollouts/new/").content.decode()
    assert 'name="only_in_maintenance_windows"' in form
    # when devops shows the plan with it ticked, the plan says so and carries it to the save
    plan = {**PLAN, "only_in_maintenance_windows": "on"}
    html = client.get("/rollouts/new/", plan).content.decode()
    assert 'data-testid="plan-windows-only"' in html
    assert '<input type="hidden" name="only_in_maintenance_windows" value="on">' in html
    response = client.post("/rollouts/new/", plan)
    assert response.status_code == 302
    # then the rollout keeps it, the audit event says so, and its page shows it
    rollout = Rollout.objects.get()
    assert rollout.only_in_maintenance_windows is True
    event = AuditEvent.objects.get(action="rollout.planned")
    assert event.after is not None
    assert event.after["only_in_maintenance_windows"] is True
    page = client.get(f"/rollouts/{rollout.pk}/").content.decode()
    assert "only inside maintenance windows" in page


def test_a_rollout_without_the_choice_upgrades_any_time(release, client_for) -> None:
    make_fleet(None)
    client = client_for("devops")
    client.post("/rollouts/new/", PLAN)
    rollout = Rollout.objects.get()
    assert rollout.only_in_maintenance_windows is False
    assert "any time" in client.get(f"/rollouts/{rollout.pk}/").content.decode()


def test_the_choice_reaches_every_upgrade_and_the_wait_is_shown(
    release, devops, client_for
) -> None:
    make_fleet(None)
    rollout = rollout_create(release=release, actor=devops, only_in_maintenance_windows=True)
    rollout_start(rollout=rollout, actor=devops)
    # when the driver asks for the test instances' upgrades
    rollout_advance(rollout_id=rollout.pk)
    upgrades = Operation.objects.filter(kind=OperationKind.UPGRADE)
    assert upgrades.count() == 2
    assert all(op.params["maintenance_window_only"] is True for op in upgrades)
    # and while one waits for its window, the rollout page says so
    waiting = upgrades.get(instance__slug="dev")
    waiting.waiting_for = (
        "the maintenance window (opens Tue 8 Dec 02:00 UTC; Tue 02:00 UTC for 2 h)"
    )
    waiting.save(update_fields=["waiting_for"])
    html = client_for("ce").get(f"/rollouts/{rollout.pk}/").content.decode()
    assert "Waiting for the maintenance window (opens Tue 8 Dec 02:00 UTC" in html
