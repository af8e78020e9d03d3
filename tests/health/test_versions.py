"""The version SLA: current / due / overdue text, the rollout stage, filters, incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from health.choices import IncidentCause, IncidentState, WindowKind
from health.models import Incident, InstanceHealth, MaintenanceWindow
from health.selectors import filter_health, filter_version_sla, health_summary
from health.services.version_sla import version_slas_check
from health.versions import LatestRelease, version_status
from instances.choices import InstanceKind, LifecycleState, ReleaseKind
from instances.models import Instance
from mi_admin.sla import WorkCalendar
from tests.instances.factories import make_instance, make_release

RELEASED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, no US holiday nearby
MONTHLY = LatestRelease("5.9.0", ReleaseKind.MONTHLY, RELEASED)
CALENDAR = WorkCalendar()


def status(observed: str, after: timedelta, kind: str = InstanceKind.PRODUCTION):
    return version_status(
        observed=observed, kind=kind, release=MONTHLY, now=RELEASED + after, calendar=CALENDAR
    )


@pytest.mark.parametrize(
    ("observed", "after", "state", "text"),
    [
        ("5.9.0", timedelta(days=1), "current", "current"),
        ("5.10.0", timedelta(days=1), "current", "current"),  # ahead of the release
        ("5.8.0", timedelta(days=2), "due", "due in 5 days"),
        ("5.8.0", timedelta(days=6, hours=23), "due", "due in 1 day"),
        ("", timedelta(days=3), "due", "due in 4 days"),
        ("5.8.0", timedelta(days=9), "overdue", "overdue by 2 days"),
        ("5.8.0", timedelta(days=7, hours=1), "overdue", "overdue by 1 day"),
    ],
)
def test_version_sla_text(observed, after, state, text):
    # given the newest release on a Monday; when an instance on `observed` is judged later
    result = status(observed, after)
    # then the state and the words are these
    assert (result.state, result.text) == (state, text)


def test_at_risk_and_rollout_stage():
    # given a production and a trial instance behind, 9 calendar (7 working) days in
    production = status("5.8.0", timedelta(days=9))
    trial = status("5.8.0", timedelta(days=9), kind=InstanceKind.TRIAL)
    # then both are in the "broad" stage: all trials, 40 % of customers
    assert production.stage is not None
    assert (production.stage.name, production.stage.working_day) == ("broad", 7)
    assert (production.stage_target_pct, trial.stage_target_pct) == (40, 100)
    assert trial.expected_now
    assert not production.expected_now
    assert production.level == "bad"
    # and two days after the release only internal instances should have it
    early = status("5.8.0", timedelta(days=2))
    assert (early.stage.name, early.stage_target_pct, early.level) == ("internal", 0, "idle")
    # and the last day of the week is at risk
    assert status("5.8.0", timedelta(days=6, hours=23)).level == "warn"


def test_no_release_yet():
    # given no release; when judged; then there is nothing due
    result = version_status(
        observed="5.8.0", kind="trial", release=None, now=RELEASED, calendar=CALENDAR
    )
    assert (result.state, result.text) == ("no_release", "no release recorded")


@pytest.fixture
def fleet(db):
    """a: current, b: behind, c: behind but suspended, d: version only from the VM's
    metadata, e: ahead of the release."""
    return {
        "a": make_instance("a-prod", observed_version="5.9.0"),
        "b": make_instance("b-prod", observed_version="5.8.0"),
        "c": make_instance("c-prod", observed_version="5.8.0", state=LifecycleState.SUSPENDED),
        "d": make_instance("d-prod", observed_version="", vm_version="5.9.0"),
        "e": make_instance("e-trial", observed_version="5.10.0", kind=InstanceKind.TRIAL),
    }


def slugs(queryset) -> set[str]:
    return set(queryset.values_list("slug", flat=True))


def test_filters_and_summary_when_overdue(fleet):
    # given the newest release 10 days ago (so past its week)
    make_release("5.8.0", released_at=timezone.now() - timedelta(days=40))
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=10))
    all_instances = Instance.objects.all()
    # when filtered by version SLA
    # then b is the only overdue one; the suspended c is not held to it
    assert slugs(filter_version_sla(all_instances, "overdue")) == {"b-prod"}
    assert slugs(filter_version_sla(all_instances, "due")) == set()
    assert slugs(filter_version_sla(all_instances, "current")) == {"a-prod", "d-prod", "e-trial"}
    assert filter_version_sla(all_instances, "") is all_instances
    summary = health_summary()
    assert (summary.overdue, summary.due, summary.latest_version) == (1, 0, "5.9.0")


def test_filters_and_summary_within_the_week(fleet):
    # given the newest release 2 days ago
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=2))
    # then b is due, not overdue
    assert slugs(filter_version_sla(Instance.objects.all(), "due")) == {"b-prod"}
    assert slugs(filter_version_sla(Instance.objects.all(), "overdue")) == set()
    assert (health_summary().overdue, health_summary().due) == (0, 1)


def test_health_filter_and_summary_counts(fleet):
    # given a healthy, a down and a stale instance (c is suspended, the others unprobed)
    now = timezone.now()
    InstanceHealth.objects.create(instance=fleet["a"], state="healthy", last_probe_at=now)
    InstanceHealth.objects.create(instance=fleet["b"], state="down", last_probe_at=now)
    InstanceHealth.objects.create(
        instance=fleet["d"], state="healthy", last_probe_at=now - timedelta(hours=1)
    )
    everyone = Instance.objects.all()
    # when filtered by health; then each state finds its instances
    assert slugs(filter_health(everyone, "healthy")) == {"a-prod"}
    assert slugs(filter_health(everyone, "down")) == {"b-prod"}
    assert slugs(filter_health(everyone, "suspended")) == {"c-prod"}
    assert slugs(filter_health(everyone, "unknown")) == {"d-prod", "e-trial"}
    summary = health_summary()
    assert (
        summary.healthy,
        summary.degraded,
        summary.down,
        summary.unknown,
        summary.suspended,
    ) == (1, 0, 1, 2, 1)
    assert summary.overdue == 0  # no release recorded


@pytest.mark.usefixtures("eager_tasks")
def test_version_sla_incident_opens_and_resolves(
    db, alert_channels, health_settings, django_capture_on_commit_callbacks
):
    # given an instance still on 5.8.0 ten days after 5.9.0
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=10))
    behind = make_instance("behind-prod", observed_version="5.8.0")
    # when the hourly check runs (twice)
    with django_capture_on_commit_callbacks(execute=True):
        version_slas_check()
        version_slas_check()
    # then one incident is open and PagerDuty got one warning trigger
    incident = Incident.objects.get(cause=IncidentCause.VERSION_SLA)
    assert incident.dedup_key == "mi-admin/behind-prod/version_sla"
    assert incident.summary == "behind-prod runs 5.8.0, overdue by 3 days for 5.9.0"
    pagerduty = [r.json() for r in alert_channels.requests if r.route == "/v2/enqueue"]
    assert [(p["event_action"], p["payload"]["severity"]) for p in pagerduty] == [
        ("trigger", "warning")
    ]
    # when the instance reaches 5.9.0 and the check runs again
    Instance.objects.filter(pk=behind.pk).update(observed_version="5.9.0")
    with django_capture_on_commit_callbacks(execute=True):
        version_slas_check()
    # then the incident is resolved and the resolve sent once
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    pagerduty = [r.json() for r in alert_channels.requests if r.route == "/v2/enqueue"]
    assert [p["event_action"] for p in pagerduty] == ["trigger", "resolve"]


def test_version_sla_muted_in_maintenance(db, no_alert_channels):
    # given an overdue instance inside a maintenance window
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=10))
    behind = make_instance("behind-prod", observed_version="5.8.0")
    now = timezone.now()
    MaintenanceWindow.objects.create(
        instance=behind,
        kind=WindowKind.ONE_OFF,
        reason="upgrade",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    # when the check runs; then no incident is opened
    version_slas_check()
    assert not Incident.objects.exists()
