"""The rollouts API: plan, read the status, start, pause, resume and abort, each with the
service's refusals; idempotent POSTs; the list's filters and cursor pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mi_admin.audit.models import AuditEvent
from rollouts.models import Rollout, RolloutState
from tests.fixtures.personas import make_persona
from tests.rollouts.conftest import make_fleet, make_releases

PROBLEM = "application/problem+json"


@pytest.fixture
def api(db: None, token_for: Callable[..., str]) -> Callable[[str], Client]:
    make_releases()
    make_fleet(None)

    def build(name: str) -> Client:
        make_persona(name)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(name)}")

    return build


def _post(client: Client, url: str, body: dict[str, Any] | None = None, key: str = "") -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **headers)


def _plan(client: Client, key: str = "", **body: Any) -> Any:
    return _post(client, reverse("rollouts_api:rollout_list"), {"version": "6.10.0", **body}, key)


def _act(client: Client, pk: int, verb: str, reason: str = "") -> Any:
    body = {"reason": reason} if reason else {}
    return _post(client, reverse(f"rollouts_api:rollout_{verb}", kwargs={"pk": pk}), body)


def _refusal(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    detail: str = response.json()["detail"]
    return detail


def test_devops_plans_a_rollout_and_reads_its_status(api):
    # given a DevOps engineer with a token and a fleet on 6.9.1
    devops = api("devops")
    # when they plan 6.10.0 with a failure budget of 1
    response = _plan(devops, failure_budget=1)
    # then 201: a planned rollout, where to read it, its waves and per-instance states
    assert response.status_code == 201, response.content
    rollout = Rollout.objects.get()
    assert response["Location"] == f"/api/v1/rollouts/{rollout.pk}/"
    body = response.json()
    assert body["release"] == "6.10.0"
    assert body["state"] == "planned"
    assert body["failure_budget"] == 1
    assert body["created_by"] == "devops"
    assert [w["position"] for w in body["waves"]] == [0, 1, 2, 3]
    test_wave = body["waves"][0]
    assert test_wave["name"] == "Test instances"
    states = {t["instance"]: t["state"] for t in test_wave["targets"]}
    assert states == {"demo": "pending", "dev": "pending", "rctest": "skipped"}
    assert test_wave["counts"] == {
        "pending": 2,
        "upgrading": 0,
        "done": 0,
        "failed": 0,
        "skipped": 1,
    }
    assert body["counts"]["pending"] == 7
    assert body["counts"]["skipped"] == 1
    # and the detail reads the same status
    detail = devops.get(response["Location"])
    assert detail.status_code == 200
    assert detail.json() == body
    # and the plan was audited with the caller
    event = AuditEvent.objects.get(action="rollout.planned")
    assert event.actor is not None
    assert event.actor.username == "devops"


def test_start_pause_resume_abort_and_their_refusals(api):
    # given a planned rollout
    devops = api("devops")
    pk = _plan(devops).json()["id"]
    # pause, resume: refused while planned, with the service's sentence
    assert _refusal(_act(devops, pk, "resume")) == (
        "Only a paused rollout can be resumed; this one is planned."
    )
    # when it is started
    started = _act(devops, pk, "start")
    # then it runs
    assert started.status_code == 200, started.content
    assert started.json()["state"] == "running"
    assert Rollout.objects.get(pk=pk).state == RolloutState.RUNNING
    # and a second start is refused
    assert _refusal(_act(devops, pk, "start")) == "This rollout is running."
    # pausing needs a reason
    assert _refusal(_act(devops, pk, "pause")) == "Say why the rollout is paused."
    paused = _act(devops, pk, "pause", reason="a bad metric")
    assert paused.status_code == 200
    assert paused.json()["state"] == "paused"
    assert paused.json()["paused_reason"] == "a bad metric"
    assert _refusal(_act(devops, pk, "pause", reason="again")) == (
        "Only a running rollout can be paused; this one is paused."
    )
    # resume
    resumed = _act(devops, pk, "resume")
    assert resumed.status_code == 200
    assert resumed.json()["state"] == "running"
    # abort needs a reason, then nothing in flight: it ends aborted
    assert _refusal(_act(devops, pk, "abort")) == "Say why the rollout is aborted."
    aborted = _act(devops, pk, "abort", reason="wrong release")
    assert aborted.status_code == 200
    assert aborted.json()["state"] == "aborted"
    assert _refusal(_act(devops, pk, "abort", reason="again")) == "This rollout is aborted."
    # then each action was audited once
    actions = list(
        AuditEvent.objects.filter(action__startswith="rollout.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions[:5] == [
        "rollout.planned",
        "rollout.started",
        "rollout.paused",
        "rollout.resumed",
        "rollout.abort_requested",
    ]


def test_a_manager_may_read_but_not_start(api):
    # given a planned rollout and a Manager
    pk = _plan(api("devops")).json()["id"]
    manager = api("manager")
    # when the manager starts it
    response = _act(manager, pk, "start")
    # then 403 and nothing changed; reading is allowed
    _refusal(response, 403)
    assert Rollout.objects.get(pk=pk).state == RolloutState.PLANNED
    assert manager.get(reverse("rollouts_api:rollout_detail", kwargs={"pk": pk})).status_code == 200


def test_unknown_release_and_rollout_are_clear_errors(api):
    devops = api("devops")
    assert _refusal(_plan(devops, version="9.9.9")) == "No release 9.9.9 is registered."
    assert "failure_budget" in _refusal(_plan(devops, failure_budget=-1))
    assert not Rollout.objects.exists()
    missing = devops.get(reverse("rollouts_api:rollout_detail", kwargs={"pk": 999}))
    assert "No rollout #999." in _refusal(missing, 404)
    assert "No rollout #999." in _refusal(_act(devops, 999, "start"), 404)


def test_the_same_idempotency_key_plans_once(api):
    # given a DevOps engineer
    devops = api("devops")
    # when the plan is sent twice with one key
    first = _plan(devops, key="plan-1")
    second = _plan(devops, key="plan-1")
    # then one rollout, and the second answer is the first replayed
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Rollout.objects.count() == 1
    assert AuditEvent.objects.filter(action="rollout.planned").count() == 1


def test_the_list_filters_and_pages(api):
    # given two planned rollouts and one started
    devops = api("devops")
    first = _plan(devops).json()["id"]
    second = _plan(devops).json()["id"]
    _act(devops, first, "start")
    url = reverse("rollouts_api:rollout_list")
    # when the list is read a page of one at a time
    page = devops.get(url, {"page_size": 1}).json()
    # then newest first, with counts, and a cursor to the next
    assert [r["id"] for r in page["results"]] == [second]
    assert page["results"][0]["target_count"] == 8
    rest = devops.get(page["next"]).json()
    assert [r["id"] for r in rest["results"]] == [first]
    # and the page's filters apply
    running = devops.get(url, {"state": "running"}).json()["results"]
    assert [r["id"] for r in running] == [first]
    other = devops.get(url, {"release": "6.8.0"}).json()["results"]
    assert other == []
