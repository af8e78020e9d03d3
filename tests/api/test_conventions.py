"""The API's conventions: problem+json errors, Idempotency-Key, throttling, CSRF on session
calls, cursor pagination, the schema and the docs from vendored assets."""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

from instances.choices import LifecycleState
from instances.models import Operation, Release
from mi_admin.api.models import IdempotencyRecord
from mi_admin.audit.models import AuditEvent
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance

PROBLEM = "application/problem+json"


@pytest.fixture
def devops_api(token_for, db):
    make_persona("devops")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_for('devops')}")


def _post(client, name, slug="acme-prod", body=None, key=""):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        reverse(f"instances_api:{name}", kwargs={"slug": slug}),
        data=json.dumps(body or {}),
        content_type="application/json",
        **headers,
    )


def test_unknown_url_and_wrong_method_are_problems(devops_api):
    # when a caller asks for a URL that does not exist, and GETs a POST-only endpoint
    missing = devops_api.get("/api/v1/no-such-thing/")
    make_instance("acme-prod")
    wrong = devops_api.get(reverse("instances_api:instance_sync", kwargs={"slug": "acme-prod"}))
    gone = devops_api.get(reverse("instances_api:instance_detail", kwargs={"slug": "nope"}))
    # then each is problem+json with its status
    for response, status in ((missing, 404), (wrong, 405), (gone, 404)):
        assert response.status_code == status
        assert response["Content-Type"] == PROBLEM
        assert response.json()["status"] == status
    assert gone.json()["detail"] == "No instance nope."


def test_validation_errors_name_the_fields(devops_api):
    # given an instance; when an upgrade is asked for without a target
    make_instance("acme-prod")
    response = _post(devops_api, "instance_upgrade", body={})
    # then 400 problem+json with the field's error
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:mi-admin:problem:validation"
    assert problem["errors"] == {"target": ["This field is required."]}


def test_a_bad_filter_is_a_problem_naming_it(devops_api):
    # when the fleet is filtered by a state that does not exist
    response = devops_api.get(reverse("instances_api:instance_list") + "?state=melted")
    # then 400, naming the filter
    assert response.status_code == 400
    assert "state" in response.json()["errors"]


def test_service_refusal_is_a_problem_with_its_sentence(devops_api):
    # given a suspended instance; when it is suspended again
    make_instance("acme-prod", state=LifecycleState.SUSPENDED)
    response = _post(devops_api, "instance_suspend", body={"reason": "cost"})
    # then the service's sentence is the detail
    assert response.status_code == 400
    assert "acme-prod" in response.json()["detail"]


def test_same_idempotency_key_and_body_replays_the_first_answer(devops_api):
    # given an instance and a release to go to
    make_instance("acme-prod", observed_version="6.9.0", cloud_sql_instance="acme-sql")
    Release.objects.create(version="6.10.0", released_at="2026-03-05T12:00:00Z")
    body = {"target": "6.10.0"}
    # when the same upgrade is sent twice with one key
    first = _post(devops_api, "instance_upgrade", body=body, key="k-1")
    second = _post(devops_api, "instance_upgrade", body=body, key="k-1")
    # then one operation; the second answer is the first, marked replayed
    assert first.status_code == 202, first.content
    assert second.status_code == 202
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert Operation.objects.count() == 1


def test_reused_key_with_another_body_is_refused(devops_api):
    # given a key already used for one upgrade
    make_instance("acme-prod", observed_version="6.9.0", cloud_sql_instance="acme-sql")
    Release.objects.create(version="6.10.0", released_at="2026-03-05T12:00:00Z")
    Release.objects.create(version="6.11.0", released_at="2026-04-05T12:00:00Z")
    assert (
        _post(devops_api, "instance_upgrade", body={"target": "6.10.0"}, key="k").status_code == 202
    )
    # when it is sent with another body
    response = _post(devops_api, "instance_upgrade", body={"target": "6.11.0"}, key="k")
    # then 422, and no second operation
    assert response.status_code == 422
    assert response["Content-Type"] == PROBLEM
    assert Operation.objects.count() == 1


def test_key_still_being_answered_is_a_conflict(devops_api):
    # given a request with key "busy" under way (recorded, not answered yet)
    make_instance("acme-prod")
    first = _post(devops_api, "instance_sync", key="busy")
    assert first.status_code == 202
    IdempotencyRecord.objects.filter(key="busy").update(state="in_progress", status=None)
    # when the same request comes again
    response = _post(devops_api, "instance_sync", key="busy")
    # then 409 with Retry-After, nothing new
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert Operation.objects.count() == 1


def test_keys_are_per_caller(token_for, devops_api):
    # given devops used key "k" for a sync
    make_instance("acme-prod")
    make_persona("admin")
    admin_api = Client(HTTP_AUTHORIZATION=f"Bearer {token_for('admin')}")
    assert _post(devops_api, "instance_sync", key="k").status_code == 202
    # when admin uses the same key for a suspension
    response = _post(admin_api, "instance_suspend", body={"reason": "x"}, key="k")
    # then it is admin's own key: not a replay of devops' answer
    assert "Idempotent-Replayed" not in response
    assert IdempotencyRecord.objects.filter(key="k").count() == 2


