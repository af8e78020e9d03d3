"""The instance page's "Upgrade to…" and "Roll back" actions, and what the operation page
says while an upgrade waits for a slot. The worker side is in test_upgrades.py."""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse

from instances.choices import Architecture, OperationKind, OperationState
from instances.models import Instance, Operation
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_instance, make_operation, make_releases

PAGE = "/instances/acme-prod/"


def _instance(architecture: str = Architecture.V1_0, **fields: Any) -> Instance:
    make_releases(["5.8.0", "5.9.0", "5.10.0"])
    return make_instance(
        "acme-prod", observed_version="5.9.0", data_disk="data", architecture=architecture, **fields
    )


def _key(body: str, form: str) -> str:
    section = body[body.index(f'data-testid="{form}"') :]
    match = re.search(r'name="idempotency_key" value="([0-9a-f-]{36})"', section)
    assert match
    return match.group(1)


def test_devops_sees_only_newer_releases_and_ce_sees_no_actions(client_for, db):
    # given a v1.0 instance on 5.9.0 with releases 5.8.0, 5.9.0 and 5.10.0
    _instance()
    # when devops opens its page
    body = client_for("devops").get(PAGE).content.decode()
    # then the upgrade offers only the newer release, and a rollback asks for a reason
    upgrade_select = body.split('id="upgrade-target"', 1)[1].split("</select>", 1)[0]
    options = re.findall(r'<option value="([^"]+)"', upgrade_select)
    assert options == ["5.10.0"]
    assert 'data-testid="rollback-form"' in body
    assert 'name="reason" required' in body
    # and CE sees neither action
    ce_body = client_for("ce").get(PAGE).content.decode()
    assert 'data-testid="version-actions"' not in ce_body


def test_v1_1_instances_are_upgraded_once_their_cloud_sql_instance_is_recorded(client_for, db):
    # given a v1.1 instance without its Cloud SQL instance; when devops opens its page
    instance = _instance(architecture=Architecture.V1_1)
    body = client_for("devops").get(PAGE).content.decode()
    # then it says why instead of offering the form
    assert "acme-prod has no Cloud SQL instance recorded" in body
    assert 'data-testid="upgrade-form"' not in body
    # and once it is recorded the page offers the upgrade and names the backup
    Instance.objects.filter(pk=instance.pk).update(cloud_sql_instance="acme-pg")
    body = client_for("devops").get(PAGE).content.decode()
    assert 'data-testid="upgrade-form"' in body
    assert "acme-pg" in body


def test_upgrade_posts_one_audited_operation_and_shows_it(client_for, db):
    # given devops on the page
    instance = _instance()
    client = client_for("devops")
    key = _key(client.get(PAGE).content.decode(), "upgrade-form")
    url = reverse("instances:instance_upgrade", args=["acme-prod"])
    # when they upgrade to 5.10.0, twice (a double click)
    first = client.post(url, {"idempotency_key": key, "target": "5.10.0"})
    second = client.post(url, {"idempotency_key": key, "target": "5.10.0"})
    # then one operation exists, both answers lead to it, and it was audited
    operation = Operation.objects.get()
    assert operation.kind == OperationKind.UPGRADE
    assert operation.instance == instance
    assert operation.params["target"] == "5.10.0"
    assert operation.params["from"] == "5.9.0"
    assert first["Location"] == second["Location"] == f"/operations/{operation.pk}/"
    event = AuditEvent.objects.get(action="operation.upgrade.requested")
    assert event.after is not None
    assert event.after["params"]["target"] == "5.10.0"


def test_a_refused_upgrade_says_why_and_creates_nothing(client_for, db):
    # given devops on the page
    _instance()
    client = client_for("devops")
    url = reverse("instances:instance_upgrade", args=["acme-prod"])
    # when they post an older release
    response = client.post(url, {"target": "5.8.0"})
    # then the page comes back with the reason, and no operation exists
    assert response.status_code == 400
    assert "5.8.0 is not newer than 5.9.0" in response.content.decode()
    assert not Operation.objects.exists()


def test_a_rollback_needs_a_reason_and_keeps_what_was_typed(client_for, db):
    # given devops on the page of an instance never upgraded by MI Admin
    _instance()
    client = client_for("devops")
    url = reverse("instances:instance_rollback", args=["acme-prod"])
    # when they post without a reason
    blank = client.post(url, {"reason": "  "})
    # then they are told to give one
    assert blank.status_code == 400
    assert "Say why the instance is rolled back." in blank.content.decode()
    # when they give one, the refusal says why and the reason is still in the form
    refused = client.post(url, {"reason": "login broken since 5.9.0"})
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "No successful upgrade of acme-prod is recorded to undo." in body
    assert "login broken since 5.9.0</textarea>" in body
    assert not Operation.objects.exists()


def test_rollback_of_an_upgraded_instance_is_recorded_with_its_reason(client_for, db):
    # given an instance MI Admin upgraded from 5.8.0
    instance = _instance()
    make_operation(
        instance,
        kind=OperationKind.UPGRADE,
        state=OperationState.SUCCEEDED,
        result={"from": "5.8.0", "to": "5.9.0"},
    )
    # when devops rolls it back with a reason
    response = client_for("devops").post(
        reverse("instances:instance_rollback", args=["acme-prod"]),
        {"reason": "login broken since 5.9.0"},
    )
    # then a rollback to 5.8.0 is recorded with the reason
    rollback = Operation.objects.get(kind=OperationKind.ROLLBACK)
    assert response["Location"] == f"/operations/{rollback.pk}/"
    assert rollback.params["target"] == "5.8.0"
    assert rollback.params["reason"] == "login broken since 5.9.0"


def test_an_upgrade_waiting_for_a_slot_says_so(client_for, db):
    # given an upgrade deferred for want of a slot
    instance = _instance()
    operation = make_operation(instance, kind=OperationKind.UPGRADE, state=OperationState.PENDING)
    Operation.objects.filter(pk=operation.pk).update(
        waiting_for="a free upgrade slot (all 5 are taken)"
    )
    # when someone opens the operation page
    body = client_for("ce").get(f"/operations/{operation.pk}/").content.decode()
    # then it says what it waits for
    assert "Waiting for a free upgrade slot (all 5 are taken)" in body


def test_the_operation_page_shows_the_upgrades_health_checks(client_for, db):
    # given a finished upgrade with its health summary
    instance = _instance()
    probe = {
        "probes": 12,
        "healthy": 12,
        "first_at": "2026-12-02T05:00:00+00:00",
        "last_at": "2026-12-02T05:05:00+00:00",
        "latency_ms": {"min": 3, "max": 40, "avg": 9},
        "versions": ["5.10.0"],
        "last_error": "",
    }
    operation = make_operation(
        instance,
        kind=OperationKind.UPGRADE,
        state=OperationState.SUCCEEDED,
        result={"from": "5.9.0", "to": "5.10.0", "health": {"stability": probe}},
    )
    # when someone opens the operation page
    body = client_for("ce").get(f"/operations/{operation.pk}/").content.decode()
    # then the evidence is readable there
    assert 'data-testid="health-summary"' in body
    assert "Stability window" in body
    assert "12 of 12" in body
    assert "3 / 9 / 40" in body
    # (in the display zone, UTC by default, named: tests/ui/test_times.py)
    assert ">05:00:00 UTC</time> to <time" in body
    assert ">05:05:00 UTC</time>" in body
