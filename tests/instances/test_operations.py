"""The operation page and its live step log, the list of operations, and the fleet-wide sync."""

from __future__ import annotations

import re

from django.urls import reverse

from instances.choices import (
    OperationKind,
    OperationState,
    StepState,
)
from instances.models import Operation
from instances.services.operations import operation_finish
from tests.instances.factories import (
    make_fleet,
    make_operation,
)
from tests.instances.pages import sync_key


def test_fleet_sync_is_one_operation_without_instance(client_for, db):
    # given admin on the fleet list, which offers a fleet-wide sync
    client = client_for("admin")
    key = sync_key(client.get("/instances/").content.decode())
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
