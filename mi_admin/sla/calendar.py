"""Working days: the holiday calendar and working-day arithmetic over aware datetimes.

Working-day rule (used by :func:`add_working_days` and :func:`working_days_between`):

* Days are judged in the calendar's time zone. A working day is Monday to Friday and not a
  public holiday of the configured country/subdivision (observed dates included, e.g. the
  Friday before a Saturday July 4th) nor an extra configured holiday.
* A start on a working day keeps its local time of day: N working days later is the N-th
  following working day at the same wall-clock time.
* A start on a weekend or holiday counts from 00:00 local of the next working day, which is
  day 0. So a request filed on Saturday with a 1-working-day SLA is due Tuesday 00:00.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# A working-day search never needs to look further than this; it guards against a calendar
# that (through a misconfiguration) has no working day at all.
_MAX_SKIP_DAYS = 366


def require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")


def as_utc(value: datetime) -> datetime:
    # Python compares and subtracts two datetimes sharing one tzinfo by wall clock, which is
    # wrong across a DST change; in UTC both are exact.
    return value.astimezone(UTC)


@functools.lru_cache(maxsize=512)
def _public_holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    # One frozen set per (country, subdivision, year): the holidays package computes a year
    # lazily and mutably, so caching plain dates keeps lookups cheap and thread-safe.
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year).keys())


@dataclass(frozen=True)
class WorkCalendar:
    """Which local dates are working days, in which time zone."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    country: str | None = "US"
    subdiv: str | None = None
    extra_holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if self.country:
            # Fails fast on an unknown country or subdivision instead of at the first lookup.
            _public_holidays(self.country, self.subdiv, 2000)

    def local_date(self, moment: datetime) -> date:
        require_aware(moment, "moment")
        return moment.astimezone(self.timezone).date()

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return True
        if not self.country:
            return False
        return day in _public_holidays(self.country, self.subdiv, day.year)


def work_calendar_from_settings() -> WorkCalendar:
    """The calendar from settings ``SLA_TIMEZONE``, ``SLA_HOLIDAY_COUNTRY``,
    ``SLA_HOLIDAY_SUBDIV`` and ``SLA_EXTRA_HOLIDAYS``; ImproperlyConfigured if invalid."""
    tz_name = getattr(settings, "SLA_TIMEZONE", "UTC") or "UTC"
    country = getattr(settings, "SLA_HOLIDAY_COUNTRY", "US") or None
    subdiv = getattr(settings, "SLA_HOLIDAY_SUBDIV", None) or None
    extra: Iterable[str] = getattr(settings, "SLA_EXTRA_HOLIDAYS", [])
    try:
        zone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"SLA_TIMEZONE {tz_name!r} is not a known time zone") from exc
    try:
        extra_days = frozenset(date.fromisoformat(item) for item in extra)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured("SLA_EXTRA_HOLIDAYS must be ISO dates (YYYY-MM-DD)") from exc
    try:
        return WorkCalendar(
            timezone=zone, country=country, subdiv=subdiv, extra_holidays=extra_days
        )
    except NotImplementedError as exc:
        raise ImproperlyConfigured(
            f"SLA_HOLIDAY_COUNTRY {country!r} with SLA_HOLIDAY_SUBDIV {subdiv!r} "
            "is not supported by the holidays package"
        ) from exc


def is_working_day(day: date | datetime, *, calendar: WorkCalendar) -> bool:
    """Whether ``day`` (a date, or an aware datetime judged in the calendar's zone) is worked."""
    local = calendar.local_date(day) if isinstance(day, datetime) else day
    return local.weekday() < 5 and not calendar.is_holiday(local)


def _next_working_day(day: date, *, calendar: WorkCalendar) -> date:
    """The first working day strictly after ``day``."""
    for offset in range(1, _MAX_SKIP_DAYS + 1):
        candidate = day + timedelta(days=offset)
        if is_working_day(candidate, calendar=calendar):
            return candidate
    raise ValueError(f"no working day within {_MAX_SKIP_DAYS} days after {day.isoformat()}")


def _effective_start(start: datetime, *, calendar: WorkCalendar) -> datetime:
    """``start`` in local time, moved to 00:00 of the next working day if it is not one."""
    require_aware(start, "start")
    local = start.astimezone(calendar.timezone)
    if is_working_day(local.date(), calendar=calendar):
        return local
    first = _next_working_day(local.date(), calendar=calendar)
    return _at_local(first, time.min, calendar.timezone)


def _at_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    # The UTC round trip normalises a wall-clock time that a DST jump skipped.
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC).astimezone(zone)


def add_working_days(start: datetime, days: int, *, calendar: WorkCalendar) -> datetime:
    """``days`` working days after ``start``, at the same local time (see the module rule)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    current = _effective_start(start, calendar=calendar)
    day = current.date()
    for _ in range(days):
        day = _next_working_day(day, calendar=calendar)
    return _at_local(day, current.timetz().replace(tzinfo=None), calendar.timezone)


def working_days_between(start: datetime, end: datetime, *, calendar: WorkCalendar) -> int:
    """How many working days ``end`` lies after ``start``; the start's (effective) day is 0.

    Counts working dates in (effective start date, end date], so a release on Monday is on
    day 1 all of Tuesday. ``working_days_between(s, add_working_days(s, n)) == n``.
    """
    require_aware(start, "start")
    require_aware(end, "end")
    if as_utc(end) < as_utc(start):
        raise ValueError("end must not be before start")
    first = _effective_start(start, calendar=calendar).date()
    last = calendar.local_date(end)
    count = 0
    day = first + timedelta(days=1)
    while day <= last:
        count += is_working_day(day, calendar=calendar)
        day += timedelta(days=1)
    return count


def add_hours(start: datetime, hours: float) -> datetime:
    """``hours`` elapsed hours after ``start`` (a DST change does not stretch or shrink them)."""
    require_aware(start, "start")
    return (as_utc(start) + timedelta(hours=hours)).astimezone(start.tzinfo)
