"""SLA alerts of requests: warnings to the handler at 50 % and 75 % of the resolution time,
a page at breach, each once, even with two beat runs at once; real HTTP to local receivers
standing in for Slack, PagerDuty and Opsgenie."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from mi_admin.audit.models import AuditEvent
from mi_requests.choices import SlaLevel
from mi_requests.models import CustomerRequest, RequestPause, RequestSlaAlert
from mi_requests.selectors import request_resolution_clock
from mi_requests.services.requests import request_ask
from mi_requests.tasks import requests_tick
from tests.concurrency import run_at_once
from tests.mi_requests.conftest import file_suspension

PD_KEY = "pd-routing-key-request-tests"
SLACK_PATH = "/services/T000/B000/request-tests"


@pytest.fixture
def channels(settings, http_receiver):
    settings.PAGERDUTY_ROUTING_KEY = PD_KEY
    settings.PAGERDUTY_EVENTS_URL = f"{http_receiver.url}/v2/enqueue"
    settings.OPSGENIE_API_KEY = "og-key"
    settings.OPSGENIE_API_URL = http_receiver.url
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}{SLACK_PATH}"
    settings.ALERT_HTTP_TIMEOUT = 2.0
    return http_receiver


def sent(receiver):
    pagerduty = [r.json() for r in receiver.requests if r.route == "/v2/enqueue"]
    opsgenie = [r for r in receiver.requests if r.route.startswith("/v2/alerts")]
    slack = [r.json() for r in receiver.requests if r.route == SLACK_PATH]
    return pagerduty, opsgenie, slack


def approved_days_ago(request: CustomerRequest, days: float) -> float:
    """Move the approval back; the share of the resolution time used now."""
    CustomerRequest.objects.filter(pk=request.pk).update(
        approved_at=timezone.now() - timedelta(days=days)
    )
    request.refresh_from_db()
    clock = request_resolution_clock(request, [], now=timezone.now())
    assert clock is not None
    return clock.used


@pytest.mark.django_db
def test_warnings_at_half_and_three_quarters_then_a_page_at_breach_each_once(
    approved_suspension, channels
):
    # given an approved request with a bit over half its resolution time used
    request = approved_suspension
    used = approved_days_ago(request, 12)
    assert 0.5 <= used < 0.75
    # when the beat task runs twice
    requests_tick()
    requests_tick()
    # then one warning went to the handler's chat channel, and nothing paged
    pagerduty, opsgenie, slack = sent(channels)
    assert (len(pagerduty), len(opsgenie), len(slack)) == (0, 0, 1)
    assert "50 % of the resolution time used" in str(slack[0])
    assert list(request.sla_alerts.values_list("level", flat=True)) == [SlaLevel.RESOLUTION_50]
    # when the deadline has passed and the task runs twice more
    assert approved_days_ago(request, 40) > 1
    requests_tick()
    requests_tick()
    # then the 75 % warning went out once and the breach paged every channel once
    pagerduty, opsgenie, slack = sent(channels)
    assert len(slack) == 3
    assert len(pagerduty) == 1
    assert len(opsgenie) == 1
    assert pagerduty[0]["dedup_key"] == f"mi-admin/request-{request.pk}/resolution_breach"
    assert "past its resolution deadline" in pagerduty[0]["payload"]["summary"]
    assert sorted(request.sla_alerts.values_list("level", flat=True)) == sorted(
        [SlaLevel.RESOLUTION_50, SlaLevel.RESOLUTION_75, SlaLevel.RESOLUTION_BREACH]
    )
    assert not request.sla_alerts.filter(sent_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="request.sla_alert").count() == 3


@pytest.mark.django_db
def test_a_request_waiting_on_its_requester_gets_no_warning(approved_suspension, channels, people):
    # given an approved request asked a question when 40 % of its time was used
    request = approved_suspension
    approved_days_ago(request, 12)
    request_ask(request=request, actor=people["devops"], question="Which date?")
    pause = RequestPause.objects.get(request=request)
    RequestPause.objects.filter(pk=pause.pk).update(
        started_at=request.approved_at + timedelta(days=8)
    )
    # when the task runs; then nothing is sent: the clock stopped below half
    requests_tick()
    assert sent(channels) == ([], [], [])
    assert not RequestSlaAlert.objects.exists()


@pytest.mark.django_db
def test_an_unacknowledged_request_pages_once_after_24_hours(policies, people, acme, channels):
    # given a request nobody acknowledged, filed 25 hours ago
    request = file_suspension(people["ce"], acme)
    CustomerRequest.objects.filter(pk=request.pk).update(
        submitted_at=request.submitted_at - timedelta(hours=25),
        response_due_at=request.response_due_at - timedelta(hours=25),
    )
    # when the task runs twice; then one page per channel, saying so
    requests_tick()
    requests_tick()
    pagerduty, opsgenie, slack = sent(channels)
    assert (len(pagerduty), len(opsgenie), len(slack)) == (1, 1, 1)
    assert "not acknowledged within 24 h" in pagerduty[0]["payload"]["summary"]


@pytest.mark.django_db
def test_a_failed_channel_is_retried_alone(approved_suspension, channels):
    # given a breached request and PagerDuty refusing the first attempts
    from tests.fixtures.http_receiver import Reply

    request = approved_suspension
    approved_days_ago(request, 40)
    # (sent in order: the two warnings to Slack, then the breach to PagerDuty first)
    channels.script(Reply(200), Reply(200), Reply(500), Reply(500), Reply(500))
    # when the task runs (PagerDuty fails its three tries), then again
    requests_tick()
    breach = request.sla_alerts.get(level=SlaLevel.RESOLUTION_BREACH)
    assert breach.sent_at is None
    assert "pagerduty" in breach.last_error
    requests_tick()
    # then PagerDuty got it on the retry, and no other channel got it twice
    breach.refresh_from_db()
    assert breach.sent_at is not None
    pagerduty, opsgenie, slack = sent(channels)
    assert len([p for p in pagerduty if p["dedup_key"].endswith("resolution_breach")]) == 4
    assert len(opsgenie) == 1
    assert len([s for s in slack if "past its resolution deadline" in str(s)]) == 1


@pytest.mark.django_db(transaction=True)
def test_two_beat_runs_at_once_send_each_alert_once(channels):
    # given a breached, approved request (built in this transactional test's own way)
    from mi_admin.approvals.services import approval_review_submit
    from mi_requests.services.requests import request_acknowledge, request_approval_decided
    from tests.fixtures.personas import make_persona
    from tests.instances.factories import make_instance
    from tests.mi_requests.conftest import ensure_policies

    ensure_policies()
    ce, devops, manager = (make_persona(n) for n in ("ce", "devops", "manager"))
    request = file_suspension(ce, make_instance("acme-prod"))
    request_acknowledge(request=request, actor=devops)
    approval = request.approvals.get().approval
    approval_review_submit(request=approval, reviewer=manager, decision="approve")
    request_approval_decided(approval)  # committed already: the hook ran, this is a no-op
    request.refresh_from_db()
    approved_days_ago(request, 40)
    # when two beat runs race
    results = run_at_once(requests_tick, requests_tick)
    # then neither failed, and each level was recorded and sent once
    assert not [r for r in results if isinstance(r, Exception)], results
    assert RequestSlaAlert.objects.filter(request=request).count() == 3
    pagerduty, opsgenie, slack = sent(channels)
    assert len(pagerduty) == 1
    assert len(opsgenie) == 1
    assert len(slack) == 3
