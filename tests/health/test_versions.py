"""Health's part of versions: the version-SLA incidents and their muting; the health filter
and summary counts. Version semantics are tested in tests/instances/test_versions.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from health.choices import IncidentCause, IncidentState, WindowKind
from health.models import Incident, InstanceHealth, MaintenanceWindow
from health.selectors import filter_health, health_summary
from health.services.version_sla import version_slas_check
from instances.models import Instance
from tests.instances.factories import make_instance, make_release, make_version_fleet


@pytest.fixture
def fleet(db):
    return make_version_fleet()


def slugs(queryset) -> set[str]:
    return set(queryset.values_list("slug", flat=True))


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
