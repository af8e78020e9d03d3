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


def window(instance, start, minutes_from: int, minutes_to: int) -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(
        instance=instance,
        kind=WindowKind.ONE_OFF,
        starts_at=start + timedelta(minutes=minutes_from),
        ends_at=start + timedelta(minutes=minutes_to),
        reason="planned work",
    )


def test_24h_uptime_ignores_samples_in_maintenance_ok_or_failed(health_settings):
    # given a window 3 h ago holding 10 failed and 10 ok probes, and 20 ok probes around it
    acme = make_instance("acme-prod")
    start = timezone.now() - timedelta(hours=3)
    window(acme, start, 10, 30)
    # when the probes are recorded
    probe_results_record(
        results=probe_minutes(acme, start, "1" * 10 + "0" * 10 + "1" * 10 + "1" * 10)
    )
    # then 24 h uptime counts only the 20 probes outside the window: 100 %, not 75 %
    uptime = uptime_for_instances([acme.pk])[acme.pk]
    assert uptime.day == pytest.approx(100.0)


def test_daily_rollups_ignore_samples_in_maintenance_ok_or_failed(health_settings):
    # given a window two days ago holding 10 ok and 10 failed probes, 20 ok probes around it
    acme = make_instance("acme-prod")
    start = midday(2)
    window(acme, start, 10, 30)
    # when the probes are recorded
    probe_results_record(
        results=probe_minutes(acme, start, "1" * 10 + "1" * 10 + "0" * 10 + "1" * 10)
    )
    # then the day's rollup counts ok probes outside the window only, and every figure
    # drawn from it is 100 % (counting the 10 ok ones inside would make it 150 %)
    daily = HealthDaily.objects.get(instance=acme)
    assert (daily.samples, daily.ok_samples, daily.excluded_samples) == (40, 20, 20)
    uptime = uptime_for_instances([acme.pk])[acme.pk]
    assert (uptime.week, uptime.month) == (pytest.approx(100.0), pytest.approx(100.0))
    cell = next(c for c in status_bars([acme.pk])[acme.pk] if c.day == day_of(start))
    assert (cell.pct, cell.excluded) == (pytest.approx(100.0), 20)


def test_marking_maintenance_rebuilds_rollups_without_its_ok_samples(health_settings, admin_user):
    # given two days ago 20 ok and 10 failed probes, then 10 ok ones, none in maintenance
    acme = make_instance("acme-prod")
    start = midday(2)
    probe_results_record(results=probe_minutes(acme, start, "1" * 20 + "0" * 10 + "1" * 10))
    # when an Admin marks the first 30 minutes (ok and failed probes) as maintenance
    maintenance_mark_past(
        instance=acme,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        reason="planned DB failover, announced late",
        actor=admin_user,
        retention_days=35,
    )
    # then the rebuilt day counts the 10 ok probes after it: 100 %, not 300 %
    daily = HealthDaily.objects.get(instance=acme)
    assert (daily.samples, daily.ok_samples, daily.excluded_samples) == (40, 10, 30)
    assert uptime_for_instances([acme.pk])[acme.pk].month == pytest.approx(100.0)


def test_a_fresh_instance_says_over_how_many_days_its_30_day_uptime_runs(health_settings):
    # given an instance probed since the day before yesterday, and one on each of the last 40
    fresh = make_instance("fresh-prod")
    veteran = make_instance("veteran-prod")
    for days_ago in (1, 2):
        probe_results_record(results=probe_minutes(fresh, midday(days_ago), "11"))
    for days_ago in range(1, 41):
        probe_results_record(results=probe_minutes(veteran, midday(days_ago), "1"))
    # when their uptime is read
    uptime = uptime_for_instances([fresh.pk, veteran.pk])
    rows = health_for_instances([fresh.pk, veteran.pk])
    # then the fresh one's 30-day figure says it rests on 3 days (through today); the
    # veteran's needs no note
    assert (uptime[fresh.pk].month_days, uptime[fresh.pk].month_coverage) == (3, "over 3 days")
    assert rows[fresh.pk].uptime.month_coverage == "over 3 days"
    assert (uptime[veteran.pk].month_days, uptime[veteran.pk].month_coverage) == (30, "")
    assert rows[veteran.pk].uptime.month_days == 30


def test_a_day_only_in_maintenance_is_no_day_of_data(health_settings):
    # given an instance probed yesterday, and the day before only inside a window
    acme = make_instance("acme-prod")
    probe_results_record(results=probe_minutes(acme, midday(1), "11"))
    window(acme, midday(2), 0, 10)
    probe_results_record(results=probe_minutes(acme, midday(2), "00"))
    # then its 30-day figure rests on yesterday and today
    assert uptime_for_instances([acme.pk])[acme.pk].month_coverage == "over 2 days"
