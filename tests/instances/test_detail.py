"""One instance's page, "Sync now", the operation page and its live step log, the list of
operations, the dashboard's fleet summary, and the Django admin pages of the fleet."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from instances.choices import (
    Drift,
    LifecycleState,
    NetworkAccess,
    OperationKind,
    OperationState,
    StepState,
)
from instances.models import Operation
from instances.services.operations import operation_finish
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import (
    make_fleet,
    make_instance,
    make_operation,
    make_releases,
)


@pytest.fixture
def acme(db):
    make_releases()
    return make_instance(
        "acme-prod",
        network_access=NetworkAccess.ALLOWLIST,
        allowed_cidrs=["203.0.113.0/24", "198.51.100.7/32"],
        gcp_project="mi-acme-prod",
        gcp_zone="europe-west1-b",
        vm_name="acme-vm",
        data_disk="acme-data",
        machine_type="n2-standard-16",
        vm_machine_type="n2-standard-8",
        vm_status="TERMINATED",
        vm_internal_ip="10.0.0.5",
        desired_version="5.9.0",
        observed_version="5.8.0",
        vm_version="5.8.0",
        drift=Drift.VM_STOPPED,
        drift_detail="VM is TERMINATED while the instance is active.",
    )


def _sync_key(body: str) -> str:
    match = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', body)
    assert match, "the Sync form carries an idempotency key"
    return match.group(1)


def test_detail_page_shows_every_fact(client_for, acme):
    # given an allowlisted, drifting instance; when CE opens its page
    response = client_for("ce").get(reverse("instances:instance_detail", args=["acme-prod"]))
    body = response.content.decode()
    # then it shows what we intend, what GCP said, and the versions in words
    assert response.status_code == 200
    for fact in (
        "Acme",
        "Production",
        "v1.1 (VM + Cloud SQL)",
        "Small",
        "Active",
        "General",
        "IP allowlist",
        "203.0.113.0/24",
        "198.51.100.7/32",
        "mi-acme-prod",
        "europe-west1-b",
        "acme-vm",
        "acme-data",
        "n2-standard-16",
        "TERMINATED",
        "10.0.0.5",
        "differs from n2-standard-16",
        "VM stopped while the instance is active",
        "VM is TERMINATED while the instance is active.",
        "behind by 1",
        "(latest 5.9.0)",
        "never synced",
    ):
        assert fact in body, fact
    assert 'data-testid="gcp-state"' in body


def test_detail_lists_recent_operations_with_links(client_for, acme, devops):
    # given 25 past operations on the instance
    for _ in range(25):
        make_operation(acme, state=OperationState.SUCCEEDED, actor=devops)
    newest = Operation.objects.order_by("-pk").first()
    assert newest is not None
    # when devops opens the page
    body = client_for("devops").get(f"/instances/{acme.slug}/").content.decode()
    # then the last 20 are listed, each linking to its page
    assert body.count('data-testid="operation-row"') == 20
    assert f'href="/operations/{newest.pk}/"' in body


def test_unknown_instance_is_404(client_for, db):
    assert client_for("devops").get("/instances/nope/").status_code == 404


def test_sync_now_twice_with_the_same_key_makes_one_operation(client_for, acme):
    # given devops on the instance page, which offers Sync now with a fresh key
    client = client_for("devops")
    page = client.get(f"/instances/{acme.slug}/").content.decode()
    assert 'data-testid="sync-now"' in page
    key = _sync_key(page)
    url = reverse("instances:instance_sync", args=[acme.slug])
    # when the form is posted twice (a double click)
    first = client.post(url, {"idempotency_key": key})
    second = client.post(url, {"idempotency_key": key})
    # then one operation exists, both answers lead to it, and its request is audited
    operation = Operation.objects.get(kind=OperationKind.SYNC, instance=acme)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/operations/{operation.pk}/"
    assert operation.actor is not None
    assert operation.actor.username == "devops"
    assert operation.state == OperationState.PENDING
    event = AuditEvent.objects.get(action="operation.sync.requested")
    assert event.object_id == str(operation.pk)
    assert event.actor_label == "devops"
    # and the operation page confirms it once
    followed = client.get(first["Location"]).content.decode()
    assert "Inventory sync of acme-prod queued" in followed


def test_a_new_key_while_a_sync_runs_gives_the_running_one(client_for, acme):
    # given a sync already running on the instance
    running = make_operation(acme, state=OperationState.RUNNING)
    # when devops asks again from a freshly rendered page
    response = client_for("devops").post(
        f"/instances/{acme.slug}/sync/", {"idempotency_key": str(uuid.uuid4())}
    )
    # then no second sync is queued; the page of the running one opens
    assert response["Location"] == f"/operations/{running.pk}/"
    assert Operation.objects.filter(instance=acme).count() == 1


def test_sync_refuses_a_malformed_key(client_for, acme):
    response = client_for("devops").post(
        f"/instances/{acme.slug}/sync/", {"idempotency_key": "not-a-uuid"}
    )
    assert response.status_code == 400
    assert not Operation.objects.exists()


def test_ce_sees_no_sync_button_and_may_not_post(client_for, acme):
    # given CE
    client = client_for("ce")
    # when they open the instance page and the fleet list
    page = client.get(f"/instances/{acme.slug}/").content.decode()
    fleet = client.get("/instances/").content.decode()
    # then neither offers a sync
    assert 'data-testid="sync-now"' not in page
    assert "Sync now" not in page
    assert 'data-testid="fleet-sync"' not in fleet
    # and posting anyway is refused, with nothing queued
    response = client.post(f"/instances/{acme.slug}/sync/", {"idempotency_key": str(uuid.uuid4())})
    assert response.status_code == 403
    assert client.post("/instances/sync/").status_code == 403
    assert not Operation.objects.exists()


def test_fleet_sync_is_one_operation_without_instance(client_for, db):
    # given admin on the fleet list, which offers a fleet-wide sync
    client = client_for("admin")
    key = _sync_key(client.get("/instances/").content.decode())
    # when it is posted twice
    first = client.post(reverse("instances:fleet_sync"), {"idempotency_key": key})
    client.post(reverse("instances:fleet_sync"), {"idempotency_key": key})
    # then one fleet-wide sync exists
    operation = Operation.objects.get()
    assert operation.instance is None
    assert operation.kind == OperationKind.SYNC
    assert first["Location"] == f"/operations/{operation.pk}/"
    assert "the whole fleet" in client.get(first["Location"]).content.decode()


def test_operation_page_shows_the_step_log(client_for, acme, devops):
    # given a running sync with one finished and one running step
    operation = make_operation(
        acme,
        state=OperationState.RUNNING,
        actor=devops,
        steps=[("Read the VM", StepState.DONE), ("Record the inventory", StepState.RUNNING)],
    )
    # when CE opens the operation page
    response = client_for("ce").get(reverse("instances:operation_detail", args=[operation.pk]))
    body = response.content.decode()
    # then state, actor and steps are there, in order, and the block polls itself
    assert response.status_code == 200
    assert "<html" in body
    assert "Inventory sync of acme-prod" in body
    assert f"<dd>{devops}</dd>" in body
    assert body.index("Read the VM") < body.index("Record the inventory")
    assert body.count('data-testid="step-row"') == 2
    assert 'hx-trigger="every 1s"' in body


def test_live_partial_stops_polling_once_terminal(client_for, acme):
    # given a running operation and devops watching it
    operation = make_operation(
        acme, state=OperationState.RUNNING, steps=[("Read the VM", StepState.RUNNING)]
    )
    client = client_for("devops")
    url = reverse("instances:operation_detail", args=[operation.pk])
    # when htmx polls while it runs
    running = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    # then the partial alone comes back, asking to be polled again
    assert "<html" not in running
    assert 'hx-trigger="every 1s"' in running
    assert f'hx-get="{url}"' in running
    # when the operation fails and htmx polls again
    operation_finish(operation=operation, state=OperationState.FAILED, error="GCP said 503")
    finished = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    # then the answer shows the outcome and carries no trigger: polling stops
    assert "hx-trigger" not in finished
    assert "hx-get" not in finished
    assert "Failed" in finished
    assert "GCP said 503" in finished


def test_unknown_operation_is_404(client_for, db):
    assert client_for("devops").get("/operations/999999999/").status_code == 404


def test_operation_list_filters(client_for, acme):
    # given syncs and an upgrade, on the instance and fleet-wide
    make_operation(acme, state=OperationState.SUCCEEDED)
    failed = make_operation(acme, kind=OperationKind.UPGRADE, state=OperationState.FAILED)
    make_operation(None, state=OperationState.SUCCEEDED)
    client = client_for("ce")

    def pks(params, **headers) -> list[int]:
        body = client.get(reverse("instances:operation_list"), params, **headers)
        return [int(pk) for pk in re.findall(r'href="/operations/(\d+)/">#', body.content.decode())]

    # then each filter narrows the list, newest first
    assert len(pks({})) == 3
    assert pks({"kind": "upgrade"}) == [failed.pk]
    assert pks({"state": "failed"}) == [failed.pk]
    assert len(pks({"instance": "acme"})) == 2
    assert len(pks({"instance": "fleet"})) == 1
    assert pks({"kind": "upgrade"}, HTTP_HX_REQUEST="true") == [failed.pk]
    # and a bad value is explained, not a 500
    bad = client.get(reverse("instances:operation_list"), {"state": "exploded"})
    assert bad.status_code == 400
    assert "exploded is not one of the available choices" in bad.content.decode()


def test_operation_list_is_paginated(client_for, db):
    # given 60 operations (one per instance of a fleet)
    make_fleet(60)
    # when listed
    body = client_for("devops").get(reverse("instances:operation_list")).content.decode()
    # then 50 are on the first page
    assert body.count('data-testid="operation-row"') == 50
    assert "Page 1 of 2" in body


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


@pytest.mark.parametrize(
    "url",
    [
        "/admin/instances/customer/",
        "/admin/instances/instance/",
        "/admin/instances/instance/?kind__exact=production&q=acme",
        "/admin/instances/release/",
        "/admin/instances/operation/",
    ],
)
def test_django_admin_lists_the_fleet(client_for, acme, url):
    # given an operation with steps; when an Admin opens the admin lists
    make_operation(acme, steps=[("Read the VM", StepState.DONE)])
    response = client_for("admin").get(url)
    # then they render
    assert response.status_code == 200


def test_django_admin_operation_is_read_only(client_for, acme):
    # given an operation with a step; when an Admin opens it in Django admin
    operation = make_operation(acme, steps=[("Read the VM", StepState.DONE)])
    body = client_for("admin").get(f"/admin/instances/operation/{operation.pk}/change/")
    # then it shows the step log with no way to save
    assert body.status_code == 200
    text = body.content.decode()
    assert "Read the VM" in text
    assert 'name="_save"' not in text
