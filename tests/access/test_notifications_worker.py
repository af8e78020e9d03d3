"""The holder's messages with a real Celery worker: the warning task fires at
``expires_at - 10 min`` on its own, once, and every message reaches the (local) Slack the
worker posts to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from access.choices import DeliveryState, GrantState, NotificationKind
from access.models import AccessGrant, AccessNotification
from access.notifications import WARNING_BEFORE
from access.services import access_grant_end, access_grant_extend_request
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.services import approval_review_submit
from tests.access.conftest import grant_state, make_instance, request_grant, sim_vm, wait_until
from tests.fixtures.http_receiver import HttpReceiver

pytestmark = pytest.mark.django_db(transaction=True)


def _texts_about(receiver: HttpReceiver, grant: AccessGrant) -> list[str]:
    link = f"/access/grants/{grant.pk}/|#{grant.pk}>"
    texts = [r.json()["text"] for r in list(receiver.requests) if r.route == "/access-notify"]
    return [text for text in texts if link in text]


def test_the_worker_warns_ten_minutes_before_expiry_once_and_tells_the_end(
    celery_worker, worker_slack_receiver, fleetsim, persona
):
    # given a grant of 10 minutes and 4 seconds, approved and activated by the worker
    instance = make_instance()
    sim_vm(fleetsim, instance)
    grant = request_grant(
        persona("devops"), instance, duration=WARNING_BEFORE + timedelta(seconds=4)
    )
    assert grant.approval_request is not None
    approval_review_submit(
        request=grant.approval_request, reviewer=persona("manager"), decision=Decision.APPROVE
    )
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    # when its warning task comes due (4 s after activation)
    wait_until(
        lambda: any("ends in 10 minutes" in t for t in _texts_about(worker_slack_receiver, grant)),
        what="warning posted",
    )
    # then the holder was told of the approval, then warned, once, no earlier than due
    grant.refresh_from_db()
    assert grant.expires_at is not None
    texts = _texts_about(worker_slack_receiver, grant)
    assert "was approved by Manager Persona" in texts[0]
    assert sum("ends in 10 minutes" in t for t in texts) == 1
    [warning] = AccessNotification.objects.filter(grant=grant, kind=NotificationKind.WARNING)
    assert warning.created_at >= grant.expires_at - WARNING_BEFORE
    # (the worker marks it sent right after Slack answered)
    wait_until(
        lambda: AccessNotification.objects.get(pk=warning.pk).state == DeliveryState.SENT,
        what="warning marked sent",
    )
    # and when a manager revokes it, the worker posts the end with the reason
    access_grant_end(
        grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="done here"
    )
    wait_until(
        lambda: any("was revoked by" in t for t in _texts_about(worker_slack_receiver, grant)),
        what="end posted",
    )
    ended = [t for t in _texts_about(worker_slack_receiver, grant) if "was revoked by" in t]
    assert ended == [ended[0]]
    assert ended[0].endswith(": done here")


def test_an_extension_moves_the_warning_task(
    celery_worker, worker_slack_receiver, fleetsim, persona
):
    # given a grant whose warning comes due 30 s after activation
    instance = make_instance()
    sim_vm(fleetsim, instance)
    devops, manager = persona("devops"), persona("manager")
    grant = request_grant(devops, instance, duration=WARNING_BEFORE + timedelta(seconds=30))
    assert grant.approval_request is not None
    approval_review_submit(
        request=grant.approval_request, reviewer=manager, decision=Decision.APPROVE
    )
    wait_until(lambda: grant_state(grant) == GrantState.ACTIVE, what="grant active")
    grant.refresh_from_db()
    old_expiry = grant.expires_at
    assert old_expiry is not None
    # when, before that, 10 more seconds are asked for, approved and applied
    access_grant_extend_request(
        grant=grant, requester=devops, extra=timedelta(seconds=10), justification="almost done"
    )
    assert grant.extension_approval is not None
    approval_review_submit(
        request=grant.extension_approval, reviewer=manager, decision=Decision.APPROVE
    )
    new_expiry = old_expiry + timedelta(seconds=10)
    wait_until(
        lambda: AccessGrant.objects.get(pk=grant.pk).expires_at == new_expiry, what="extended"
    )
    # then the warning comes from the task queued for the new expiry (the old one finds
    # nothing due), once, naming the new time
    wait_until(
        lambda: any("ends in 10 minutes" in t for t in _texts_about(worker_slack_receiver, grant)),
        what="warning posted",
        seconds=90,
    )
    [warning] = AccessNotification.objects.filter(grant=grant, kind=NotificationKind.WARNING)
    assert warning.key == new_expiry.isoformat()
    assert warning.created_at >= new_expiry - WARNING_BEFORE
    texts = _texts_about(worker_slack_receiver, grant)
    assert sum("ends in 10 minutes" in t for t in texts) == 1
