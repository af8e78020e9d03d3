"""Uptime from samples and rollups, excluding maintenance, and the 90-day status bar."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from health.choices import WindowKind
from health.models import HealthDaily, HealthSample, MaintenanceWindow
from health.probes import ProbeResult
from health.rollups import day_of
from health.selectors import health_for_instances, status_bars, uptime_for_instances
from health.services.maintenance import MaintenanceError, maintenance_mark_past
from health.services.sweep import probe_results_record
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_instance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_alert_channels")]


def probe_minutes(instance, start, outcomes: str) -> list[ProbeResult]:
    """One probe a minute from ``start``: ``outcomes`` like "1110" (1 ok, 0 failed)."""
    return [
        ProbeResult(
            instance_id=instance.pk,
            probed_at=start + timedelta(minutes=n),
            ok=flag == "1",
            http_status=200 if flag == "1" else 500,
            latency_ms=40,
            version="5.9.0",
            error="" if flag == "1" else "HTTP 500",
        )
        for n, flag in enumerate(outcomes)
    ]


def midday(days_ago: int):
    now = timezone.now()
    return (now - timedelta(days=days_ago)).replace(hour=12, minute=0, second=0, microsecond=0)


def test_samples_in_a_window_do_not_count(health_settings):
    # given a one-off maintenance window two days ago, 12:10 to 12:20
    acme = make_instance("acme-prod")
    start = midday(2)
    MaintenanceWindow.objects.create(
        instance=acme,
        kind=WindowKind.ONE_OFF,
        starts_at=start + timedelta(minutes=10),
        ends_at=start + timedelta(minutes=20),
        reason="disk resize",
    )
    # when an hour of probes is recorded, failing exactly during the window
    probe_results_record(results=probe_minutes(acme, start, "1" * 10 + "0" * 10 + "1" * 40))
    # then the failures are flagged and excluded: 100 % over 7 and 30 days
    assert HealthSample.objects.filter(instance=acme, in_maintenance=True).count() == 10
    uptime = uptime_for_instances([acme.pk])[acme.pk]
    assert (uptime.day, uptime.week, uptime.month) == (None, 100.0, 100.0)
    daily = HealthDaily.objects.get(instance=acme)
    assert (daily.samples, daily.ok_samples, daily.excluded_samples) == (60, 50, 10)


def test_24h_uptime_comes_from_raw_samples(health_settings):
    # given 20 probes two hours ago, 5 of them failed, and a perfect day last week
    acme = make_instance("acme-prod")
    probe_results_record(
        results=probe_minutes(acme, timezone.now() - timedelta(hours=2), "0" * 5 + "1" * 15)
    )
    probe_results_record(results=probe_minutes(acme, midday(5), "1" * 20))
    # when uptime is read
    uptime = uptime_for_instances([acme.pk])[acme.pk]
    # then 24 h is 75 %, 7 d and 30 d count both days (35 of 40)
    assert uptime.day == pytest.approx(75.0)
    assert uptime.week == pytest.approx(87.5)
    assert uptime.month == pytest.approx(87.5)


def test_marking_past_downtime_recomputes_uptime(health_settings, admin_user):
    # given 100 minutes of probes three days ago with a 10-minute outage
    acme = make_instance("acme-prod")
    start = midday(3)
    probe_results_record(results=probe_minutes(acme, start, "1" * 50 + "0" * 10 + "1" * 40))
    assert uptime_for_instances([acme.pk])[acme.pk].week == pytest.approx(90.0)
    # when an Admin marks the outage as maintenance
    marked = maintenance_mark_past(
        instance=acme,
        starts_at=start + timedelta(minutes=50),
        ends_at=start + timedelta(minutes=60),
        reason="planned DB failover, announced late",
        actor=admin_user,
        retention_days=35,
    )
    # then the samples are re-flagged, the day's rollup rebuilt, and uptime is 100 %
    assert marked.samples_flagged == 10
    assert uptime_for_instances([acme.pk])[acme.pk].week == 100.0
    daily = HealthDaily.objects.get(instance=acme, day=day_of(start))
    assert (daily.samples, daily.ok_samples, daily.excluded_samples) == (100, 90, 10)
    # and the audit trail has the figures before and after
    event = AuditEvent.objects.get(action="health.downtime_marked_as_maintenance")
    assert event.actor_label == admin_user.username
    before, after = event.before or {}, event.after or {}
    assert before["uptime"]["7d"] == 90.0
    assert after["uptime"]["7d"] == 100.0
    assert after["reason"] == "planned DB failover, announced late"
    assert MaintenanceWindow.objects.get(instance=acme).retroactive


@pytest.mark.parametrize(
    ("start_ago", "end_ago", "message"),
    [
        (timedelta(hours=2), timedelta(hours=-1), "must be in the past"),
        (timedelta(hours=1), timedelta(hours=2), "end must be after the start"),
        (timedelta(days=40), timedelta(days=39), "Samples are kept 35 days"),
    ],
)
def test_marking_refuses_bad_ranges(admin_user, start_ago, end_ago, message):
    # given an instance; when an Admin marks a range that is not a past one within retention
    acme = make_instance("acme-prod")
    now = timezone.now()
    with pytest.raises(MaintenanceError, match=message):
        maintenance_mark_past(
            instance=acme,
            starts_at=now - start_ago,
            ends_at=now - end_ago,
            reason="x",
            actor=admin_user,
            retention_days=35,
        )
    # then nothing was recorded
    assert not MaintenanceWindow.objects.exists()


def test_status_bar_colours_each_day(health_settings):
    # given rollups for a few recent days
    acme = make_instance("acme-prod")
    today = day_of(timezone.now())
    for days_ago, samples, ok, excluded in [
        (1, 1000, 1000, 0),
        (2, 1000, 995, 0),
        (3, 1000, 900, 0),
        (5, 60, 0, 60),
    ]:
        HealthDaily.objects.create(
            instance=acme,
            day=today - timedelta(days=days_ago),
            samples=samples,
            ok_samples=ok,
            excluded_samples=excluded,
        )
    # when the status bar is read
    cells = status_bars([acme.pk])[acme.pk]
    # then it has 90 days ending today, coloured ok / warn / bad / idle
    assert len(cells) == 90
    assert cells[-1].day == today
    newest_first = [cell.level for cell in reversed(cells[-6:])]
    assert newest_first == ["idle", "ok", "warn", "bad", "idle", "idle"]
    assert cells[-6].title.endswith("maintenance only")
    assert cells[-3].title.endswith("99.50 % up")


def test_page_of_rows_costs_two_queries(health_settings, django_assert_num_queries):
    # given 3 instances with samples, then 12
    small = [make_instance(f"s{n}-prod") for n in range(3)]
    large = small + [make_instance(f"l{n}-prod") for n in range(9)]
    for instance in large:
        probe_results_record(
            results=probe_minutes(instance, timezone.now() - timedelta(minutes=4), "1011")
        )
    # when the rows of each page are read
    with django_assert_num_queries(2):
        few = health_for_instances([i.pk for i in small])
    with django_assert_num_queries(2):
        many = health_for_instances([i.pk for i in large])
    # then both take two queries and carry the figures
    assert len(few) == 3
    assert len(many) == 12
    assert many[large[-1].pk].uptime.day == pytest.approx(75.0)
    assert many[large[-1].pk].state == "healthy"
