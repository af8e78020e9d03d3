"""Trials: the decision day by the SLA calendar, the owning CE asked once, an expired trial
with no decision paging DevOps once (alert channels on a local HTTP receiver), and the end
date, conversion and owner edited with an audit trail."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator
from functools import partial
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError

from instances.choices import (
    InstanceKind,
    LifecycleState,
    OperationKind,
    OperationState,
    TrialNoticeKind,
)
from instances.models import Instance, TrialNotice
from instances.services.trials import (
    TrialsReport,
    instance_owner_set,
    instance_trial_convert,
    instance_trial_end_set,
    trial_decision_date,
    trial_notice_send,
    trials_check,
    working_days_before,
)
from mi_admin.alerts.dispatch import configured_notifiers
from mi_admin.audit.models import AuditEvent
from mi_admin.celery import app as celery_app
from mi_admin.sla import WorkCalendar
from tests.concurrency import run_at_once
from tests.fixtures.http_receiver import Reply
from tests.instances.factories import make_customer, make_instance, make_operation

SLACK_PATH = "/services/T000/B000/trial-tests"
US = WorkCalendar(country="US")
# A company day off on Wednesday 2027-03-10, on top of the US public holidays.
US_AND_A_DAY_OFF = WorkCalendar(country="US", extra_holidays=frozenset({dt.date(2027, 3, 10)}))


@pytest.mark.parametrize(
    ("ends_on", "calendar", "asked_on", "why"),
    [
        (dt.date(2027, 3, 12), US, dt.date(2027, 3, 5), "Friday end: the Friday before"),
        (dt.date(2027, 3, 15), US, dt.date(2027, 3, 8), "Monday end: the Monday before"),
        (dt.date(2027, 3, 14), US, dt.date(2027, 3, 8), "Sunday end: counted from Friday"),
        (dt.date(2027, 3, 13), US, dt.date(2027, 3, 8), "Saturday end: counted from Friday"),
        (dt.date(2026, 12, 1), US, dt.date(2026, 11, 23), "Thanksgiving (Thu 26 Nov) skipped"),
        (dt.date(2027, 1, 4), US, dt.date(2026, 12, 24), "Christmas (Fri) and weekend skipped"),
        (dt.date(2027, 6, 4), US, dt.date(2027, 5, 27), "Memorial Day (Mon 31 May) skipped"),
        (dt.date(2027, 3, 12), US_AND_A_DAY_OFF, dt.date(2027, 3, 4), "company day off skipped"),
        (dt.date(2027, 3, 12), WorkCalendar(country=None), dt.date(2027, 3, 5), "no holidays"),
    ],
)
def test_the_ce_is_asked_five_working_days_before_the_end(ends_on, calendar, asked_on, why):
    assert trial_decision_date(ends_on, calendar=calendar) == asked_on, why


def test_working_days_before_refuses_zero():
    with pytest.raises(ValueError, match="days must be >= 1"):
        working_days_before(dt.date(2027, 3, 12), 0, calendar=US)


# --- the beat check, against the alert channels ------------------------------------------

END = dt.date(2027, 3, 12)  # a Friday; the CE is asked on Friday 2027-03-05


@pytest.fixture
def channels(settings, http_receiver):
    """PagerDuty, Opsgenie and Slack all pointed at one local recording receiver."""
    settings.PAGERDUTY_ROUTING_KEY = "pd-trials"
    settings.PAGERDUTY_EVENTS_URL = f"{http_receiver.url}/v2/enqueue"
    settings.OPSGENIE_API_KEY = "og-trials"
    settings.OPSGENIE_API_URL = http_receiver.url
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}{SLACK_PATH}"
    settings.ALERT_HTTP_TIMEOUT = 2.0
    settings.SITE_URL = "https://mi-admin.example.com"
    return http_receiver


@pytest.fixture
def eager() -> Iterator[None]:
    """Tasks run in the test process (Celery's eager mode): the real task code."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def by_channel(receiver):
    pagerduty = [r.json() for r in receiver.requests if r.route == "/v2/enqueue"]
    opsgenie = [r for r in receiver.requests if r.route.startswith("/v2/alerts")]
    slack = [r.json() for r in receiver.requests if r.route == SLACK_PATH]
    return pagerduty, opsgenie, slack


def make_trial(slug="globex-trial", *, owner=None, ends_on=END, **fields):
    fields.setdefault("kind", InstanceKind.TRIAL)
    return make_instance(
        slug,
        customer=make_customer(slug.split("-")[0]),
        trial_ends_on=ends_on,
        owner=owner,
        **fields,
    )


def check(day, capture):
    with capture(execute=True):
        return trials_check(today=day, calendar=US)


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_the_owning_ce_is_asked_once_on_the_decision_day(
    channels, persona, django_capture_on_commit_callbacks
):
    # given a trial ending on Friday 12 March, owned by a CE
    ce = persona("ce")
    trial = make_trial(owner=ce)
    # when the check runs the day before the decision day: nothing
    assert check(dt.date(2027, 3, 4), django_capture_on_commit_callbacks).asked == []
    assert channels.requests == []
    # when it runs on the decision day, and again on the next working day
    first = check(dt.date(2027, 3, 5), django_capture_on_commit_callbacks)
    second = check(dt.date(2027, 3, 8), django_capture_on_commit_callbacks)
    # then the CE was asked once, through Slack only (a message, not a page)
    assert (first.asked, second.asked) == (["globex-trial"], [])
    pagerduty, opsgenie, slack = by_channel(channels)
    assert (len(pagerduty), len(opsgenie), len(slack)) == (0, 0, 1)
    text = str(slack[0])
    assert "Trial globex-trial" in slack[0]["text"]
    assert "ends on 2027-03-12" in slack[0]["text"]
    assert ce.get_full_name() in slack[0]["text"]
    # and the message links to a prefilled trial-extension request and a teardown request
    links = [
        href
        for href in (part.split("|")[0] for part in text.split("<")[1:])
        if "/requests/new/" in href
    ]
    queries = [parse_qs(urlsplit(link).query) for link in links]
    assert {"kind": ["trial_extension"], "instance": ["globex-trial"]} in queries
    assert {"kind": ["teardown"], "instance": ["globex-trial"]} in queries
    notice = TrialNotice.objects.get(instance=trial)
    assert notice.kind == TrialNoticeKind.DECISION_ASKED
    assert notice.recipient == ce
    assert notice.sent_at is not None
    assert notice.channels_sent == ["slack"]
    assert AuditEvent.objects.filter(action="instance.trial_decision_asked").count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_the_customers_ce_is_asked_when_the_instance_has_no_owner(
    channels, persona, django_capture_on_commit_callbacks
):
    ce = persona("ce")
    trial = make_trial(ends_on=END)
    trial.customer.owner_ce = ce
    trial.customer.save()
    check(dt.date(2027, 3, 5), django_capture_on_commit_callbacks)
    assert TrialNotice.objects.get(instance=trial).recipient == ce


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_an_expired_trial_without_a_decision_pages_devops_once(
    channels, django_capture_on_commit_callbacks
):
    # given a trial past its end (the CE was asked before)
    make_trial()
    check(dt.date(2027, 3, 5), django_capture_on_commit_callbacks)
    channels.requests.clear()
    # when the check runs on its last day: no page yet
    assert check(END, django_capture_on_commit_callbacks).paged == []
    # when it runs the day after, and the day after that
    first = check(dt.date(2027, 3, 13), django_capture_on_commit_callbacks)
    second = check(dt.date(2027, 3, 14), django_capture_on_commit_callbacks)
    # then DevOps was paged once, on every channel
    assert (first.paged, second.paged) == (["globex-trial"], [])
    pagerduty, opsgenie, slack = by_channel(channels)
    assert (len(pagerduty), len(opsgenie), len(slack)) == (1, 1, 1)
    assert pagerduty[0]["event_action"] == "trigger"
    assert pagerduty[0]["payload"]["severity"] == "error"
    assert pagerduty[0]["dedup_key"] == "mi-admin/globex-trial/trial-expired/2027-03-12"
    assert "expired on 2027-03-12 with no decision" in pagerduty[0]["payload"]["summary"]


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
@pytest.mark.parametrize(
    "decision",
    ["extended", "converted", "teardown under way", "suspension under way", "suspended"],
)
def test_a_decision_stops_the_page(channels, devops, django_capture_on_commit_callbacks, decision):
    # given a trial that reached its end
    trial = make_trial()
    # when a decision was taken before the check ran the day after
    if decision == "extended":
        instance_trial_end_set(
            instance=trial, ends_on=dt.date(2027, 4, 30), actor=devops, reason="POC extended"
        )
    elif decision == "converted":
        instance_trial_convert(instance=trial, actor=devops, reason="contract signed")
    elif decision == "teardown under way":
        make_operation(trial, kind=OperationKind.TEARDOWN)
    elif decision == "suspension under way":
        make_operation(trial, kind=OperationKind.SUSPEND)
    else:
        Instance.objects.filter(pk=trial.pk).update(state=LifecycleState.SUSPENDED)
    report = check(dt.date(2027, 3, 15), django_capture_on_commit_callbacks)
    # then nobody is paged
    assert report.paged == []
    assert not TrialNotice.objects.filter(kind=TrialNoticeKind.EXPIRED).exists()
    assert channels.requests == []


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_a_past_suspension_and_another_operation_under_way_are_no_decision(
    channels, django_capture_on_commit_callbacks
):
    # given an expired trial once suspended (finished), now with a sync under way
    trial = make_trial()
    make_operation(trial, kind=OperationKind.SUSPEND, state=OperationState.SUCCEEDED)
    make_operation(trial, kind=OperationKind.SYNC)
    # when the check runs after the end: it still pages
    assert check(dt.date(2027, 3, 13), django_capture_on_commit_callbacks).paged == ["globex-trial"]


@pytest.mark.django_db
@pytest.mark.usefixtures("eager")
def test_an_extended_trial_is_asked_about_again_for_its_new_end(
    channels, devops, django_capture_on_commit_callbacks
):
    trial = make_trial()
    check(dt.date(2027, 3, 5), django_capture_on_commit_callbacks)
    instance_trial_end_set(
        instance=trial, ends_on=dt.date(2027, 4, 16), actor=devops, reason="POC extended"
    )
    # the new end's decision day is Friday 9 April
    assert check(dt.date(2027, 4, 8), django_capture_on_commit_callbacks).asked == []
    assert check(dt.date(2027, 4, 9), django_capture_on_commit_callbacks).asked == ["globex-trial"]
    ends = sorted(TrialNotice.objects.values_list("trial_ends_on", flat=True))
    assert ends == [END, dt.date(2027, 4, 16)]


@pytest.mark.django_db
def test_a_failed_channel_is_sent_again_alone(channels):
    # given an expired trial's page; Opsgenie refuses it the first time (400)
    trial = make_trial()
    trials_check(today=dt.date(2027, 3, 13), calendar=US)
    notice = TrialNotice.objects.get(instance=trial)
    channels.script(Reply(202), Reply(400, body=b"bad key"))
    first = trial_notice_send(notice_id=notice.pk, retry_attempts=1)
    notice.refresh_from_db()
    assert first.sent == ["pagerduty", "slack"]
    assert set(first.failed) == {"opsgenie"}
    assert notice.sent_at is None
    assert "opsgenie" in notice.last_error
    # when it is sent again: only Opsgenie gets it, and it is done
    channels.requests.clear()
    second = trial_notice_send(notice_id=notice.pk, retry_attempts=1)
    notice.refresh_from_db()
    assert second.sent == ["opsgenie"]
    assert [r.route for r in channels.requests] == ["/v2/alerts"]
    assert notice.sent_at is not None
    assert notice.channels_sent == ["opsgenie", "pagerduty", "slack"]
    # and sending a sent notice sends nothing
    assert trial_notice_send(notice_id=notice.pk).sent == []


@pytest.mark.django_db
def test_with_no_channel_configured_the_notice_is_recorded(settings):
    settings.PAGERDUTY_ROUTING_KEY = settings.OPSGENIE_API_KEY = settings.SLACK_WEBHOOK_URL = ""
    trial = make_trial()
    trials_check(today=dt.date(2027, 3, 5), calendar=US)
    notice = TrialNotice.objects.get(instance=trial)
    assert configured_notifiers() == []
    trial_notice_send(notice_id=notice.pk)
    notice.refresh_from_db()
    assert notice.sent_at is not None
    assert notice.channels_sent == []


# --- editing ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_moving_the_end_date_is_audited_with_the_reason(devops):
    trial = make_trial()
    instance_trial_end_set(
        instance=trial, ends_on=dt.date(2027, 4, 30), actor=devops, reason="POC extended"
    )
    trial.refresh_from_db()
    assert trial.trial_ends_on == dt.date(2027, 4, 30)
    (event,) = AuditEvent.objects.filter(action="instance.trial_end_changed")
    assert event.actor_id == devops.pk
    assert event.before == {"trial_ends_on": "2027-03-12"}
    assert event.after == {"trial_ends_on": "2027-04-30", "reason": "POC extended"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "ends_on", "reason", "message"),
    [
        ({}, dt.date(2027, 4, 30), " ", "reason is required"),
        ({"kind": InstanceKind.PRODUCTION}, dt.date(2027, 4, 30), "why", "not a trial"),
        (
            {"went_live_at": dt.datetime(2027, 2, 10, tzinfo=dt.UTC)},
            dt.date(2027, 2, 1),
            "why",
            "before it went live",
        ),
    ],
)
def test_a_bad_end_date_change_is_refused_and_changes_nothing(
    devops, fields, ends_on, reason, message
):
    trial = make_trial(**fields)
    with pytest.raises(ValidationError, match=message):
        instance_trial_end_set(instance=trial, ends_on=ends_on, actor=devops, reason=reason)
    trial.refresh_from_db()
    assert trial.trial_ends_on == END
    assert not AuditEvent.objects.filter(action="instance.trial_end_changed").exists()


