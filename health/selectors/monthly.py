"""The monthly uptime report: per instance and calendar month (UTC), uptime excluding
maintenance, downtime minutes, incidents, maintenance used against the quarter's allowance,
and whether the SLA target was met.

The figures come from :func:`month_figures`, a pure function over the rows; the database is
read by :func:`monthly_uptime` in four queries whatever the fleet (instances, daily rollups,
maintenance windows, incident counts).

- The report covers ``[max(month start, live from), min(month end, now))``: ``live from`` is
  when the instance went live (or was first recorded, for one imported from the inventory).
  Anything shorter than the month says over how much of it the figure is computed.
- Uptime is the share of ok probes among those outside maintenance (the daily rollups, so a
  month whose raw samples were pruned still reports), as everywhere else in health.
- Incidents are the "instance down" incidents opened in the period.
- Downtime minutes are that uptime's complement applied to the minutes outside maintenance:
  ``(100 - uptime) / 100 * (covered minutes - maintenance minutes)``.
- Maintenance minutes are the union of the instance's windows clipped to the period (an
  overlap counts once). A weekly window counts from when it was added (before that, probes
  were not excused by it); a one-off window, retroactive ones included, counts over its span.
- Maintenance used against the allowance is the quarter to date: from the quarter's first
  day (or live from) to the end of the report's period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from health.choices import IncidentCause, WindowKind
from health.conf import health_settings
from health.coverage import coverage_note
from health.models import HealthDaily, Incident, MaintenanceWindow
from health.rollups import day_of
from instances.choices import LifecycleState
from instances.models import Instance

Span = tuple[datetime, datetime]

# Never live: nothing to report on.
_NOT_LIVE = (LifecycleState.REQUESTED, LifecycleState.PROVISIONING)


class ReportMonthError(ValueError):
    """The month asked for cannot be reported (malformed, or not begun yet)."""


def month_bounds(month: date) -> Span:
    """The UTC span ``[first day 00:00, next month's first day 00:00)`` of ``month``."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=UTC)


def quarter_start(month: date) -> datetime:
    return datetime(month.year, (month.month - 1) // 3 * 3 + 1, 1, tzinfo=UTC)


def parse_month(text: str, *, now: datetime) -> date:
    """``YYYY-MM`` (empty: the current month) as the month's first day; a clear error for
    anything else or a month that has not begun."""
    if not text:
        today = day_of(now)
        return date(today.year, today.month, 1)
    try:
        year, number = (int(part) for part in text.split("-", 1))
        parsed = date(year, number, 1)
    except ValueError:
        raise ReportMonthError(f"“{text}” is not a month: write it as YYYY-MM.") from None
    if month_bounds(parsed)[0] > now:
        raise ReportMonthError(f"{text} has not begun yet: nothing to report.")
    return parsed


def window_spans(window: MaintenanceWindow, start: datetime, end: datetime) -> list[Span]:
    """The occurrences of ``window`` that overlap ``[start, end)``, clipped to it."""
    if window.kind == WindowKind.ONE_OFF:
        if window.starts_at is None or window.ends_at is None:
            return []
        spans = [(window.starts_at, window.ends_at)]
    else:
        if window.duration_minutes is None:
            return []
        # A weekly window excused nothing before it existed.
        start = max(start, window.created_at) if window.created_at else start
        first = window.occurrence(start)
        spans = []
        step, length = timedelta(days=7), timedelta(minutes=window.duration_minutes)
        occurrence = first[0] if first else start
        while first is not None and occurrence < end:
            spans.append((occurrence, occurrence + length))
            occurrence += step
    return [(max(s, start), min(e, end)) for s, e in spans if s < end and e > start]


def maintenance_minutes(
    windows: Iterable[MaintenanceWindow], start: datetime, end: datetime
) -> float:
    """Minutes of ``[start, end)`` inside at least one window (overlaps count once)."""
    spans = sorted(span for window in windows for span in window_spans(window, start, end))
    total = timedelta()
    current: Span | None = None
    for span_start, span_end in spans:
        if current is not None and span_start <= current[1]:
            current = (current[0], max(current[1], span_end))
            continue
        if current is not None:
            total += current[1] - current[0]
        current = (span_start, span_end)
    if current is not None:
        total += current[1] - current[0]
    return total.total_seconds() / 60


@dataclass(frozen=True)
class DayCounts:
    """One day's rollup: all samples, the ok ones outside maintenance, those in maintenance."""

    samples: int
    ok: int
    excluded: int


@dataclass(frozen=True)
class MonthFigures:
    """One instance's month. Percentages are 0 to 100; ``None`` where nothing was probed."""

    month: date
    period_start: datetime | None  # None: not live at any moment of the month
    period_end: datetime | None
    month_minutes: float
    covered_minutes: float
    maintenance_minutes: float
    uptime_pct: float | None
    downtime_minutes: float | None
    incidents: int
    quarter_maintenance_minutes: float
    allowance_hours: float
    sla_target_pct: float

    @property
    def counted_minutes(self) -> float:
        return self.covered_minutes - self.maintenance_minutes

    @property
    def partial(self) -> bool:
        return bool(self.coverage)

    @property
    def coverage(self) -> str:
        """Says over how much of the month a partial figure is computed ("" for all of it)."""
        return coverage_note(
            timedelta(minutes=self.covered_minutes), timedelta(minutes=self.month_minutes)
        )

    @property
    def sla_met(self) -> bool | None:
        return None if self.uptime_pct is None else self.uptime_pct >= self.sla_target_pct

    @property
    def maintenance_hours(self) -> float:
        return self.maintenance_minutes / 60

    @property
    def quarter_maintenance_hours(self) -> float:
        return self.quarter_maintenance_minutes / 60

    @property
    def over_allowance(self) -> bool:
        return self.quarter_maintenance_hours > self.allowance_hours


def month_figures(
    *,
    month: date,
    now: datetime,
    live_from: datetime | None,
    days: Sequence[DayCounts],
    windows: Sequence[MaintenanceWindow],
    incidents_opened: Iterable[datetime],
    sla_target_pct: float,
    allowance_hours: float,
) -> MonthFigures:
    """One instance's figures for ``month``, from its rows (no database access).

    ``days`` are the instance's rollups of the period's days; ``windows`` its maintenance
    windows (any, they are clipped here); ``incidents_opened`` when its incidents opened
    (any: those outside the period, before it went live for instance, are not counted).
    """
    month_start, month_end = month_bounds(month)
    month_minutes = (month_end - month_start).total_seconds() / 60
    start = max(month_start, live_from) if live_from else month_start
    end = min(month_end, now)
    if start >= end:
        return MonthFigures(
            month,
            None,
            None,
            month_minutes,
            0.0,
            0.0,
            None,
            None,
            0,
            0.0,
            allowance_hours,
            sla_target_pct,
        )
    covered = (end - start).total_seconds() / 60
    maintenance = maintenance_minutes(windows, start, end)
    quarter_from = max(quarter_start(month), live_from) if live_from else quarter_start(month)
    quarter = maintenance_minutes(windows, quarter_from, end)
    counted_samples = sum(day.samples - day.excluded for day in days)
    ok_samples = sum(day.ok for day in days)
    uptime = ok_samples * 100.0 / counted_samples if counted_samples else None
    downtime = None if uptime is None else (100.0 - uptime) / 100.0 * (covered - maintenance)
    return MonthFigures(
        month=month,
        period_start=start,
        period_end=end,
        month_minutes=month_minutes,
        covered_minutes=covered,
        maintenance_minutes=maintenance,
        uptime_pct=uptime,
        downtime_minutes=downtime,
        incidents=sum(1 for opened in incidents_opened if start <= opened < end),
        quarter_maintenance_minutes=quarter,
        allowance_hours=allowance_hours,
        sla_target_pct=sla_target_pct,
    )


@dataclass(frozen=True)
class MonthlyUptimeRow:
    instance: Instance
    figures: MonthFigures


def live_from(instance: Instance) -> datetime:
    """When the instance started to count: it went live, or (imported from the inventory,
    never provisioned here) it was first recorded."""
    return instance.went_live_at or instance.created_at


def monthly_uptime(
    *, month: date, instance: Instance | None = None, now: datetime | None = None
) -> list[MonthlyUptimeRow]:
    """The report of ``month`` for one instance or the whole fleet (every instance live at
    some moment of the month), ordered by customer and slug; four queries whatever the fleet."""
    now = now or timezone.now()
    conf = health_settings()
    month_start, month_end = month_bounds(month)
    if instance is not None:
        instances = [instance]
    else:
        instances = list(
            Instance.objects.select_related("customer")
            .exclude(state__in=_NOT_LIVE, went_live_at__isnull=True)
            .filter(
                Q(went_live_at__lt=month_end)
                | Q(went_live_at__isnull=True, created_at__lt=month_end)
            )
            .order_by("customer__name", "slug")
        )
    ids = [candidate.pk for candidate in instances]
    end = min(month_end, now)
    days: dict[int, list[DayCounts]] = defaultdict(list)
    rollups = HealthDaily.objects.filter(
        instance_id__in=ids, day__gte=month_start.date(), day__lte=day_of(end)
    ).values("instance_id", "day", "samples", "ok_samples", "excluded_samples")
    starts = {candidate.pk: live_from(candidate) for candidate in instances}
    for row in rollups:
        # A day before the instance went live (provisioning probes) is not its service.
        if row["day"] < day_of(max(starts[row["instance_id"]], month_start)):
            continue
        days[row["instance_id"]].append(
            DayCounts(row["samples"], row["ok_samples"], row["excluded_samples"])
        )
    windows: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    relevant = Q(kind=WindowKind.WEEKLY) | Q(
        kind=WindowKind.ONE_OFF, starts_at__lt=end, ends_at__gt=quarter_start(month)
    )
    for window in MaintenanceWindow.objects.filter(relevant, instance_id__in=ids):
        windows[window.instance_id].append(window)
    opened: dict[int, list[datetime]] = defaultdict(list)
    # Down incidents only: a version-SLA incident is about currency, not availability.
    for instance_id, opened_at in Incident.objects.filter(
        instance_id__in=ids,
        cause=IncidentCause.DOWN,
        opened_at__gte=month_start,
        opened_at__lt=end,
    ).values_list("instance_id", "opened_at"):
        opened[instance_id].append(opened_at)
    rows = []
    for candidate in instances:
        start = starts[candidate.pk]
        figures = month_figures(
            month=month,
            now=now,
            live_from=start,
            days=days[candidate.pk],
            windows=windows[candidate.pk],
            incidents_opened=opened[candidate.pk],
            sla_target_pct=conf.sla_target_pct,
            allowance_hours=conf.maintenance_allowance_hours_per_quarter,
        )
        rows.append(MonthlyUptimeRow(candidate, figures))
    return rows


def fleet_totals(rows: Sequence[MonthlyUptimeRow]) -> dict[str, int]:
    """How many instances met, missed, or had no data against the SLA target."""
    totals = {"met": 0, "missed": 0, "no_data": 0}
    for row in rows:
        met = row.figures.sla_met
        totals["no_data" if met is None else "met" if met else "missed"] += 1
    return totals
