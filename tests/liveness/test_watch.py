"""The missed-sweep watch (mi_admin.liveness.services.sweep_watch_check), driven by the
``now`` it is given: raised once per episode, cleared with a recovery message, re-armed;
a channel that failed is tried again, one that got it never is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mi_admin.audit.models import AuditEvent
from mi_admin.liveness.models import WatchAlert
from mi_admin.liveness.services import (
    DEDUP_KEY,
    SWEEP_MISSED,
    periodic_run_record,
    sweep_watch_check,
)

pytestmark = pytest.mark.django_db

SWEEP = "health.tasks.health_sweep"
SLACK = "/slack/hook"


@pytest.fixture
def channels(settings, http_receiver):
    """PagerDuty and Slack on one local receiver; the sweep every 60 s, 3 intervals."""
    settings.PAGERDUTY_ROUTING_KEY = "pd-key"
    settings.PAGERDUTY_EVENTS_URL = f"{http_receiver.url}/v2/enqueue"
    settings.OPSGENIE_API_KEY = ""
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}{SLACK}"
    settings.ALERT_HTTP_TIMEOUT = 2.0
    settings.LIVENESS_MISSED_INTERVALS = 3
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "health-sweep": {"task": SWEEP, "schedule": 60.0},
    }
    return http_receiver


def pagerduty(receiver):
    return [r.json() for r in receiver.requests if r.route == "/v2/enqueue"]


def slack(receiver):
    return [r.json() for r in receiver.requests if r.route == SLACK]


T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def check(at: datetime):
    return sweep_watch_check(now=at, since=T0 - timedelta(hours=1), attempts=1)


def test_a_missed_sweep_raises_once_clears_with_a_recovery_and_re_arms(channels):
    # given a sweep that succeeded at T0
    periodic_run_record(task=SWEEP, at=T0)
    # when checked within 3 intervals (180 s)
    assert check(T0 + timedelta(seconds=179)).overdue is False
    # then nothing is sent
    assert channels.requests == []

    # when checked past 3 intervals, then again and again
    outcomes = [check(T0 + timedelta(seconds=s)) for s in (181, 211, 600, 3600)]
    # then the first raised it, and each channel got exactly one trigger
    assert [o.raised for o in outcomes] == [True, False, False, False]
    assert all(o.overdue for o in outcomes)
    [trigger] = pagerduty(channels)
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == DEDUP_KEY
    assert trigger["payload"]["severity"] == "critical"
    assert "no health sweep for 3 intervals of 60 s" in trigger["payload"]["summary"]
    assert len(slack(channels)) == 1
    assert WatchAlert.objects.get(key=SWEEP_MISSED).channels_sent == ["pagerduty", "slack"]

    # when a sweep succeeds again and the next checks run
    periodic_run_record(task=SWEEP, at=T0 + timedelta(seconds=3700))
    cleared = [check(T0 + timedelta(seconds=s)) for s in (3710, 3720)]
    # then the first cleared it: one resolve per channel, with the recovery message
    assert [o.cleared for o in cleared] == [True, False]
    assert [e["event_action"] for e in pagerduty(channels)] == ["trigger", "resolve"]
    assert pagerduty(channels)[1]["dedup_key"] == DEDUP_KEY
    assert len(slack(channels)) == 2
    assert "health sweeps resumed" in str(slack(channels)[1])
    actions = list(
        AuditEvent.objects.filter(action__startswith="liveness.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["liveness.sweep_missed", "liveness.sweep_resumed"]

    # when sweeps stop again
    again = check(T0 + timedelta(seconds=3700 + 181))
    # then it is raised again (re-armed), once
    assert again.raised is True
    assert [e["event_action"] for e in pagerduty(channels)] == ["trigger", "resolve", "trigger"]


def test_a_sweep_that_never_ran_is_missed_three_intervals_after_the_watch_started(channels):
    # given no sweep ever recorded, a watcher started at T0
    # when checked 179 s and 181 s later
    before = sweep_watch_check(now=T0 + timedelta(seconds=179), since=T0, attempts=1)
    after = sweep_watch_check(now=T0 + timedelta(seconds=181), since=T0, attempts=1)
    # then only the second raises
    assert (before.overdue, after.raised) == (False, True)


def test_the_interval_comes_from_the_beat_schedule_in_force(channels):
    # given an Admin changed the sweep to every 10 minutes in django-celery-beat
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(name="health-sweep", task=SWEEP, interval=every)
    periodic_run_record(task=SWEEP, at=T0)
    # when checked 20 minutes after the last sweep (past 3 x 60 s, within 3 x 600 s)
    outcome = check(T0 + timedelta(minutes=20))
    # then it is not missed
    assert (outcome.watched, outcome.overdue) == (True, False)
    assert channels.requests == []


def test_a_channel_that_failed_is_tried_again_and_the_one_that_got_it_is_not(channels):
    # given Slack answers 500 to the first trigger (PagerDuty is first, answers 202)
    periodic_run_record(task=SWEEP, at=T0)
    channels.script(202, 500)
    # when the sweep is missed and checked twice
    first = check(T0 + timedelta(seconds=200))
    second = check(T0 + timedelta(seconds=230))
    # then Slack got it at the second check, PagerDuty only once
    assert first.sent == ["pagerduty"]
    assert "slack" in first.failed
    assert second.sent == ["slack"]
    assert len(pagerduty(channels)) == 1
    assert len(slack(channels)) == 2  # the failed post and the one that went
