"""The monthly uptime report: figures checked against hand-computed values (maintenance,
downtime, a partial month), the page, the CSV and bad months.

June 2026 has 30 days = 43 200 minutes; its Mondays are the 1st, 8th, 15th, 22nd and 29th.
Rollups are one sample a minute (1 440 a day).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time

import pytest
from django.urls import reverse

from health.choices import WindowKind
from health.models import HealthDaily, HealthSample, Incident, MaintenanceWindow
from health.rollups import rollups_add_samples
from health.selectors.monthly import ReportMonthError, monthly_uptime, parse_month
from instances.choices import LifecycleState
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db

JUNE = date(2026, 6, 1)
AFTER_JUNE = datetime(2026, 7, 15, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def one_off(instance, start: datetime, end: datetime) -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(
        instance=instance, kind=WindowKind.ONE_OFF, starts_at=start, ends_at=end, reason="work"
    )


def rollup(instance, day: int, *, ok: int, excluded: int = 0, samples: int = 1440) -> None:
    HealthDaily.objects.create(
        instance=instance,
        day=date(2026, 6, day),
        samples=samples,
        ok_samples=ok,
        excluded_samples=excluded,
    )


def incident(instance, opened: datetime, cause: str = "down") -> None:
    Incident.objects.create(
        instance=instance,
        cause=cause,
        dedup_key=f"mi-admin/{instance.slug}/{cause}/{opened:%Y%m%d%H}",
        state="resolved",
        summary="down",
        opened_at=opened,
        resolved_at=opened,
    )


@pytest.fixture
def june(settings):
    """Two instances through June 2026 (see each block's arithmetic)."""
    settings.UPTIME_SLA_TARGET_PCT = 99.5
    settings.UPTIME_MAINTENANCE_ALLOWANCE_HOURS_PER_QUARTER = 10
    # acme went live on June 16 at 00:00: 15 days of June = 21 600 minutes.
    acme = make_instance("acme-prod", went_live_at=at(16))
    # Maintenance of acme, in June after it went live:
    #   one-off June 20 10:00-14:00                         240 min
    #   weekly Mondays 02:00-03:00 (added June 1): June 22, 29   60 + 60 min
    #   one-off June 22 01:30-02:30 overlaps the Monday window: the union on June 22 is
    #   01:30-03:00 = 90 min (not 60 + 60)
    #   => 240 + 90 + 60 = 390 min = 6.5 h. Not counted: June 10 00:00-05:00 (before live).
    one_off(acme, at(20, 10), at(20, 14))
    one_off(acme, at(22, 1, 30), at(22, 2, 30))
    one_off(acme, at(10), at(10, 5))
    weekly = MaintenanceWindow.objects.create(
        instance=acme,
        kind=WindowKind.WEEKLY,
        weekday=0,
        start_time=time(2, 0),
        duration_minutes=60,
        reason="patching",
    )
    MaintenanceWindow.objects.filter(pk=weekly.pk).update(created_at=at(1))
    # Rollups (one sample a minute). June 15 is provisioning (100 failed probes): ignored.
    #   June 16-30 = 15 days x 1 440 = 21 600 samples
    #   excluded (in maintenance): June 20: 240, June 22: 90, June 29: 60 => 390
    #   failed outside maintenance: June 22: 30, June 25: 90 => 120
    #   counted = 21 600 - 390 = 21 210; ok = 21 210 - 120 = 21 090
    #   uptime = 21 090 / 21 210 = 99.434229... %  -> misses 99.5 %
    #   downtime = (1 - 21 090 / 21 210) x (21 600 - 390) = 120 / 21 210 x 21 210 = 120.0 min
    rollup(acme, 15, samples=100, ok=0)
    excluded = {20: 240, 22: 90, 29: 60}
    failed = {22: 30, 25: 90}
    for day in range(16, 31):
        if day == 25:
            continue  # written through the sweep's own rollup code below
        out = excluded.get(day, 0)
        rollup(acme, day, ok=1440 - out - failed.get(day, 0), excluded=out)
    # June 25 from raw samples: 1 350 ok, 90 failed, none in maintenance.
    rollups_add_samples(
        samples=[
            HealthSample(instance=acme, probed_at=at(25, n // 60, n % 60), ok=n >= 90)
            for n in range(1440)
        ]
    )
    # Down incidents of acme: June 12 (before live), June 25 and June 29 (counted), July 1
    # (next month) => 2. A version-SLA incident on June 26 is not about uptime: not counted.
    for opened in (at(12), at(25, 3), at(29, 8), at(1, 0, 0, month=7)):
        incident(acme, opened)
    incident(acme, at(26), cause="version_sla")

    # bolt has been live since January: the whole of June (43 200 min).
    bolt = make_instance("bolt-prod", went_live_at=datetime(2026, 1, 10, tzinfo=UTC))
    #   maintenance: June 3 00:00-05:00 = 300 min; a weekly Saturday 04:00-04:30 window
    #   added on June 24 counts only on June 27 (not the 6th, 13th, 20th: it did not exist)
    #   = 30 min => 330 min = 5.5 h in June; April 7 08:00-15:00 = 7 h
    #   quarter to date (April 1 - June 30) = 7 + 5.5 = 12.5 h > 10 h allowance => over
    #   rollups: 30 days, 300 samples excluded on June 3 and 30 on June 27, no failure
    #   => 100 %, met, 0 min.
    one_off(bolt, at(3), at(3, 5))
    one_off(bolt, at(7, 8, month=4), at(7, 15, month=4))
    saturdays = MaintenanceWindow.objects.create(
        instance=bolt,
        kind=WindowKind.WEEKLY,
        weekday=5,
        start_time=time(4, 0),
        duration_minutes=30,
        reason="backups",
    )
    MaintenanceWindow.objects.filter(pk=saturdays.pk).update(created_at=at(24, 9))
    bolt_excluded = {3: 300, 27: 30}
    for day in range(1, 31):
        out = bolt_excluded.get(day, 0)
        rollup(bolt, day, ok=1440 - out, excluded=out)
    # Not in June's fleet report: live from July 5; and one still being requested.
    make_instance("cold-prod", went_live_at=at(5, month=7))
    make_instance("dawn-prod", state=LifecycleState.REQUESTED)
    return acme, bolt


def test_figures_match_the_hand_computed_values(june):
    rows = {row.instance.slug: row.figures for row in monthly_uptime(month=JUNE, now=AFTER_JUNE)}
    assert list(rows) == ["acme-prod", "bolt-prod"]

    acme = rows["acme-prod"]
    assert acme.period_start == at(16)
    assert acme.period_end == at(1, month=7)
    assert acme.covered_minutes == 21_600
    assert acme.month_minutes == 43_200
    assert acme.partial
    assert acme.coverage == "over 15 days"
    assert acme.maintenance_minutes == 390
    assert acme.maintenance_hours == 6.5
    assert acme.uptime_pct == pytest.approx(21_090 / 21_210 * 100)
    assert acme.uptime_pct is not None
    assert round(acme.uptime_pct, 3) == 99.434
    assert acme.downtime_minutes == pytest.approx(120.0)
    assert acme.incidents == 2
    assert acme.sla_met is False
    assert acme.quarter_maintenance_hours == 6.5  # the quarter starts for it on June 16
    assert not acme.over_allowance

    bolt = rows["bolt-prod"]
    assert not bolt.partial
    assert bolt.coverage == ""
    assert bolt.covered_minutes == 43_200
    assert bolt.uptime_pct == 100.0
    assert bolt.downtime_minutes == 0.0
    assert bolt.maintenance_hours == 5.5
    assert bolt.quarter_maintenance_hours == 12.5
    assert bolt.over_allowance
    assert bolt.sla_met is True
    assert bolt.incidents == 0


def test_the_current_month_is_computed_up_to_now(june):
    # On June 10 at 12:00, bolt's June so far is 9 d 12 h = 13 680 min; its rollups of June
    # 1-10 have 14 400 samples, 300 excluded, all others ok => 100 %; maintenance 5 h.
    # acme is not live yet: no period, no figure.
    now = at(10, 12)
    rows = {row.instance.slug: row.figures for row in monthly_uptime(month=JUNE, now=now)}
    bolt = rows["bolt-prod"]
    assert bolt.covered_minutes == 13_680
    assert bolt.coverage == "over 9 days"
    assert bolt.maintenance_hours == 5.0
    assert bolt.uptime_pct == 100.0
    acme = rows["acme-prod"]
    assert acme.period_start is None
    assert acme.uptime_pct is None
    assert acme.sla_met is None


def test_a_lower_target_and_allowance_come_from_the_settings(june, settings):
    settings.UPTIME_SLA_TARGET_PCT = 99.4
    settings.UPTIME_MAINTENANCE_ALLOWANCE_HOURS_PER_QUARTER = 12.5
    rows = {row.instance.slug: row.figures for row in monthly_uptime(month=JUNE, now=AFTER_JUNE)}
    assert rows["acme-prod"].sla_met is True  # 99.434 % >= 99.4 %
    assert not rows["bolt-prod"].over_allowance  # 12.5 h of 12.5 h is not over


def test_months_are_parsed_or_refused_clearly():
    assert parse_month("2026-06", now=AFTER_JUNE) == JUNE
    assert parse_month("", now=AFTER_JUNE) == date(2026, 7, 1)
    for bad in ("June", "2026-13", "2026", "2026-06-01x"):
        with pytest.raises(ReportMonthError, match="YYYY-MM"):
            parse_month(bad, now=AFTER_JUNE)
    with pytest.raises(ReportMonthError, match="not begun"):
        parse_month("2026-08", now=AFTER_JUNE)


def test_the_page_and_csv_show_the_figures(june, client):
    client.force_login(make_persona("ce"))
    response = client.get(reverse("health:uptime_report"), {"month": "2026-06"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "99.43 %" in page
    assert "over 15 days" in page
    assert "120.0 min" in page
    assert "12.50 of 10 h" in page
    assert "cold-prod" not in page
    assert "1 met the target, 1 missed it, 0 without data" in page
    assert "css/uptime_report.css" in page  # the print stylesheet

    export = client.get(reverse("health:uptime_report_export"), {"month": "2026-06"})
    assert export.status_code == 200
    lines = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [line["slug"] for line in lines] == ["acme-prod", "bolt-prod"]
    acme, bolt = lines
    assert acme["uptime_pct"] == "99.434"
    assert acme["downtime_minutes"] == "120.0"
    assert acme["incidents"] == "2"
    assert acme["maintenance_hours"] == "6.5"
    assert acme["coverage"] == "over 15 days"
    assert acme["sla"] == "missed"
    assert bolt["over_allowance"] == "True"
    assert bolt["sla"] == "met"

    one = client.get(
        reverse("health:instance_uptime_report_export", args=["bolt-prod"]), {"month": "2026-06"}
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(one.streaming_content).decode())))
    assert [row["slug"] for row in rows] == ["bolt-prod"]


def test_a_bad_month_is_a_clear_400(june, client):
    client.force_login(make_persona("manager"))
    response = client.get(reverse("health:uptime_report"), {"month": "June"})
    assert response.status_code == 400
    assert "write it as YYYY-MM" in response.content.decode()
    export = client.get(reverse("health:uptime_report_export"), {"month": "2099-01"})
    assert export.status_code == 400
    assert "has not begun" in export.content.decode()
