"""The access API: request a grant, read and filter grants, review through the approval
engine, end or revoke, and the approvals inbox, each with its refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from access.choices import GrantState
from access.models import AccessGrant
from mi_admin.approvals.choices import RequestState
from mi_admin.audit.models import AuditEvent
from tests.access.conftest import seed_access_levels
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance

PROBLEM = "application/problem+json"
GRANT_FIELDS = {
    "id",
    "instance",
    "level",
    "state",
    "requester",
    "justification",
    "duration_minutes",
    "requested_start",
    "activated_at",
    "expires_at",
    "ended_at",
    "approval_request",
}


@pytest.fixture
def api(db: None, token_for: Callable[..., str]) -> Callable[[str], Client]:
    seed_access_levels()
    make_instance("acme-prod")
    make_instance("globex-test")

    def build(name: str) -> Client:
        make_persona(name)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(name)}")

    return build


def _post(client: Client, url: str, body: dict[str, Any], key: str = "") -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def _request(client: Client, key: str = "", **overrides: Any) -> Any:
    body = {"instance": "acme-prod", "level": "ssh", "minutes": 30, "justification": "disk full"}
    return _post(client, reverse("access_api:grant_list"), {**body, **overrides}, key)


def _review(client: Client, pk: int, decision: str, comment: str = "") -> Any:
    url = reverse("access_api:grant_review", kwargs={"pk": pk})
    return _post(client, url, {"decision": decision, "comment": comment})


def _end(client: Client, pk: int, reason: str = "") -> Any:
    return _post(client, reverse("access_api:grant_end", kwargs={"pk": pk}), {"reason": reason})


def test_devops_requests_a_grant_and_gets_it_back(api):
    # given a DevOps engineer with a token
    devops = api("devops")
    # when they request 30 minutes of SSH on acme-prod
    response = _request(devops, ticket_url="https://tickets.example.com/1")
    # then 201 with the grant, pending its approval request, and where to read it
    assert response.status_code == 201, response.content
    grant = response.json()
    assert set(grant) == GRANT_FIELDS
    stored = AccessGrant.objects.get()
    assert grant["id"] == stored.pk
    assert response["Location"] == reverse("access_api:grant_detail", kwargs={"pk": stored.pk})
    assert grant["instance"] == "acme-prod"
    assert grant["level"] == "SSH (OS Login)"
    assert grant["state"] == "pending"
    assert grant["requester"] == "devops"
    assert grant["duration_minutes"] == 30
    assert grant["approval_request"] == stored.approval_request_id is not None
    assert grant["activated_at"] is None
    assert stored.ticket_url == "https://tickets.example.com/1"
    # and the request is audited with the token's subject and client
    event = AuditEvent.objects.get(action="access.grant.requested")
    assert event.actor_label == "devops [api sub=devops@example.com cid=mi-cli]"


@pytest.mark.parametrize("level", ["ssh", "SSH (OS Login)", "ssh-os-login", "vm-admin"])
def test_a_level_is_named_by_its_name_its_slug_or_the_first_word(api, level):
    # when a level is named in any of the accepted forms; then the request is filed
    response = _request(api("devops"), level=level)
    assert response.status_code == 201, response.content
    assert AccessGrant.objects.get().level.name in ("SSH (OS Login)", "VM admin")


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"level": "root"}, "No access level answers to 'root'."),
        ({"instance": "nope"}, "No instance nope."),
        ({"minutes": 120}, "SSH (OS Login) lasts at most 1 h; you asked for 2 h."),
        ({"justification": "   "}, "justification"),
    ],
)
def test_a_refused_request_says_why_and_files_nothing(api, overrides, detail):
    # when a request names an unknown level or instance, or asks too much or says nothing
    response = _request(api("devops"), **overrides)
    # then 400 problem+json with the reason, and no grant
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert detail in response.json()["detail"]
    assert AccessGrant.objects.count() == 0


def test_the_same_idempotency_key_files_one_grant(api):
    # given a request sent with an Idempotency-Key
    devops = api("devops")
    first = _request(devops, key="req-1")
    # when it is sent again (a retry after a lost answer)
    again = _request(devops, key="req-1")
    # then the first answer is replayed and one grant exists
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert AccessGrant.objects.count() == 1


def test_the_list_filters_mine_state_and_instance_in_cursor_pages(api):
    # given grants of devops and admin on two instances
    devops, admin = api("devops"), api("admin")
    ids = [_request(devops).json()["id"] for _ in range(3)]
    theirs = _request(admin, instance="globex-test", level="vm-admin").json()["id"]
    AccessGrant.objects.filter(pk=ids[0]).update(state=GrantState.DENIED)
    url = reverse("access_api:grant_list")

    def read(client: Client, query: str) -> list[int]:
        found, page = [], client.get(f"{url}?{query}").json()
        while True:
            found += [row["id"] for row in page["results"]]
            if not page["next"]:
                return found
            page = client.get(page["next"]).json()

    # then each filter keeps what it says, newest first, across pages of one
    assert read(devops, "page_size=1") == [theirs, *reversed(ids)]
    assert read(devops, "mine=true&page_size=1") == list(reversed(ids))
    assert read(admin, "mine=true") == [theirs]
    assert read(devops, "state=denied") == [ids[0]]
    assert read(devops, "instance=globex-test") == [theirs]
    assert devops.get(f"{url}?state=bogus").status_code == 400


def test_a_requester_cannot_approve_their_own_request(api, django_capture_on_commit_callbacks):
    # given a pending grant of devops
    devops = api("devops")
    pk = _request(devops).json()["id"]
    # when devops approves it themselves
    response = _review(devops, pk, "approve")
    # then it is refused with the engine's reason, and the grant still waits
    assert response.status_code == 400
    assert "You filed this request" in response.json()["detail"]
    grant = AccessGrant.objects.get(pk=pk)
    assert grant.state == GrantState.PENDING
    assert grant.approval_request is not None
    assert grant.approval_request.state == RequestState.PENDING


def test_a_manager_approves_and_the_grant_is_approved(api, django_capture_on_commit_callbacks):
    # given a pending grant of devops
    pk = _request(api("devops")).json()["id"]
    # when a manager approves it through the API
    with django_capture_on_commit_callbacks(execute=True):
        response = _review(api("manager"), pk, "approve", "ok")
    # then 200 with the grant, which the engine's decision approves (on commit: the answer
    # shows it approved outside a test's transaction, see test_access_api_worker.py)
    assert response.status_code == 200, response.content
    assert response.json()["id"] == pk
    assert AccessGrant.objects.get(pk=pk).state == GrantState.APPROVED
    review = AuditEvent.objects.get(action="approval.reviewed")
    assert review.after is not None
    assert review.after["via"] == "api"
    assert review.actor_label.startswith("manager [api sub=manager@example.com")
    # and a second review of the decided request is refused
    again = _review(api("admin"), pk, "deny")
    assert again.status_code == 400
    assert "no request waiting" in again.json()["detail"]


def test_a_manager_denies_and_the_grant_is_closed(api, django_capture_on_commit_callbacks):
    pk = _request(api("devops")).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = _review(api("manager"), pk, "deny", "not now")
    assert response.status_code == 200
    grant = AccessGrant.objects.get(pk=pk)
    assert grant.state == GrantState.DENIED
    assert grant.ended_at is not None


def test_a_ce_is_not_a_reviewer_and_a_bad_decision_is_a_400(api):
    pk = _request(api("devops")).json()["id"]
    # when a CE reviews; then the engine says who reviews the step
    refused = _review(api("ce"), pk, "approve")
    assert refused.status_code == 400
    assert "you are not one of them" in refused.json()["detail"]
    # when the decision is neither approve nor deny; then the field is named
    bad = _review(api("manager"), pk, "maybe")
    assert bad.status_code == 400
    assert "decision" in bad.json()["errors"]
    assert AccessGrant.objects.get(pk=pk).state == GrantState.PENDING


def test_the_holder_ends_an_approved_grant(api, django_capture_on_commit_callbacks):
    # given an approved grant of devops
    devops = api("devops")
    pk = _request(devops).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        _review(api("manager"), pk, "approve")
    # when devops says they are done
    response = _end(devops, pk)
    # then it is ended early by them, and audited
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "ended_early"
    grant = AccessGrant.objects.get(pk=pk)
    assert grant.ended_by is not None
    assert grant.ended_by.username == "devops"
    assert AuditEvent.objects.filter(action="access.grant.ended_early").exists()


def test_a_manager_revokes_with_a_reason_and_others_may_not(api):
    # given a pending grant of devops
    pk = _request(api("devops")).json()["id"]
    # when a CE (not the holder, not an approver) tries to end it; then 403
    ce = _end(api("ce"), pk, "why not")
    assert ce.status_code == 403
    assert ce["Content-Type"] == PROBLEM
    # when a manager revokes without a reason; then 400 naming what is missing
    manager = api("manager")
    bare = _end(manager, pk)
    assert bare.status_code == 400
    assert "reason is required" in bare.json()["detail"]
    assert AccessGrant.objects.get(pk=pk).state == GrantState.PENDING
    # when they give one; then it is revoked
    revoked = _end(manager, pk, "wrong instance")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    assert AccessGrant.objects.get(pk=pk).end_reason == "wrong instance"


def test_the_holder_cannot_end_a_grant_still_pending(api):
    devops = api("devops")
    pk = _request(devops).json()["id"]
    response = _end(devops, pk)
    assert response.status_code == 400
    assert "nothing to end" in response.json()["detail"]


def test_unknown_grants_are_404(api):
    devops = api("devops")
    assert devops.get(reverse("access_api:grant_detail", kwargs={"pk": 999})).status_code == 404
    assert _end(devops, 999).status_code == 404
    assert _review(devops, 999, "approve").status_code == 404


def test_the_inbox_lists_what_the_caller_may_review(api):
    # given a pending grant of devops (its approval reviewed by managers and admins)
    grant = _request(api("devops")).json()
    approval = grant["approval_request"]
    url = reverse("approvals_api:approval_list")
    # then it is in the manager's inbox, not in the requester's nor a CE's
    manager = api("manager")
    rows = manager.get(url).json()["results"]
    assert [row["id"] for row in rows] == [approval]
    assert rows[0]["subject_kind"] == "access.grant"
    assert rows[0]["subject_id"] == str(grant["id"])
    assert rows[0]["requester"] == "devops"
    assert api("devops").get(url).json()["results"] == []
    assert api("ce").get(url).json()["results"] == []


def test_an_approval_says_whether_the_caller_may_review_it(api):
    approval = _request(api("devops")).json()["approval_request"]
    url = reverse("approvals_api:approval_detail", kwargs={"pk": approval})
    # when the requester and a manager read it
    mine = api("devops").get(url).json()
    theirs = api("manager").get(url).json()
    # then the requester may not review (and is told why), the manager may
    assert mine["can_review"] is False
    assert "You filed this request" in mine["refusal"]
    assert mine["can_withdraw"] is True
    assert theirs["can_review"] is True
    assert theirs["refusal"] is None
    assert theirs["steps"][0]["status"] == "open"
    assert theirs["steps"][0]["reviews"] == []
    missing = reverse("approvals_api:approval_detail", kwargs={"pk": 999999})
    assert api("manager").get(missing).status_code == 404
