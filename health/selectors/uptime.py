"""Uptime: 24 h from raw samples, 7 d and 30 d from the daily rollups, and the daily status
bar; computed by the database for a whole page of instances in one query each.

Uptime excludes samples taken in maintenance; suspended periods have no samples at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    Avg,
    Case,
    DateField,
    ExpressionWrapper,
    F,
    FloatField,
    Min,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, NullIf
from django.utils import timezone

from health.choices import IncidentCause
from health.coverage import coverage_note
from health.models import HealthDaily, HealthSample, Incident
from health.rollups import day_bounds, day_of
from health.selectors.maintenance import windows_by_instance
from health.selectors.monthly import maintenance_minutes
from instances.models import Instance

BAR_DAYS = 90
UPTIME_MONTH_DAYS = 30
COMPACT_BAR_DAYS = 30  # a fleet-list row: the last 30 days (the instance page shows 90)
OK_PCT, WARN_PCT = 99.9, 99.0


def level_for(pct: float | None) -> str:
    """The colour of an uptime figure: ok (≥ 99.9 %), warn (≥ 99 %), bad, idle (no data)."""
    if pct is None:
        return "idle"
    if pct >= OK_PCT:
        return "ok"
    return "warn" if pct >= WARN_PCT else "bad"


@dataclass(frozen=True)
class Uptime:
    """Uptime percentages (0 to 100) or None where there is no sample to judge by."""

    day: float | None = None
    week: float | None = None
    month: float | None = None
    month_days: int = 0  # days from the first counted sample in the 30 to today

    def as_dict(self) -> dict[str, float | None]:
        return {"24h": _round(self.day), "7d": _round(self.week), "30d": _round(self.month)}

    @property
    def month_level(self) -> str:
        return level_for(self.month)

    @property
    def month_coverage(self) -> str:
        """Says "over 3 days" when the 30-day figure rests on fewer than 30 days of data."""
        if self.month is None:
            return ""
        return coverage_note(timedelta(days=self.month_days), timedelta(days=UPTIME_MONTH_DAYS))


def _round(pct: float | None) -> float | None:
    return None if pct is None else round(pct, 3)


@dataclass(slots=True)  # not frozen (a page builds thousands; frozen __init__ is slow)
class DayCell:
    """One day of the status bar. ``incidents`` (down incidents opened that day),
    ``maintenance_minutes`` and ``covered`` (how much of the day the instance was live, when
    less than all of it) are filled for a detailed bar only (``status_bars(details=True)``)."""

    day: date
    pct: float | None
    samples: int = 0
    excluded: int = 0
    incidents: int = 0
    maintenance_minutes: int = 0
    covered: timedelta | None = None
    detailed: bool = False  # incidents and maintenance were counted (else they are unknown)

    @property
    def level(self) -> str:
        return level_for(self.pct)

    @property
    def title(self) -> str:
        """What the cell says on hover and to screen readers: date, uptime (and over how
        much of the day), incidents, maintenance minutes."""
        if self.pct is None:
            figure = "maintenance only" if self.samples else "no data"
        else:
            figure = f"{self.pct:.2f} % up"
            if self.covered is not None:
                note = coverage_note(self.covered, _DAY)
                figure = f"{figure} {note}" if note else figure
        if not self.detailed:
            return f"{self.day.isoformat()}: {figure}"
        incidents = f"{self.incidents} incident{'' if self.incidents == 1 else 's'}"
        return (
            f"{self.day.isoformat()}: {figure}; {incidents}; "
            f"{self.maintenance_minutes} min maintenance"
        )


_DAY = timedelta(days=1)


@dataclass(frozen=True)
class UptimeSubqueries:
    day: Subquery
    week: Subquery
    month: Subquery
    month_first_day: Subquery


def uptime_subqueries(now: datetime) -> UptimeSubqueries:
    today = day_of(now)
    raw = (
        HealthSample.objects.filter(
            instance=OuterRef("pk"),
            probed_at__gt=now - timedelta(hours=24),
            probed_at__lte=now,
            in_maintenance=False,
        )
        .order_by()
        .values("instance")
        .annotate(
            pct=Avg(
                Case(
                    When(ok=True, then=Value(100.0)), default=Value(0.0), output_field=FloatField()
                )
            )
        )
        .values("pct")
    )

    def daily(days: int) -> Subquery:
        counted = ExpressionWrapper(
            Cast(Sum("ok_samples"), FloatField())
            * Value(100.0)
            / NullIf(Cast(Sum(F("samples") - F("excluded_samples")), FloatField()), Value(0.0)),
            output_field=FloatField(),
        )
        rows = (
            HealthDaily.objects.filter(
                instance=OuterRef("pk"), day__gt=today - timedelta(days), day__lte=today
            )
            .order_by()
            .values("instance")
            .annotate(pct=counted)
            .values("pct")
        )
        return Subquery(rows, output_field=FloatField())

    first_counted_day = (
        HealthDaily.objects.filter(
            instance=OuterRef("pk"),
            day__gt=today - timedelta(UPTIME_MONTH_DAYS),
            day__lte=today,
            samples__gt=F("excluded_samples"),
        )
        .order_by()
        .values("instance")
        .annotate(first=Min("day"))
        .values("first")
    )
    return UptimeSubqueries(
        Subquery(raw, output_field=FloatField()),
        daily(7),
        daily(UPTIME_MONTH_DAYS),
        Subquery(first_counted_day, output_field=DateField()),
    )


def uptime_30d_order(*, now: datetime | None = None) -> Subquery:
    """SQL: an instance's 30-day uptime (what the fleet list shows), for sorting by it."""
    return uptime_subqueries(now or timezone.now()).month


