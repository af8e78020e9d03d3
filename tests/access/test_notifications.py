"""What a grant's holder hears (decision, 10-minute warning, end), each message once: the
services record it, delivery posts it to a real local HTTP receiver standing in for Slack."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from access.choices import DeliveryState, GrantState, NotificationKind
from access.models import AccessGrant, AccessNotification
from access.notifications import WARNING_BEFORE, access_grant_warn, access_notification_deliver
from access.services import (
    access_extension_decided,
    access_grant_activation_begin,
    access_grant_activation_confirm,
    access_grant_decided,
    access_grant_end,
    access_grant_extend_request,
    access_grant_extension_confirm,
    access_grants_sweep,
)
from mi_admin.accounts.models import User
from mi_admin.alerts.base import AlertTransientError
from mi_admin.approvals.choices import Decision
from mi_admin.approvals.services import approval_review_submit
from mi_admin.audit.models import AuditEvent
from tests.access.conftest import make_instance, request_grant
from tests.concurrency import run_at_once
from tests.fixtures.http_receiver import Reply

HOOK = "/services/T/access/x"


@pytest.fixture
def slack(settings, http_receiver):
    settings.ACCESS_SLACK_WEBHOOK_URL = f"{http_receiver.url}{HOOK}"
    return http_receiver


def _decide(grant: AccessGrant, reviewer: User, decision: Decision, comment: str = "") -> None:
    assert grant.approval_request is not None
    approval_review_submit(
        request=grant.approval_request, reviewer=reviewer, decision=decision, comment=comment
    )
    grant.approval_request.refresh_from_db()
    # The engine tells the subject after commit; here the test is the commit.
    access_grant_decided(grant.approval_request)
    grant.refresh_from_db()


def _active(persona, *, duration: timedelta = timedelta(minutes=30)) -> AccessGrant:
    grant = request_grant(persona("devops"), make_instance(), duration=duration)
    _decide(grant, persona("manager"), Decision.APPROVE, "ok for the ticket")
    access_grant_activation_begin(grant_pk=grant.pk)
    assert access_grant_activation_confirm(grant_pk=grant.pk)
    grant.refresh_from_db()
    assert grant.state == GrantState.ACTIVE
    return grant


def _of(grant: AccessGrant, kind: NotificationKind) -> list[AccessNotification]:
    return list(AccessNotification.objects.filter(grant=grant, kind=kind))


def _deliver_pending() -> list[bool]:
    pending = AccessNotification.objects.filter(state=DeliveryState.PENDING)
    return [
        access_notification_deliver(notification_pk=pk)
        for pk in pending.values_list("pk", flat=True)
    ]


@pytest.mark.django_db
def test_the_holder_hears_the_approval_once(persona, slack):
    # given devops (linked to Slack) asking for access
    devops = persona("devops")
    devops.slack_user_id = "U0DEVOPS"
    devops.save(update_fields=["slack_user_id"])
    grant = request_grant(devops, make_instance())
    # when the manager approves with a comment, and the outcome is heard twice
    _decide(grant, persona("manager"), Decision.APPROVE, "ok for the ticket")
    assert grant.approval_request is not None
    access_grant_decided(grant.approval_request)
    # then one message is recorded and, delivered twice, posted once
    [message] = _of(grant, NotificationKind.DECIDED)
    assert _deliver_pending() == [True]
    assert access_notification_deliver(notification_pk=message.pk) is False
    assert [r.route for r in slack.requests] == [HOOK]
    text = slack.requests[0].json()["text"]
    assert text.startswith("<@U0DEVOPS>: your access request")
    assert f"/access/grants/{grant.pk}/|#{grant.pk}>" in text
    assert "approved by Manager Persona (ok for the ticket)" in text
    message.refresh_from_db()
    assert message.state == DeliveryState.SENT
    assert message.sent_at is not None
    notified = AuditEvent.objects.filter(action="access.grant.notified", object_id=str(grant.pk))
    assert [(e.after or {}).get("kind") for e in notified] == ["decided"]


@pytest.mark.django_db
def test_the_holder_hears_a_denial_with_its_comment(persona, slack):
    grant = request_grant(persona("devops"), make_instance())
    _decide(grant, persona("manager"), Decision.DENY, "use the read-only level")
    _deliver_pending()
    [request] = slack.requests
    assert "was denied by Manager Persona: use the read-only level." in request.json()["text"]


@pytest.mark.django_db
def test_the_holder_hears_a_revoke_with_its_reason(persona, slack):
    grant = _active(persona)
    access_grant_end(
        grant=grant, actor=persona("admin"), state=GrantState.REVOKED, reason="incident over"
    )
    [ended] = _of(grant, NotificationKind.ENDED)
    assert "was revoked by Admin Persona" in ended.text
    assert ended.text.endswith(": incident over")


@pytest.mark.django_db
def test_the_sweep_ending_an_expired_grant_tells_the_holder(persona, slack):
    grant = _active(persona)
    assert grant.expires_at is not None
    access_grants_sweep(now=grant.expires_at + timedelta(seconds=1))
    access_grants_sweep(now=grant.expires_at + timedelta(seconds=2))
    [ended] = _of(grant, NotificationKind.ENDED)
    assert " expired at " in ended.text


@pytest.mark.django_db
def test_the_warning_is_given_once_when_due(persona, slack):
    # given an active 30-minute grant
    grant = _active(persona)
    assert grant.expires_at is not None
    # when the warning task runs early, then on time, then again
    early = access_grant_warn(grant_pk=grant.pk, now=grant.expires_at - timedelta(minutes=11))
    on_time = access_grant_warn(grant_pk=grant.pk, now=grant.expires_at - WARNING_BEFORE)
    again = access_grant_warn(grant_pk=grant.pk, now=grant.expires_at - timedelta(minutes=5))
    # then only the on-time run recorded it, and one message went out
    assert (early, on_time, again) == (False, True, False)
    [warning] = _of(grant, NotificationKind.WARNING)
    assert "ends in 10 minutes" in warning.text
    _deliver_pending()
    assert len(slack.requests) == 2  # the approval, then the warning


@pytest.mark.django_db
def test_an_extension_moves_the_warning(persona, slack):
    # given an active grant whose extension by 20 minutes was approved and applied
    grant = _active(persona)
    assert grant.expires_at is not None
    old_expiry = grant.expires_at
    access_grant_extend_request(
        grant=grant, requester=persona("devops"), extra=timedelta(minutes=20), justification="j"
    )
    assert grant.extension_approval is not None
    approval_review_submit(
        request=grant.extension_approval, reviewer=persona("manager"), decision=Decision.APPROVE
    )
    grant.extension_approval.refresh_from_db()
    access_extension_decided(grant.extension_approval)
    new_expiry = old_expiry + timedelta(minutes=20)
    assert access_grant_extension_confirm(grant_pk=grant.pk, expires_at=new_expiry)
    # when the old warning's task runs at its time, then the new one at its time
    old_run = access_grant_warn(grant_pk=grant.pk, now=old_expiry - WARNING_BEFORE)
    new_run = access_grant_warn(grant_pk=grant.pk, now=new_expiry - WARNING_BEFORE)
    # then the old one found nothing due and one warning names the new expiry
    assert (old_run, new_run) == (False, True)
    [warning] = _of(grant, NotificationKind.WARNING)
    assert warning.key == new_expiry.isoformat()
    assert new_expiry.strftime("%H:%M UTC") in warning.text
    [extended] = _of(grant, NotificationKind.EXTENSION_DECIDED)
    assert "was approved by Manager Persona; access now lasts until" in extended.text


@pytest.mark.django_db
def test_the_sweep_gives_a_missed_warning(persona, slack):
    # given an active grant 5 minutes from its end, whose warning task never ran
    grant = _active(persona)
    assert grant.expires_at is not None
    now = grant.expires_at - timedelta(minutes=5)
    # when the sweep runs twice
    first = access_grants_sweep(now=now)
    second = access_grants_sweep(now=now)
    # then the first warned, the second found it said
    assert (first["warned"], second["warned"]) == (1, 0)
    assert len(_of(grant, NotificationKind.WARNING)) == 1


@pytest.mark.django_db
def test_a_grant_shorter_than_the_warning_gets_none(persona, slack):
    grant = _active(persona, duration=timedelta(minutes=8))
    assert grant.expires_at is not None
    assert not access_grant_warn(grant_pk=grant.pk, now=grant.expires_at - timedelta(minutes=1))
    assert access_grants_sweep(now=grant.expires_at - timedelta(minutes=1))["warned"] == 0


@pytest.mark.django_db
def test_a_transient_failure_is_retried_and_a_permanent_one_recorded(persona, slack):
    # given a recorded approval message and Slack answering 503, then 200
    grant = request_grant(persona("devops"), make_instance())
    _decide(grant, persona("manager"), Decision.APPROVE)
    [message] = _of(grant, NotificationKind.DECIDED)
    slack.script(503)
    # when delivered: the first try raises for the task to retry, releasing the claim
    with pytest.raises(AlertTransientError):
        access_notification_deliver(notification_pk=message.pk)
    message.refresh_from_db()
    assert (message.state, message.claimed_until, message.attempts) == ("pending", None, 1)
    # then the retry posts it
    assert access_notification_deliver(notification_pk=message.pk)
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("sent", 2)
    # and a message Slack refuses outright (404: webhook gone) is marked failed, not retried
    access_grant_end(grant=grant, actor=persona("manager"), state=GrantState.REVOKED, reason="r")
    [ended] = _of(grant, NotificationKind.ENDED)
    slack.script(Reply(404, body=b"no_service"))
    assert access_notification_deliver(notification_pk=ended.pk) is False
    ended.refresh_from_db()
    assert ended.state == DeliveryState.FAILED
    assert "404" in ended.last_error


@pytest.mark.django_db
def test_without_a_webhook_the_message_is_recorded_not_posted(persona, settings, http_receiver):
    settings.ACCESS_SLACK_WEBHOOK_URL = ""
    grant = request_grant(persona("devops"), make_instance())
    _decide(grant, persona("manager"), Decision.APPROVE)
    assert _deliver_pending() == [False]
    [message] = _of(grant, NotificationKind.DECIDED)
    assert message.state == DeliveryState.OFF
    assert http_receiver.requests == []


@pytest.mark.django_db
def test_the_database_refuses_a_second_message_of_a_kind_and_key(persona):
    grant = request_grant(persona("devops"), make_instance())
    AccessNotification.objects.create(grant=grant, kind=NotificationKind.ENDED, text="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessNotification.objects.create(grant=grant, kind=NotificationKind.ENDED, text="b")


@pytest.mark.django_db(transaction=True)
def test_two_warning_runs_at_once_record_one_and_two_deliveries_post_once(persona, slack):
    # given an active grant whose warning is due
    grant = _active(persona)
    assert grant.expires_at is not None
    now = grant.expires_at - timedelta(minutes=9)
    # when two workers run its warning at the same moment
    results = run_at_once(
        lambda: access_grant_warn(grant_pk=grant.pk, now=now),
        lambda: access_grant_warn(grant_pk=grant.pk, now=now),
    )
    # then exactly one of them recorded it
    assert sorted(results, key=str) == [False, True]
    [recorded] = _of(grant, NotificationKind.WARNING)
    # and when two deliveries of a pending message race, one posts (a copy of the warning
    # written here, so the session's worker, which may be delivering the recorded one from
    # its commit hook, never takes part in the race)
    warning = AccessNotification.objects.create(
        grant=grant, kind=recorded.kind, key=f"{recorded.key}-race", text=recorded.text
    )
    slack.default = Reply(200, delay=0.3)  # the loser tries while the winner is posting
    delivered = run_at_once(
        lambda: access_notification_deliver(notification_pk=warning.pk),
        lambda: access_notification_deliver(notification_pk=warning.pk),
    )
    assert sorted(delivered, key=str) == [False, True]
    warnings = [r for r in slack.requests if "ends in 10 minutes" in r.json()["text"]]
    assert len(warnings) == 1