@pytest.mark.django_db
def test_converting_and_changing_the_owner_are_audited(devops, persona):
    trial = make_trial()
    ce = persona("ce")
    instance_owner_set(instance=trial, owner=ce, actor=devops)
    instance_trial_convert(instance=trial, actor=devops, reason="contract signed")
    trial.refresh_from_db()
    assert (trial.kind, trial.owner) == (InstanceKind.PRODUCTION, ce)
    owner_event = AuditEvent.objects.get(action="instance.owner_changed")
    assert owner_event.after == {"owner": ce.username}
    converted = AuditEvent.objects.get(action="instance.trial_converted")
    assert converted.after == {"kind": "production", "reason": "contract signed"}
    with pytest.raises(ValidationError, match="not a trial"):
        instance_trial_convert(instance=trial, actor=devops, reason="again")


# --- two beat runs at once, each on its own database connection ---------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager")
def test_two_checks_at_once_ask_once_and_page_once(channels, persona):
    # given the tasks registered, as in the worker that runs beat's checks
    importlib.import_module("instances.tasks")
    # and a trial on its decision day
    trial = make_trial(owner=persona("ce"))
    # when two beat runs check at once
    asked = run_at_once(
        partial(trials_check, today=dt.date(2027, 3, 5), calendar=US),
        partial(trials_check, today=dt.date(2027, 3, 5), calendar=US),
    )
    # then one of them asked, one notice exists, and Slack got one message
    reports = [r for r in asked if isinstance(r, TrialsReport)]
    assert sorted(len(r.asked) for r in reports) == [0, 1], asked
    assert TrialNotice.objects.filter(instance=trial).count() == 1
    assert len(by_channel(channels)[2]) == 1
    # when two runs check at once after the end
    channels.requests.clear()
    paged = run_at_once(
        partial(trials_check, today=dt.date(2027, 3, 13), calendar=US),
        partial(trials_check, today=dt.date(2027, 3, 13), calendar=US),
    )
    # then DevOps was paged once per channel
    reports = [r for r in paged if isinstance(r, TrialsReport)]
    assert sorted(len(r.paged) for r in reports) == [0, 1], paged
    pagerduty, opsgenie, slack = by_channel(channels)
    assert (len(pagerduty), len(opsgenie), len(slack)) == (1, 1, 1)
    assert TrialNotice.objects.filter(kind=TrialNoticeKind.EXPIRED).count() == 1
