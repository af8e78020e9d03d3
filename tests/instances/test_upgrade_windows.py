"""Upgrades asked for "only inside the maintenance window": held while the instance's weekly
window is closed (no slot, no step), started when it opens; instances without a window are
not held. A real worker and the simulator for the flow; the gate itself on rows."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from django.utils import timezone

from fleetsim.client import FleetSimClient
from instances.choices import Architecture, LifecycleState, OperationKind, OperationState
from instances.models import Customer, Instance, Operation, Release
from instances.runners.upgrade import PRECHECK
from instances.services.operations import OperationDeferred, operation_claim, operation_create
from instances.services.upgrades import WINDOW_WAIT, upgrade_request, upgrade_window_wait
from instances.windows import days_mask

FROM, TO = "6.9.1", "6.10.0"


def _instance(sim: FleetSimClient, slug: str = "acme-prod", **fields: Any) -> Instance:
    for i, version in enumerate([FROM, TO]):
        Release.objects.get_or_create(
            version=version, defaults={"released_at": f"2026-0{i + 1}-05T12:00:00Z"}
        )
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    instance = Instance.objects.create(
        customer=customer,
        slug=slug,
        url=sim.instance_url(slug),
        kind="production",
        architecture=Architecture.V1_0,
        state=LifecycleState.ACTIVE,
        gcp_project=f"sourcegraph-managed-{slug}",
        data_disk="default-red-data-disk",
        observed_version=FROM,
        **fields,
    )
    sim.upsert_instances(
        [{"slug": slug, "project": instance.gcp_project, "version": FROM, "reconcile_delay": 0.3}]
    )
    return instance


def _window_from(opening: dt.datetime, minutes: int = 10) -> dict[str, Any]:
    utc = opening.astimezone(dt.UTC)
    return {
        "maintenance_days": days_mask({utc.weekday()}),
        "maintenance_start": utc.time().replace(microsecond=0),
        "maintenance_minutes": minutes,
    }


def _upgrade(instance: Instance, actor: Any) -> Operation:
    operation, _ = upgrade_request(
        instance=instance,
        target=TO,
        actor=actor,
        stability_seconds=0.5,
        deadline_seconds=30,
        poll_seconds=0.2,
        maintenance_window_only=True,
    )
    return operation


def _poll(what: str, check: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_an_upgrade_outside_its_window_waits_and_starts_when_it_opens(
    celery_worker, fleetsim, devops
):
    # given an instance whose window opens a few seconds from now
    opening = (timezone.now() + dt.timedelta(seconds=6)).replace(microsecond=0)
    instance = _instance(fleetsim, **_window_from(opening))
    # when an upgrade is asked for only inside maintenance windows
    operation = _upgrade(instance, devops)
    assert operation.params["maintenance_window_only"] is True

    # then it waits, pending, saying for what, holding no slot and having done nothing
    def waiting() -> Operation | None:
        operation.refresh_from_db()
        return operation if operation.waiting_for.startswith(WINDOW_WAIT) else None

    held = _poll("the upgrade to wait for the window", waiting)
    assert held.state == OperationState.PENDING
    assert f"opens {opening:%H:%M:%S} UTC" in held.waiting_for
    assert held.upgrade_slot is None
    assert not held.steps.exists()
    assert fleetsim.calls("compute.instances.setMetadata") == 0

    # and once the window opens it runs and succeeds, never having started before it opened
    def finished() -> Operation | None:
        operation.refresh_from_db()
        return operation if operation.finished_at is not None else None

    done = _poll("the upgrade to finish", finished)
    assert done.state == OperationState.SUCCEEDED, done.error
    assert done.waiting_for == ""
    first = done.steps.order_by("position").first()
    assert first is not None
    assert first.name == PRECHECK
    assert first.started_at >= opening
    assert fleetsim.get_instance(instance.slug)["version"] == TO


def _claimed(instance: Instance, actor: Any, *, window_only: bool = True) -> Operation:
    operation, _ = operation_create(
        kind=OperationKind.UPGRADE,
        actor=actor,
        instance=instance,
        params={"target": TO, "maintenance_window_only": window_only},
        enqueue=lambda *_: None,
    )
    claimed = operation_claim(operation_id=operation.pk)
    assert claimed is not None
    return claimed


@pytest.mark.django_db
def test_the_window_gate(fleetsim, devops):
    now = timezone.now()
    # an instance without a window is not held
    bare = _instance(fleetsim, "bare-prod")
    upgrade_window_wait(operation=_claimed(bare, devops), instance=bare)
    # an open window lets it through
    open_now = _instance(fleetsim, "open-prod", **_window_from(now - dt.timedelta(minutes=1)))
    upgrade_window_wait(operation=_claimed(open_now, devops), instance=open_now)
    # a closed window holds it (unless the upgrade did not ask for windows), and gives back a
    # slot taken before, asking again at the opening
    later = now + dt.timedelta(hours=2)
    closed = _instance(fleetsim, "closed-prod", **_window_from(later))
    upgrade_window_wait(operation=_claimed(closed, devops, window_only=False), instance=closed)
    Operation.objects.filter(instance=closed).update(state=OperationState.CANCELLED)
    operation = _claimed(closed, devops)
    Operation.objects.filter(pk=operation.pk).update(upgrade_slot=1)
    operation.refresh_from_db()
    with pytest.raises(OperationDeferred) as deferred:
        upgrade_window_wait(operation=operation, instance=closed)
    assert str(deferred.value).startswith(f"{WINDOW_WAIT} (opens ")
    assert deferred.value.seconds == 300  # re-read at least every 5 minutes
    operation.refresh_from_db()
    assert operation.upgrade_slot is None
    # a window opening sooner is asked again right at its opening
    soon = _instance(fleetsim, "soon-prod", **_window_from(now + dt.timedelta(seconds=30)))
    with pytest.raises(OperationDeferred) as soon_deferred:
        upgrade_window_wait(operation=_claimed(soon, devops), instance=soon)
    assert 0 < soon_deferred.value.seconds <= 31
