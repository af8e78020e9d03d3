"""Approve from Slack: real HTTP requests, signed as Slack signs them, against the
interactivity endpoint of a live server; the review goes through the approval engine."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
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
from tests.access.conftest import wait_until
from tests.approvals.conftest import MANAGER_STEP, StepSpec, file_request, make_person, make_policy
from tests.fixtures.http_receiver import HttpReceiver, running_receiver

SECRET = "test-slack-signing-secret"
PATH = "/integrations/slack/interactivity/"


@pytest.fixture
def slack_on(settings, http_receiver) -> Iterator[HttpReceiver]:
    """Slack approvals on; button replies go to a local receiver (the one allowed origin),
    their task run in the calling thread, here the live server's (see slack_worker_test
    below for the real worker)."""
    settings.SLACK_APPROVALS_ENABLED = True
    settings.SLACK_SIGNING_SECRET = SECRET
    settings.SLACK_RESPONSE_URL_ORIGINS = [http_receiver.url]
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield http_receiver
    celery_app.conf.task_always_eager = before


def answer_url(receiver: HttpReceiver) -> str:
    """A response_url on the receiver, unique per press (Slack's are)."""
    return f"{receiver.url}/actions/T1/{uuid.uuid4().hex}"


def replies_to(receiver: HttpReceiver, url: str) -> list[dict[str, Any]]:
    route = url.removeprefix(receiver.url)
    return [r.json() for r in list(receiver.requests) if r.route == route]


def linked(name: str) -> User:
    """A person from the approval fixtures whose Slack member id is set."""
    user = make_person(name)
    user.slack_user_id = f"U-{name}-{uuid.uuid4().hex[:6]}"
    user.save(update_fields=["slack_user_id"])
    return user


def press_body(
    *, slack_user_id: str, action: str, request_pk: int, response_url: str = ""
) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": slack_user_id, "username": "someone"},
        "actions": [{"action_id": action, "value": str(request_pk), "type": "button"}],
        # Unique per press: two presses never share a body (and so a signature).
        "trigger_id": uuid.uuid4().hex,
    }
    if response_url:
        payload["response_url"] = response_url
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


def test_a_signed_approve_press_approves_the_request(live_server, decisions, slack_on):
    # given a pending request and a manager whose Slack id is linked
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    url = answer_url(slack_on)
    body = press_body(
        slack_user_id=manager.slack_user_id or "",
        action="approve",
        request_pk=request.pk,
        response_url=url,
    )
    # when Slack posts their Approve press, correctly signed
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then the press is acknowledged with an empty body (Slack ignores it) ...
    assert response.status_code == 200
    assert response.content == b""
    # ... and the original message is replaced, through the response_url, by the outcome:
    # who approved and when, the request approved, no buttons left
    [reply] = replies_to(slack_on, url)
    assert reply["replace_original"] is True
    assert reply["text"].endswith("(Approved)")
    shown = json.dumps(reply["blocks"])
    assert f"*Approved* by {manager} at " in shown
    assert "*Approved*." in shown
    assert not [b for b in reply["blocks"] if b["type"] == "actions"]
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert list(Review.objects.filter(request=request).values_list("reviewer", flat=True)) == [
        manager.pk
    ]
    assert decisions.calls == [(request.pk, RequestState.APPROVED)]
    event = AuditEvent.objects.get(action="approval.reviewed", object_id=str(request.pk))
    assert event.after is not None
    assert (event.after["via"], event.after["decision"]) == ("slack", "approve")


def test_a_signed_deny_press_denies_the_request(live_server, decisions, slack_on):
    # given a pending request and a linked manager
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    url = answer_url(slack_on)
    body = press_body(
        slack_user_id=manager.slack_user_id or "",
        action="deny",
        request_pk=request.pk,
        response_url=url,
    )
    # when they press Deny
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then the request is denied, and the message says so by whom
    assert response.status_code == 200
    request.refresh_from_db()
    assert request.state == RequestState.DENIED
    [reply] = replies_to(slack_on, url)
    assert f"*Denied* by {manager} at " in json.dumps(reply["blocks"])
    assert reply["text"].endswith("(Denied)")
    assert not [b for b in reply["blocks"] if b["type"] == "actions"]


def test_a_first_of_two_approvals_keeps_the_buttons(live_server, decisions, slack_on):
    # given a request needing two managers
    request = file_request(
        make_policy(StepSpec("Managers", roles=MANAGER_STEP.roles, quorum=2)),
        make_person("requester"),
    )
    manager = linked("m1")
    url = answer_url(slack_on)
    body = press_body(
        slack_user_id=manager.slack_user_id or "",
        action="approve",
        request_pk=request.pk,
        response_url=url,
    )
    # when the first approves from Slack
    assert post(live_server, body, sign(body, timestamp=int(time.time()))).status_code == 200
    # then the message shows their approval, waits for more, and keeps the buttons
    [reply] = replies_to(slack_on, url)
    shown = json.dumps(reply["blocks"])
    assert f"*Approved* by {manager}" in shown
    assert "Waiting for more reviews" in shown
    assert [b for b in reply["blocks"] if b["type"] == "actions"]


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