def days_since(first: date | None, now: datetime) -> int:
    """Days of data behind a 30-day figure: from its first counted day through today."""
    return 0 if first is None else (day_of(now) - first).days + 1


UPTIME_FIELDS = ("uptime_24h", "uptime_7d", "uptime_30d", "uptime_30d_first")


def instances_with_uptime(instance_ids: list[int], now: datetime) -> QuerySet[Instance]:
    """These instances, each annotated with its uptime figures (``UPTIME_FIELDS``; read them
    back with :func:`uptime_from`)."""
    uptime = uptime_subqueries(now)
    return (
        Instance.objects.filter(pk__in=instance_ids)
        .order_by()
        .annotate(
            uptime_24h=uptime.day,
            uptime_7d=uptime.week,
            uptime_30d=uptime.month,
            uptime_30d_first=uptime.month_first_day,
        )
    )


def uptime_from(row: Mapping[str, Any], now: datetime) -> Uptime:
    """The :class:`Uptime` of a ``.values()`` row of :func:`instances_with_uptime`."""
    return Uptime(
        row["uptime_24h"],
        row["uptime_7d"],
        row["uptime_30d"],
        days_since(row["uptime_30d_first"], now),
    )


def uptime_for_instances(
    instance_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, Uptime]:
    """24 h / 7 d / 30 d uptime per instance id, in one query."""
    now = now or timezone.now()
    ids = list(instance_ids)
    rows = instances_with_uptime(ids, now).values("pk", *UPTIME_FIELDS)
    found = {row["pk"]: uptime_from(row, now) for row in rows}
    return {pk: found.get(pk, Uptime()) for pk in ids}


def status_bars(
    instance_ids: Iterable[int],
    *,
    days: int = BAR_DAYS,
    now: datetime | None = None,
    details: bool = False,
) -> dict[int, list[DayCell]]:
    """The last ``days`` UTC days (oldest first) per instance, from the rollups (one query).

    With ``details`` (a bar whose cells explain themselves: the instance and health pages)
    each cell also carries that day's down incidents, maintenance minutes and, on the day
    the instance went live, how much of the day it was live: two more queries (incidents,
    windows) whatever the number of days or instances.
    """
    now = now or timezone.now()
    today = day_of(now)
    first = today - timedelta(days=days - 1)
    ids = list(instance_ids)
    span = [first + timedelta(days=n) for n in range(days)]
    position = {day: n for n, day in enumerate(span)}
    no_data = [DayCell(day, None) for day in span]  # shared: cells are never changed
    bars = {iid: list(no_data) for iid in ids}
    rows = HealthDaily.objects.filter(instance_id__in=ids, day__gte=first, day__lte=today)
    if not details:
        for iid, day, samples, ok, excluded in rows.values_list(
            "instance_id", "day", "samples", "ok_samples", "excluded_samples"
        ):
            bars[iid][position[day]] = DayCell(day, _pct(samples, ok, excluded), samples, excluded)
        return bars
    span_start, span_end = day_bounds(first)[0], now
    incidents: dict[tuple[int, date], int] = defaultdict(int)
    # Down incidents only, counted on the day they opened (as the monthly report counts them).
    for iid, opened_at in Incident.objects.filter(
        instance_id__in=ids,
        cause=IncidentCause.DOWN,
        opened_at__gte=span_start,
        opened_at__lt=span_end,
    ).values_list("instance_id", "opened_at"):
        incidents[(iid, day_of(opened_at))] += 1
    windows = windows_by_instance(ids, span_start, span_end)
    counts: dict[tuple[int, date], tuple[int, int, int]] = {}
    starts: dict[int, datetime] = {}
    for iid, day, samples, ok, excluded, went_live, created in rows.values_list(
        "instance_id",
        "day",
        "samples",
        "ok_samples",
        "excluded_samples",
        "instance__went_live_at",
        "instance__created_at",
    ):
        counts[(iid, day)] = (samples, ok, excluded)
        starts[iid] = went_live or created  # as monthly.live_from: went live, or recorded
    for iid in ids:
        cells = bars[iid]
        for n, day in enumerate(span):
            samples, ok, excluded = counts.get((iid, day), (0, 0, 0))
            day_start, day_end = day_bounds(day)
            from_, to = max(day_start, starts.get(iid, day_start)), min(day_end, now)
            minutes = (
                round(maintenance_minutes(windows.get(iid, []), from_, to)) if from_ < to else 0
            )
            cells[n] = DayCell(
                day,
                _pct(samples, ok, excluded),
                samples,
                excluded,
                incidents[(iid, day)],
                minutes,
                # Over how much of the day: from going live to the day's end (or now, today).
                to - from_ if day_start < from_ < to else None,
                detailed=True,
            )
    return bars


def _pct(samples: int, ok: int, excluded: int) -> float | None:
    counted = samples - excluded
    return ok * 100.0 / counted if counted > 0 else None
