"""The rollout's evidence: each upgrade with the verified test-instance upgrade of the same
release that preceded it, its snapshot and health summary; test instances first."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from django.utils import timezone

from instances.choices import OperationKind, OperationState
from instances.models import Instance, Operation
from rollouts.models import Rollout, RolloutTarget, TargetState
from rollouts.services import rollout_create
from tests.instances.factories import make_operation
from tests.rollouts.conftest import TO, make_fleet


def _upgrade(
    instance: Instance,
    *,
    start: datetime,
    seconds: int,
    target: str = TO,
    state: OperationState = OperationState.SUCCEEDED,
    backup: dict[str, str] | None = None,
) -> Operation:
    # Without ``backup``: the result as upgrades recorded it before the backup kinds.
    taken: dict[str, object] = (
        {"backup": backup} if backup else {"snapshot": f"mi-{instance.slug}-upgrade"}
    )
    return make_operation(
        instance,
        kind=OperationKind.UPGRADE,
        state=state,
        params={"target": target},
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
        error="" if state == OperationState.SUCCEEDED else "Upgrade failed: unhealthy",
        result={
            **taken,
            "health": {
                "stability": {"probes": 6, "healthy": 6, "latency_ms": {"min": 3, "max": 9}}
            },
        },
    )


def _attach(rollout: Rollout, operation: Operation) -> None:
    RolloutTarget.objects.filter(rollout=rollout, instance=operation.instance).update(
        operation=operation, state=TargetState.DONE
    )


def _evidence_fleet(release, devops) -> Rollout:
    """dev finished at t+10, demo at t+20 (both 6.10.0); demo also upgraded to another
    release at t+25; prod-a started at t+15, trial-a at t+30, prod-b at t+5."""
    fleet = make_fleet(None)
    rollout = rollout_create(release=release, actor=devops)
    t = timezone.now() - timedelta(hours=1)
    _attach(rollout, _upgrade(fleet["dev"], start=t, seconds=10))
    _attach(rollout, _upgrade(fleet["demo"], start=t + timedelta(seconds=5), seconds=15))
    _upgrade(fleet["demo"], start=t + timedelta(seconds=21), seconds=4, target="6.9.1")
    # a failed test-instance upgrade vouches for nothing
    _upgrade(fleet["dev"], start=t + timedelta(seconds=26), seconds=1, state=OperationState.FAILED)
    _attach(rollout, _upgrade(fleet["prod-b"], start=t + timedelta(seconds=5), seconds=30))
    snapshot = {"kind": "snapshot", "name": "mi-prod-a-upgrade"}
    _attach(
        rollout,
        _upgrade(fleet["prod-a"], start=t + timedelta(seconds=15), seconds=30, backup=snapshot),
    )
    cloud_sql = {"kind": "cloud_sql", "id": "4711", "instance": "trial-a-pg"}
    _attach(
        rollout,
        _upgrade(fleet["trial-a"], start=t + timedelta(seconds=30), seconds=30, backup=cloud_sql),
    )
    return rollout


def test_each_customer_upgrade_is_listed_with_the_test_upgrade_before_it(
    release, devops, client_for
) -> None:
    # given a rollout whose test and customer upgrades ran at known times
    rollout = _evidence_fleet(release, devops)
    # when a CE opens its report
    response = client_for("ce").get(f"/rollouts/{rollout.pk}/report/")
    # then the test instances come first, then each customer upgrade with the last
    # verified test upgrade of 6.10.0 that finished before it started
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r.target.instance.slug for r in rows][:2] == ["dev", "demo"]
    by_slug = {r.target.instance.slug: r for r in rows}
    assert set(by_slug) == {"dev", "demo", "prod-a", "prod-b", "trial-a"}
    assert by_slug["prod-a"].verified_on == "dev"
    assert by_slug["trial-a"].verified_on == "demo"  # not the later 6.9.1 one, nor the failed
    assert by_slug["prod-b"].verified_on == ""  # started before any test upgrade finished
    # the backup taken: a disk snapshot (v1.0) or a Cloud SQL backup (v1.1)
    assert by_slug["prod-a"].backup == "snapshot mi-prod-a-upgrade"
    assert by_slug["prod-b"].backup == "snapshot mi-prod-b-upgrade"
    assert by_slug["trial-a"].backup == "Cloud SQL backup 4711 of trial-a-pg"
    assert by_slug["prod-a"].health == "6 of 6 probes healthy; latency 3-9 ms"
    html = response.content.decode()
    assert html.index('data-instance="demo"') < html.index('data-instance="prod-b"')
    assert "none before it" in html
    assert "Cloud SQL backup 4711 of trial-a-pg" in html


def test_the_report_csv_lists_the_same_rows(release, devops, client_for) -> None:
    # given the same rollout
    rollout = _evidence_fleet(release, devops)
    # when devops downloads the CSV
    response = client_for("devops").get(f"/rollouts/{rollout.pk}/report.csv")
    # then it streams one row per upgrade, test instances first, with what vouched for each
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="rollout-{rollout.pk}-'
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["instance"] for r in rows][:2] == ["dev", "demo"]
    prod_a = next(r for r in rows if r["instance"] == "prod-a")
    assert (prod_a["verified_on"], prod_a["backup"]) == ("dev", "snapshot mi-prod-a-upgrade")
    trial_a = next(r for r in rows if r["instance"] == "trial-a")
    assert trial_a["backup"] == "Cloud SQL backup 4711 of trial-a-pg"
    assert prod_a["verified_at"]


def test_a_test_instance_moved_to_a_later_wave_is_still_listed_first(
    release, devops, client_for
) -> None:
    # given dev moved into the production wave of the plan
    rollout = _evidence_fleet(release, devops)
    RolloutTarget.objects.filter(rollout=rollout, instance__slug="dev").update(
        wave=rollout.waves.order_by("-position").first()
    )
    # when the report is read
    rows = client_for("ce").get(f"/rollouts/{rollout.pk}/report/").context["rows"]
    # then the test instances still lead
    assert [r.test_instance for r in rows] == [True, True, False, False, False]


def test_an_unknown_rollout_report_is_a_404(db, client_for) -> None:
    assert client_for("ce").get("/rollouts/999999/report/").status_code == 404
    assert client_for("ce").get("/rollouts/999999/report.csv").status_code == 404
