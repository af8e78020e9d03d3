"""The requests API: file a request through the kind's intake form, read the queue (who sees
what, ``mine``, the queue's filters) and one request with its timeline and clocks, and act
on it as on its page, each with its refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from instances.choices import LifecycleState
from mi_admin.audit.models import AuditEvent
from mi_requests.models import CustomerRequest
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance
from tests.mi_requests.factories import make_request

PROBLEM = "application/problem+json"
LIST = "/api/v1/requests/"


@pytest.fixture
def api(db: None, token_for: Callable[..., str]) -> Callable[[str], Client]:
    make_instance("acme-prod")
    make_instance("globex-test", state=LifecycleState.SUSPENDED)

    def build(name: str) -> Client:
        make_persona(name)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(name)}")

    return build


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def _act(client: Client, pk: int, action: str, comment: str = "") -> Any:
    url = reverse("mi_requests_api:request_act", kwargs={"pk": pk})
    return _post(client, url, {"action": action, "comment": comment})


def _suspension(**overrides: Any) -> dict[str, Any]:
    back = (timezone.now() + timedelta(days=10)).date().isoformat()
    body = {
        "kind": "suspension",
        "instance": "acme-prod",
        "reason": "customer paused the project",
        "expected_return": back,
    }
    return {**body, **overrides}


def test_ce_files_a_suspension_and_reads_it_back(api):
    # given a CE with a token
    ce = api("ce")
    # when they file a suspension of acme-prod
    response = _post(ce, LIST, _suspension())
    # then 201 with the request, submitted, its timeline and its response clock running
    assert response.status_code == 201, response.content
    body = response.json()
    stored = CustomerRequest.objects.get()
    assert response["Location"] == f"/api/v1/requests/{stored.pk}/"
    assert (body["kind"], body["state"], body["instance"], body["requester"]) == (
        "suspension",
        "submitted",
        "acme-prod",
        "ce",
    )
    assert [e["action"] for e in body["events"]] == ["submit"]
    assert body["clocks"][0]["label"] == "Response (24 h)"
    assert body["clocks"][0]["due"] is not None
    assert "withdraw" in body["actions"]
    # and the form's own answers were kept, and the filing audited
    assert stored.details == {"expected_return": _suspension()["expected_return"]}
    assert AuditEvent.objects.filter(action="request.submit", actor__username="ce").count() == 1
    # and the detail answers the same request
    detail = ce.get(f"{LIST}{stored.pk}/").json()
    assert (detail["id"], detail["summary"]) == (stored.pk, "Suspension: acme-prod")


@pytest.mark.parametrize(
    ("overrides", "status", "says"),
    [
        ({"reason": ""}, 400, "reason: This field is required."),
        ({"expected_return": "2000-01-01"}, 400, "must be in the future"),
        # the form offers only active instances: a suspended one is not a choice
        ({"instance": "globex-test"}, 400, "instance: Select a valid choice."),
        ({"kind": "holiday"}, 400, "is not a valid choice"),
    ],
)
def test_filing_refuses_what_the_page_refuses(api, overrides, status, says):
    # given a CE
    ce = api("ce")
    # when they file an invalid suspension
    response = _post(ce, LIST, _suspension(**overrides))
    # then it is refused with a sentence, and nothing is filed
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    assert says in json.dumps(response.json())
    assert not CustomerRequest.objects.exists()


def test_ce_sees_only_their_own_and_mine_filters(api):
    # given a request by devops and one by ce
    devops, ce = api("devops"), api("ce")
    instance = make_instance("initech-prod")
    theirs = make_request(make_persona("devops"), instance)
    own = make_request(make_persona("ce"), instance, kind="feature", summary="Feature: SSO")
    # when ce lists, and devops lists all then only their own, then by kind
    ce_ids = [row["id"] for row in ce.get(LIST).json()["results"]]
    all_ids = [row["id"] for row in devops.get(LIST).json()["results"]]
    mine = [row["id"] for row in devops.get(LIST, {"mine": "true"}).json()["results"]]
    features = [row["id"] for row in devops.get(LIST, {"kind": "feature"}).json()["results"]]
    # then ce sees their own only; devops all (newest first), theirs, and the feature one
    assert ce_ids == [own.pk]
    assert all_ids == [own.pk, theirs.pk]
    assert mine == [theirs.pk]
    assert features == [own.pk]
    # and each row carries its SLA clocks, as the queue shows them
    row = ce.get(LIST).json()["results"][0]
    assert [clock["label"] for clock in row["clocks"]] == ["Response (24 h)", "Resolution"]
    # and ce cannot read or act on devops's request
    assert ce.get(f"{LIST}{theirs.pk}/").status_code == 404
    assert _act(ce, theirs.pk, "comment", "hi").status_code == 404
    # and a bad filter value is a 400
    assert devops.get(LIST, {"state": "lost"}).status_code == 400


def test_devops_acknowledges_ce_cannot(api):
    # given a feature request filed by ce
    devops, ce = api("devops"), api("ce")
    request = make_request(
        make_persona("ce"), make_instance("initech-prod"), kind="feature", summary="Feature: SSO"
    )
    # when ce tries the handler's action
    refused = _act(ce, request.pk, "acknowledge", "mine now")
    # then 403 naming the roles, and nothing moved
    assert refused.status_code == 403, refused.content
    assert "DevOps" in refused.json()["detail"]
    request.refresh_from_db()
    assert request.state == "submitted"
    # when devops acknowledges it
    response = _act(devops, request.pk, "acknowledge", "on it")
    # then it is acknowledged by them, on the timeline, and the response clock stopped
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["handler"]) == ("acknowledged", "devops")
    assert [(e["action"], e["actor"], e["comment"]) for e in body["events"]][-1] == (
        "acknowledge",
        "devops",
        "on it",
    )
    assert "acknowledged" in body["clocks"][0]["note"]
    # and acknowledging twice is refused by the workflow
    again = _act(devops, request.pk, "acknowledge")
    assert again.status_code == 400
    assert again["Content-Type"] == PROBLEM


def test_requester_withdraws_others_cannot(api):
    # given a suspension request filed by ce
    ce, manager = api("ce"), api("manager")
    request = make_request(make_persona("ce"), make_instance("initech-prod"))
    # when the manager tries to withdraw it
    refused = _act(manager, request.pk, "withdraw", "not needed")
    # then the service refuses: only the requester withdraws
    assert refused.status_code == 400
    assert refused.json()["detail"] == "Only the requester can withdraw this request."
    # when ce withdraws it
    response = _act(ce, request.pk, "withdraw", "not needed")
    # then it is withdrawn, and the withdrawal is on the timeline
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "withdrawn"
    assert response.json()["events"][-1]["action"] == "withdraw"


def test_unknown_action_is_a_400(api):
    ce = api("ce")
    request = make_request(make_persona("ce"), make_instance("initech-prod"))
    response = _act(ce, request.pk, "explode")
    assert response.status_code == 400
    assert "action" in response.json()["errors"]
