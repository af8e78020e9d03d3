"""Approve from Slack: real HTTP requests, signed as Slack signs them, against the
interactivity endpoint of a live server; the review goes through the approval engine."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests
from pytest_django.live_server_helper import LiveServer

from mi_admin.accounts.models import User
from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.models import ApprovalRequest, Review
from mi_admin.approvals.services import SLACK_NOTIFY_TASK
from mi_admin.approvals.slack import reviewer_message
from mi_admin.approvals.tasks import approval_slack_notify_task
from mi_admin.audit.models import AuditEvent
from mi_admin.celery import app as celery_app
from tests.approvals.conftest import MANAGER_STEP, StepSpec, file_request, make_person, make_policy

SECRET = "test-slack-signing-secret"
PATH = "/integrations/slack/interactivity/"


@pytest.fixture
def slack_on(settings) -> None:
    settings.SLACK_APPROVALS_ENABLED = True
    settings.SLACK_SIGNING_SECRET = SECRET


def linked(name: str) -> User:
    """A person from the approval fixtures whose Slack member id is set."""
    user = make_person(name)
    user.slack_user_id = f"U-{name}-{uuid.uuid4().hex[:6]}"
    user.save(update_fields=["slack_user_id"])
    return user


def press_body(*, slack_user_id: str, action: str, request_pk: int) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": slack_user_id, "username": "someone"},
        "actions": [{"action_id": action, "value": str(request_pk), "type": "button"}],
        # Unique per press: two presses never share a body (and so a signature).
        "trigger_id": uuid.uuid4().hex,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def sign(body: bytes, *, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def post(live_server: LiveServer, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(live_server.url + PATH, data=body, headers=headers, timeout=30)


def reviews_of(request: ApprovalRequest) -> int:
    return Review.objects.filter(request=request).count()


def assert_unchanged(request: ApprovalRequest) -> None:
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    assert reviews_of(request) == 0


@pytest.mark.usefixtures("slack_on")
def test_a_signed_approve_press_approves_the_request(live_server, decisions):
    # given a pending request and a manager whose Slack id is linked
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    body = press_body(
        slack_user_id=manager.slack_user_id or "", action="approve", request_pk=request.pk
    )
    # when Slack posts their Approve press, correctly signed
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then the request is approved by them, the subject hears it, and the audit says "slack"
    assert response.status_code == 200
    assert "is recorded; the request is approved" in response.json()["text"]
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert list(Review.objects.filter(request=request).values_list("reviewer", flat=True)) == [
        manager.pk
    ]
    assert decisions.calls == [(request.pk, RequestState.APPROVED)]
    event = AuditEvent.objects.get(action="approval.reviewed", object_id=str(request.pk))
    assert event.after is not None
    assert (event.after["via"], event.after["decision"]) == ("slack", "approve")


@pytest.mark.usefixtures("slack_on")
def test_a_signed_deny_press_denies_the_request(live_server, decisions):
    # given a pending request and a linked manager
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    body = press_body(
        slack_user_id=manager.slack_user_id or "", action="deny", request_pk=request.pk
    )
    # when they press Deny
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then the request is denied
    assert response.status_code == 200
    request.refresh_from_db()
    assert request.state == RequestState.DENIED


@pytest.mark.usefixtures("slack_on")
def test_a_forged_signature_changes_nothing(live_server, decisions):
    # given a pending request and a linked manager
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    body = press_body(
        slack_user_id=manager.slack_user_id or "", action="approve", request_pk=request.pk
    )
    # when someone without the signing secret posts an Approve press
    response = post(live_server, body, sign(body, timestamp=int(time.time()), secret="guess"))
    # then it is refused and nothing is reviewed
    assert response.status_code == 401
    assert_unchanged(request)


@pytest.mark.usefixtures("slack_on")
@pytest.mark.parametrize("skew", [-360, 360], ids=["six-minutes-old", "six-minutes-ahead"])
def test_a_timestamp_outside_five_minutes_changes_nothing(live_server, decisions, skew):
    # given a correctly signed press stamped six minutes off (captured and replayed late,
    # or forged ahead to outlive the replay cache)
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    body = press_body(
        slack_user_id=manager.slack_user_id or "", action="approve", request_pk=request.pk
    )
    headers = sign(body, timestamp=int(time.time()) + skew)
    # when it arrives
    response = post(live_server, body, headers)
    # then it is refused and nothing is reviewed
    assert response.status_code == 401
    assert_unchanged(request)


@pytest.mark.usefixtures("slack_on")
def test_a_replayed_request_is_refused(live_server, decisions):
    # given a two-approval request and a correctly signed Approve press by m1, accepted once
    request = file_request(
        make_policy(StepSpec("Managers", roles=MANAGER_STEP.roles, quorum=2)),
        make_person("requester"),
    )
    manager = linked("m1")
    body = press_body(
        slack_user_id=manager.slack_user_id or "", action="approve", request_pk=request.pk
    )
    headers = sign(body, timestamp=int(time.time()))
    assert post(live_server, body, headers).status_code == 200
    # when the very same request is sent again
    again = post(live_server, body, headers)
    # then it is refused as a replay, before the engine sees it; one review only
    assert again.status_code == 401
    request.refresh_from_db()
    assert request.state == RequestState.PENDING
    assert reviews_of(request) == 1


@pytest.mark.usefixtures("slack_on")
def test_an_unknown_slack_user_changes_nothing(live_server, decisions):
    # given a pending request, and a Slack member linked to nobody in MI Admin
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    linked("m1")
    body = press_body(slack_user_id="U-NOBODY", action="approve", request_pk=request.pk)
    # when their signed Approve press arrives
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then Slack shows them why, and nothing is reviewed
    assert response.status_code == 200
    assert response.json()["response_type"] == "ephemeral"
    assert "not linked to an MI Admin person" in response.json()["text"]
    assert_unchanged(request)


@pytest.mark.usefixtures("slack_on")
@pytest.mark.parametrize(
    ("who", "refusal"),
    [("self", "you filed this request"), ("ce1", "you are not one of them")],
    ids=["self", "not-a-manager"],
)
def test_the_engine_rules_apply_to_slack_presses(live_server, decisions, who, refusal):
    # given a request filed by a manager (so they hold the reviewer role), and a CE person
    requester = linked("m2")
    request = file_request(make_policy(MANAGER_STEP), requester)
    presser = requester if who == "self" else linked(who)
    body = press_body(
        slack_user_id=presser.slack_user_id or "", action="approve", request_pk=request.pk
    )
    # when the requester (or a non-manager) presses Approve, correctly signed
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then the engine refuses it with its reason, and nothing is reviewed
    assert response.status_code == 200
    assert response.json()["text"].startswith("Not recorded:")
    assert refusal in response.json()["text"].lower()
    assert_unchanged(request)


def test_the_endpoint_is_off_by_default(live_server, settings, decisions):
    # given Slack approvals off (the default) though a secret is set
    settings.SLACK_SIGNING_SECRET = SECRET
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    body = press_body(
        slack_user_id=manager.slack_user_id or "", action="approve", request_pk=request.pk
    )
    # when a correctly signed press arrives
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then the endpoint does not exist and nothing is reviewed
    assert response.status_code == 404
    assert_unchanged(request)


@pytest.mark.django_db
def test_the_reviewer_message_carries_the_context_and_both_buttons(decisions):
    # given a pending request
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    # when the reviewer message is built
    message = reviewer_message(
        request=request,
        link="https://mi.example.com/approvals/1/",
        instance="acme-prod",
        level="SSH <admin>",
        justification="Ticket OPS-1: disk full",
    )
    # then it names the requester, instance, level, justification (escaped) and the link
    text = json.dumps(message)
    for expected in (
        "requester@example.com",
        "acme-prod",
        "SSH &lt;admin&gt;",
        "OPS-1",
        "<https://mi.example.com/approvals/1/|Open in MI Admin>",
    ):
        assert expected in text
    # and carries Approve and Deny buttons whose value is the request's id
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("approve", str(request.pk)),
        ("deny", str(request.pk)),
    ]


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks in the calling thread (the session worker's environment has no
    Slack webhook to post to)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.mark.django_db
@pytest.mark.usefixtures("slack_on", "eager_tasks")
def test_filing_a_request_posts_the_reviewer_message_to_slack(
    settings, http_receiver, django_capture_on_commit_callbacks, decisions
):
    # given Slack approvals on, with the webhook pointing at a local receiver
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}/services/T/B/x"
    # when a request is filed (and its transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    # then the webhook got one message naming the request, with its buttons and link
    assert [r.route for r in http_receiver.requests] == ["/services/T/B/x"]
    message = http_receiver.requests[0].json()
    assert f"Approval #{request.pk}: Test subject 42" in message["text"]
    assert f"/approvals/{request.pk}/|Open in MI Admin>" in json.dumps(message)
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    assert {e["value"] for e in actions["elements"]} == {str(request.pk)}


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_tasks")
def test_nothing_is_posted_while_slack_approvals_are_off(
    settings, http_receiver, django_capture_on_commit_callbacks, decisions
):
    # given a webhook but Slack approvals off (the default)
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}/services/T/B/x"
    # when a request is filed
    with django_capture_on_commit_callbacks(execute=True):
        file_request(make_policy(MANAGER_STEP), make_person("requester"))
    # then Slack hears nothing
    assert http_receiver.requests == []


def test_an_admin_links_a_persons_slack_id_and_it_is_audited(client_for):
    # given a manager without a Slack id
    manager = make_person("m1")
    url = f"/admin/accounts/user/{manager.pk}/change/"
    # when an Admin sets it in Django admin
    response = client_for("admin").post(url, {"slack_user_id": "U0M1"})
    # then it is saved and the admin site audited the change
    assert response.status_code == 302, response.content.decode()[:2000]
    manager.refresh_from_db()
    assert manager.slack_user_id == "U0M1"
    assert AuditEvent.objects.filter(object_id=str(manager.pk), actor_label="admin").exists()


def test_only_admins_link_slack_ids(client_for):
    # given a manager; when a non-admin posts the change form; then nothing changes
    manager = make_person("m1")
    response = client_for("devops").post(
        f"/admin/accounts/user/{manager.pk}/change/", {"slack_user_id": "U0M1"}
    )
    assert response.status_code == 302
    manager.refresh_from_db()
    assert manager.slack_user_id is None


def test_the_enqueued_task_name_is_the_tasks_name():
    # given the name services enqueue by (they may not import tasks); then it is the task's
    assert approval_slack_notify_task.name == SLACK_NOTIFY_TASK
