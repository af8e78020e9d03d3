"""The status bar's day cells explain themselves: date, uptime (over how much of the day),
incidents and maintenance minutes, hand-computed; and the one coverage wording."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from health.choices import IncidentCause, IncidentState, WindowKind
from health.coverage import coverage_note
from health.models import HealthDaily, Incident, MaintenanceWindow
from health.selectors import status_bars
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)
LIVE = datetime(2026, 6, 8, 14, 30, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def one_off(instance, starts_at: datetime, ends_at: datetime) -> None:
    MaintenanceWindow.objects.create(
        instance=instance,
        kind=WindowKind.ONE_OFF,
        starts_at=starts_at,
        ends_at=ends_at,
        reason="planned work",
    )


def incident(instance, opened_at: datetime, cause: str = IncidentCause.DOWN) -> None:
    Incident.objects.create(
        instance=instance,
        cause=cause,
        dedup_key=f"{instance.slug}/{cause}/{opened_at.isoformat()}",
        state=IncidentState.RESOLVED,
        summary="down",
        opened_at=opened_at,
        resolved_at=opened_at + timedelta(minutes=20),
    )


def rollup(instance, day: int, samples: int, ok: int, excluded: int) -> None:
    HealthDaily.objects.create(
        instance=instance,
        day=date(2026, 6, day),
        samples=samples,
        ok_samples=ok,
        excluded_samples=excluded,
    )


@pytest.fixture
def acme():
    """acme went live on June 8 at 14:30; it is June 10, 18:00.

    June 8 (first day, live 9 h 30 min): window 10:00-16:00, of which 14:30-16:00 = 90 min
      count (before going live excused nothing); 490 samples, 90 in maintenance, 396 of the
      other 400 ok = 99.00 %.
    June 9: windows 02:00-03:30 and 03:00-04:00 overlap (02:00-04:00 = 120 min) and
      23:00-01:00 crosses midnight (60 min here) = 180 min; 1440 samples, 180 excluded, all
      1260 others ok = 100.00 %.
    June 10 (today, so far): the 23:00-01:00 window's other 60 min; a down incident at 05:00
      (a version-SLA one at 06:00 is about currency, not counted); 1080 samples, 60
      excluded, 1015 of 1020 ok = 99.51 %.
    """
    instance = make_instance("acme-prod", went_live_at=LIVE)
    one_off(instance, at(8, 10), at(8, 16))
    one_off(instance, at(9, 2), at(9, 3, 30))
    one_off(instance, at(9, 3), at(9, 4))
    one_off(instance, at(9, 23), at(10, 1))
    incident(instance, at(10, 5))
    incident(instance, at(10, 6), cause=IncidentCause.VERSION_SLA)
    rollup(instance, 8, 490, 396, 90)
    rollup(instance, 9, 1440, 1260, 180)
    rollup(instance, 10, 1080, 1015, 60)
    # another instance's incidents and windows are not acme's
    other = make_instance("bolt-prod", went_live_at=at(1, 0))
    one_off(other, at(9, 0), at(9, 12))
    incident(other, at(9, 1))
    rollup(other, 9, 1440, 1440, 0)
    return instance


def by_day(cells):
    return {cell.day.day: cell for cell in cells if cell.day.month == 6 and cell.day.year == 2026}


def test_each_day_has_its_uptime_incidents_and_maintenance(acme):
    cells = by_day(status_bars([acme.pk], now=NOW, details=True)[acme.pk])
    figures = {
        day: (round(cell.pct, 2), cell.incidents, cell.maintenance_minutes)
        for day, cell in cells.items()
        if day >= 8
    }
    assert figures == {8: (99.0, 0, 90), 9: (100.0, 0, 180), 10: (99.51, 1, 60)}
    assert cells[7].pct is None


def test_the_first_day_says_over_how_much_of_it_the_instance_was_live(acme):
    cells = by_day(status_bars([acme.pk], now=NOW, details=True)[acme.pk])
    assert cells[8].covered == timedelta(hours=9, minutes=30)
    assert cells[8].title == "2026-06-08: 99.00 % up over 9 h; 0 incidents; 90 min maintenance"
    # a whole day, and today so far, need no note
    assert cells[9].title == "2026-06-09: 100.00 % up; 0 incidents; 180 min maintenance"
    assert cells[10].title == "2026-06-10: 99.51 % up; 1 incident; 60 min maintenance"
    assert cells[7].title == "2026-06-07: no data; 0 incidents; 0 min maintenance"


def test_a_bar_of_any_size_costs_three_queries(acme, django_assert_num_queries):
    others = [make_instance(f"s{n}-prod", went_live_at=at(1, 0)) for n in range(5)]
    for instance in others:
        incident(instance, at(9, 9))
        one_off(instance, at(9, 1), at(9, 2))
    with django_assert_num_queries(3):
        one = status_bars([acme.pk], now=NOW, details=True)
    with django_assert_num_queries(3):
        many = status_bars([acme.pk, *(i.pk for i in others)], now=NOW, details=True)
    assert by_day(one[acme.pk])[10].incidents == 1
    assert by_day(many[others[0].pk])[9].maintenance_minutes == 60


def test_a_compact_bar_counts_nothing_more_and_claims_nothing(acme, django_assert_num_queries):
    with django_assert_num_queries(1):
        cells = by_day(status_bars([acme.pk], now=NOW)[acme.pk])
    assert cells[10].title == "2026-06-10: 99.51 % up"


@pytest.mark.parametrize(
    ("covered", "period", "note"),
    [
        (timedelta(days=30), timedelta(days=30), ""),
        (timedelta(days=30) - timedelta(seconds=20), timedelta(days=30), ""),
        (timedelta(days=12, hours=23), timedelta(days=30), "over 12 days"),
        (timedelta(days=29, hours=23), timedelta(days=30), "over 29 days"),
        (timedelta(hours=47), timedelta(days=30), "over 47 h"),
        (timedelta(hours=9, minutes=30), timedelta(days=1), "over 9 h"),
        (timedelta(minutes=40), timedelta(days=1), "over 40 min"),
    ],
)
def test_coverage_note_is_one_wording(covered, period, note):
    assert coverage_note(covered, period) == note


def test_the_health_page_cells_carry_their_explanation(client_for, acme, settings):
    # the page reads the real clock: acme's days are long gone, so give it today's day
    now = datetime.now(UTC)
    HealthDaily.objects.create(
        instance=acme, day=now.date(), samples=10, ok_samples=10, excluded_samples=0
    )
    incident(acme, now.replace(hour=0, minute=1, second=0, microsecond=0))
    body = client_for("ce").get(reverse("health:instance_health", args=["acme-prod"]))
    html = body.content.decode()
    day = now.date().isoformat()
    text = f"{day}: 100.00 % up; 1 incident; 0 min maintenance"
    cell = re.search(rf'<span class="hbar-cell hbar-ok" role="listitem"[^>]*data-day="{day}"', html)
    assert cell is not None
    assert f'title="{text}"' in cell.group(0)
    assert f'aria-label="{text}"' in cell.group(0)
    assert 'role="list" data-testid="status-bar"' in html
    # the legend's swatches are the bar's own colour classes, one per state
    legend = html[html.index('data-testid="status-bar-legend"') :]
    for level in ("ok", "warn", "bad", "idle"):
        assert f'class="hbar-swatch hbar-{level}"' in legend