def test_the_database_refuses_a_second_record_of_one_key(db):
    # given a record of (subject 1, key k)
    IdempotencyRecord.objects.create(subject="1", key="k", method="POST", path="/", fingerprint="a")
    # when another is written for the same pair, then the database refuses it
    with pytest.raises(IntegrityError):
        IdempotencyRecord.objects.create(
            subject="1", key="k", method="POST", path="/", fingerprint="b"
        )


def test_throttled_caller_gets_429_with_retry_after(devops_api, settings):
    # given a rate of 2 calls a minute
    settings.API_THROTTLE_RATE = "2/min"
    url = reverse("instances_api:release_list")
    # when a third call comes within the minute
    statuses = [devops_api.get(url).status_code for _ in range(3)]
    response = devops_api.get(url)
    # then it is refused with how long to wait
    assert statuses == [200, 200, 429]
    assert response.status_code == 429
    assert response["Content-Type"] == PROBLEM
    assert int(response["Retry-After"]) > 0


def test_session_calls_need_the_csrf_token(db):
    # given a signed-in browser session that enforces CSRF
    make_instance("acme-prod")
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_persona("devops"))
    url = reverse("instances_api:instance_sync", kwargs={"slug": "acme-prod"})
    # when it posts without the token
    refused = client.post(url, content_type="application/json")
    # then 403 problem+json and no operation; with the token (as a page's script sends it) 202
    assert refused.status_code == 403
    assert refused["Content-Type"] == PROBLEM
    assert "CSRF" in refused.json()["detail"]
    assert Operation.objects.count() == 0
    client.get(reverse("instances_api:release_list"))  # any GET: Django sets the cookie
    csrf = client.cookies.get("mi_admin_csrftoken")
    if csrf is None:  # the cookie is set by pages that use the token
        client.get("/")
        csrf = client.cookies["mi_admin_csrftoken"]
    accepted = client.post(url, content_type="application/json", HTTP_X_CSRFTOKEN=csrf.value)
    assert accepted.status_code == 202, accepted.content
    event = AuditEvent.objects.filter(action__startswith="operation").order_by("-id").first()
    assert event is None or event.actor_label.startswith("devops")


def test_fleet_list_is_cursor_paginated_and_filtered(devops_api):
    # given five instances, two of them suspended
    for n in range(5):
        make_instance(
            f"inst-{n}", state=LifecycleState.SUSPENDED if n < 2 else LifecycleState.ACTIVE
        )
    url = reverse("instances_api:instance_list")
    # when pages of two are read by following `next`
    slugs, page = [], devops_api.get(url + "?page_size=2").json()
    while True:
        slugs += [row["slug"] for row in page["results"]]
        if not page["next"]:
            break
        page = devops_api.get(page["next"]).json()
    filtered = devops_api.get(url + "?state=suspended").json()["results"]
    # then every instance once, in slug order; the fleet page's filter applies
    assert slugs == [f"inst-{n}" for n in range(5)]
    assert [row["slug"] for row in filtered] == ["inst-0", "inst-1"]


def test_instance_detail_has_version_sla_and_health(devops_api):
    # given an instance behind the latest release
    make_instance("acme-prod", observed_version="6.9.0", cloud_sql_instance="acme-sql")
    Release.objects.create(version="6.9.0", released_at="2026-01-05T12:00:00Z")
    Release.objects.create(version="6.10.0", released_at="2026-03-05T12:00:00Z")
    # when its detail is read
    data = devops_api.get(
        reverse("instances_api:instance_detail", kwargs={"slug": "acme-prod"})
    ).json()
    # then it says where its version stands, its SLA and (from the health app) its health
    assert data["version"] == "6.9.0"
    assert data["version_position"]["state"] == "behind"
    assert data["version_position"]["latest"] == "6.10.0"
    assert data["version_sla"]["state"] in {"due", "overdue"}
    assert set(data["health"]) >= {"state", "uptime"}


def test_schema_and_docs_use_vendored_assets(devops_api, client_for):
    # when the schema and the docs are read
    schema = devops_api.get(reverse("api:schema") + "?format=json")
    docs = client_for("devops").get(reverse("api:docs"))
    # then the schema lists the endpoints; the docs load only our own static files
    assert schema.status_code == 200
    assert "/api/v1/instances/" in schema.json()["paths"]
    body = docs.content.decode()
    assert docs.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body
    assert "cdn" not in body.lower()
    assert "<script>" not in body  # the split view: no inline script under our CSP


def test_a_conflict_does_not_keep_the_key(devops_api):
    # given a suspension under way on the instance
    make_instance(
        "acme-prod", data_disk="acme-data", cloud_sql_instance="acme-sql", observed_version="6.9.0"
    )
    assert _post(devops_api, "instance_suspend", body={"reason": "cost"}).status_code == 202
    Release.objects.create(version="6.10.0", released_at="2026-03-05T12:00:00Z")
    # when an upgrade is refused as a conflict, under a key
    refused = _post(devops_api, "instance_upgrade", body={"target": "6.10.0"}, key="later")
    # then the key is not kept: the same request may be sent again once the way is clear
    assert refused.status_code == 409, refused.content
    assert refused["Content-Type"] == PROBLEM
    assert not IdempotencyRecord.objects.filter(key="later").exists()


def test_the_schema_generates_without_warnings(tmp_path):
    # when the OpenAPI document is generated, failing on any warning (two components of one
    # name, an enum name resolved by hash); then it is written
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/access/grants/" in target.read_text()
