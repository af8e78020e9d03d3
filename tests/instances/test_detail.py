"""One instance's page and its "Sync now"."""

from __future__ import annotations

import uuid

from django.urls import reverse

from instances.choices import (
    OperationKind,
    OperationState,
)
from instances.models import Operation
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import (
    make_operation,
)
from tests.instances.pages import sync_key


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
    key = sync_key(page)
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
