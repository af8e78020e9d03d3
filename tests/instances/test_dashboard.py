"""The dashboard's fleet summary."""

from __future__ import annotations

from instances.choices import (
    Drift,
    LifecycleState,
)
from tests.instances.factories import (
    make_fleet,
    make_instance,
)


def test_dashboard_counts_the_fleet_and_links_to_the_filtered_list(client_for, db):
    # given a fleet with drifting instances
    make_fleet(30)
    # when CE opens the dashboard
    body = client_for("ce").get("/").content.decode()
    # then it counts instances by state and drift, linking to the filtered list
    assert 'data-testid="fleet-summary"' in body
    assert "30</strong> instances" in body
    assert 'href="/instances/?state=active"' in body
    assert 'href="/instances/?drift=any"' in body
    assert "drifting" in body


def test_fleet_summary_counts(db):
    # given a known fleet
    from instances.selectors import fleet_summary

    make_instance("a-prod")
    make_instance("b-prod", drift=Drift.VM_MISSING)
    make_instance("c-prod", state=LifecycleState.SUSPENDED, drift=Drift.VM_RUNNING)
    # when summarised
    summary = fleet_summary()
    # then the counts are right and drift lists only kinds that occur
    assert summary.total == 3
    assert {t.value: t.count for t in summary.by_state}["active"] == 2
    assert {t.value: t.count for t in summary.by_drift} == {"vm_missing": 1, "vm_running": 1}
    assert summary.drifting == 2