def test_an_unknown_slack_user_changes_nothing(live_server, decisions, slack_on):
    # given a pending request, and a Slack member linked to nobody in MI Admin
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    linked("m1")
    url = answer_url(slack_on)
    body = press_body(
        slack_user_id="U-NOBODY", action="approve", request_pk=request.pk, response_url=url
    )
    # when their signed Approve press arrives
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then Slack shows them (only) why, and nothing is reviewed
    assert response.status_code == 200
    [reply] = replies_to(slack_on, url)
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False
    assert "not linked to an MI Admin person" in reply["text"]
    assert_unchanged(request)


@pytest.mark.parametrize(
    ("who", "refusal"),
    [("self", "you filed this request"), ("ce1", "you are not one of them")],
    ids=["self", "not-a-manager"],
)
def test_the_engine_rules_apply_to_slack_presses(live_server, decisions, slack_on, who, refusal):
    # given a request filed by a manager (so they hold the reviewer role), and a CE person
    requester = linked("m2")
    request = file_request(make_policy(MANAGER_STEP), requester)
    presser = requester if who == "self" else linked(who)
    url = answer_url(slack_on)
    body = press_body(
        slack_user_id=presser.slack_user_id or "",
        action="approve",
        request_pk=request.pk,
        response_url=url,
    )
    # when the requester (or a non-manager) presses Approve, correctly signed
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then the engine refuses it, the presser alone is told why (the channel's message is
    # left as it was), and nothing is reviewed
    assert response.status_code == 200
    [reply] = replies_to(slack_on, url)
    assert reply["response_type"] == "ephemeral"
    assert reply["replace_original"] is False
    assert reply["text"].startswith("Not recorded:")
    assert refusal in reply["text"].lower()
    assert_unchanged(request)


def test_a_response_url_off_the_allow_list_gets_nothing(live_server, decisions, slack_on):
    # given a correctly signed press whose response_url points at another server (a
    # forged payload trying to make us POST somewhere)
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    with running_receiver() as elsewhere:
        for url in (
            f"{elsewhere.url}/actions/T1/x",
            f"http://user@{slack_on.url.removeprefix('http://')}/actions/T1/x",
        ):
            body = press_body(
                slack_user_id=manager.slack_user_id or "",
                action="deny",
                request_pk=request.pk,
                response_url=url,
            )
            # when it arrives
            response = post(live_server, body, sign(body, timestamp=int(time.time())))
            assert response.status_code == 200
        # then neither the other server nor the allowed host (with credentials) is called
        assert elsewhere.requests == []
    assert slack_on.requests == []
    refused = AuditEvent.objects.filter(action="slack.response_url_refused")
    assert refused.exists()


def test_a_reply_slack_answers_503_is_retried(live_server, decisions, slack_on):
    # given Slack failing the first reply
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    slack_on.script(503)
    url = answer_url(slack_on)
    body = press_body(
        slack_user_id=manager.slack_user_id or "",
        action="approve",
        request_pk=request.pk,
        response_url=url,
    )
    # when the press arrives
    assert post(live_server, body, sign(body, timestamp=int(time.time()))).status_code == 200
    # then the task tried again and the second reply carries the outcome
    replies = replies_to(slack_on, url)
    assert len(replies) == 2
    assert replies[1]["text"].endswith("(Approved)")


def test_the_worker_answers_after_the_ack(
    live_server, settings, decisions, celery_worker, worker_slack_receiver
):
    # given Slack approvals on, replies allowed to the worker's Slack, and no eager tasks
    settings.SLACK_APPROVALS_ENABLED = True
    settings.SLACK_SIGNING_SECRET = SECRET
    settings.SLACK_RESPONSE_URL_ORIGINS = [worker_slack_receiver.url]
    assert not celery_app.conf.task_always_eager
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    manager = linked("m1")
    url = answer_url(worker_slack_receiver)
    body = press_body(
        slack_user_id=manager.slack_user_id or "",
        action="approve",
        request_pk=request.pk,
        response_url=url,
    )
    # when the press arrives
    response = post(live_server, body, sign(body, timestamp=int(time.time())))
    # then it is acknowledged at once, and the worker replaces the message afterwards
    assert response.status_code == 200
    assert response.content == b""
    wait_until(lambda: bool(replies_to(worker_slack_receiver, url)), what="reply posted")
    [reply] = replies_to(worker_slack_receiver, url)
    assert f"*Approved* by {manager} at " in json.dumps(reply["blocks"])


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


@pytest.mark.django_db
def test_the_reviewer_message_says_the_expiry_in_the_display_zone(settings, decisions):
    # given a pending request that expires at 21:05 UTC in December, and pages in Berlin time
    settings.DISPLAY_TIME_ZONE = "Europe/Berlin"
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    request.expires_at = dt.datetime(2026, 12, 6, 21, 5, 9, tzinfo=dt.UTC)
    # when the reviewer message is built
    message = reviewer_message(request=request, link="https://mi.example.com/approvals/1/")
    # then the expiry is the Berlin time, named, and not the UTC one
    text = json.dumps(message)
    assert "2026-12-06 22:05 CET" in text
    assert "21:05" not in text


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
    assert response.status_code == 403
    manager.refresh_from_db()
    assert manager.slack_user_id is None


def test_the_enqueued_task_name_is_the_tasks_name():
    # given the name services enqueue by (they may not import tasks); then it is the task's
    assert approval_slack_notify_task.name == SLACK_NOTIFY_TASK
