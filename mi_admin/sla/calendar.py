"""SLA engine: working-day arithmetic, SLA clocks and the staged rollout schedule.

Pure functions over aware datetimes; nothing here touches the database. Version SLAs use it
now, request SLAs (response 24 h, resolution 15 working days) later.

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
from django.db import models

RESPONSE_HOURS = 24
RESOLUTION_WORKING_DAYS = 15
VERSION_DAYS = 7
AT_RISK_FRACTION = 0.2

# A working-day search never needs to look further than this; it guards against a calendar
# that (through a misconfiguration) has no working day at all.
_MAX_SKIP_DAYS = 366


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")


def _utc(value: datetime) -> datetime:
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
        _require_aware(moment, "moment")
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
    _require_aware(start, "start")
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
    _require_aware(start, "start")
    _require_aware(end, "end")
    if _utc(end) < _utc(start):
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
    _require_aware(start, "start")
    return (_utc(start) + timedelta(hours=hours)).astimezone(start.tzinfo)


class SlaState(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"


@dataclass(frozen=True)
class SlaClock:
    """One SLA: due at ``deadline`` (inclusive), at risk for the last ``at_risk_fraction``."""

    started_at: datetime
    deadline: datetime
    completed_at: datetime | None = None
    at_risk_fraction: float = AT_RISK_FRACTION

    def __post_init__(self) -> None:
        _require_aware(self.started_at, "started_at")
        _require_aware(self.deadline, "deadline")
        if self.completed_at is not None:
            _require_aware(self.completed_at, "completed_at")
        if _utc(self.deadline) < _utc(self.started_at):
            raise ValueError("deadline must not be before started_at")
        if not 0.0 <= self.at_risk_fraction <= 1.0:
            raise ValueError("at_risk_fraction must be between 0 and 1")

    @property
    def at_risk_from(self) -> datetime:
        """The first instant of the at-risk window (in UTC)."""
        allowed = _utc(self.deadline) - _utc(self.started_at)
        return _utc(self.deadline) - allowed * self.at_risk_fraction

    def state(self, now: datetime) -> SlaState:
        """Met/breached once completed; else on track, at risk, or breached after the deadline."""
        _require_aware(now, "now")
        if self.completed_at is not None:
            met = _utc(self.completed_at) <= _utc(self.deadline)
            return SlaState.MET if met else SlaState.BREACHED
        if _utc(now) > _utc(self.deadline):
            return SlaState.BREACHED
        if _utc(now) >= self.at_risk_from:
            return SlaState.AT_RISK
        return SlaState.ON_TRACK

    def remaining(self, now: datetime) -> timedelta:
        """Time left (negative when overdue); frozen at completion for a completed clock."""
        _require_aware(now, "now")
        until = self.completed_at if self.completed_at is not None else now
        return _utc(self.deadline) - _utc(until)


def response_clock(
    started_at: datetime,
    *,
    completed_at: datetime | None = None,
    at_risk_fraction: float = AT_RISK_FRACTION,
) -> SlaClock:
    """Response SLA: within 24 calendar hours of becoming aware of the need."""
    deadline = add_hours(started_at, RESPONSE_HOURS)
    return SlaClock(started_at, deadline, completed_at, at_risk_fraction)


def resolution_clock(
    started_at: datetime,
    *,
    calendar: WorkCalendar,
    completed_at: datetime | None = None,
    at_risk_fraction: float = AT_RISK_FRACTION,
) -> SlaClock:
    """Resolution SLA: within 15 working days from agreement."""
    deadline = add_working_days(started_at, RESOLUTION_WORKING_DAYS, calendar=calendar)
    return SlaClock(started_at, deadline, completed_at, at_risk_fraction)


def version_clock(
    release_published_at: datetime,
    *,
    completed_at: datetime | None = None,
    at_risk_fraction: float = AT_RISK_FRACTION,
) -> SlaClock:
    """Version SLA: on the newest release within 1 week (7 x 24 h) after it was published."""
    deadline = add_hours(release_published_at, VERSION_DAYS * 24)
    return SlaClock(release_published_at, deadline, completed_at, at_risk_fraction)


class ReleaseKind(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    PATCH = "patch", "Patch"
    EMERGENCY = "emergency", "Emergency"


INSTANCE_KINDS = ("internal", "trial", "production")


@dataclass(frozen=True)
class RolloutStage:
    """Where a release's rollout should be: the shares (percent) each kind should reach
    by the end of this stage. ``last_day`` is None once the schedule is over."""

    name: str
    label: str
    working_day: int
    first_day: int
    last_day: int | None
    internal_pct: int
    trial_pct: int
    production_pct: int

    def target_pct(self, kind: str) -> int:
        if kind not in INSTANCE_KINDS:
            raise ValueError(f"unknown instance kind {kind!r}")
        return int(getattr(self, f"{kind}_pct"))

    @property
    def kinds(self) -> tuple[str, ...]:
        """The instance kinds that should (at least partly) run the release in this stage."""
        return tuple(kind for kind in INSTANCE_KINDS if self.target_pct(kind) > 0)


# (first_day, last_day, name, label, internal %, trial %, production %), from domain-facts.md.
_Row = tuple[int, int | None, str, str, int, int, int]
_MONTHLY: tuple[_Row, ...] = (
    (0, 2, "internal", "Internal instances", 100, 0, 0),
    (3, 4, "verification", "Verification", 100, 0, 0),
    (5, 6, "early", "30 % of trials, 10 % of customers", 100, 30, 10),
    (7, 8, "broad", "All trials, 40 % of customers", 100, 100, 40),
    (9, 10, "general", "All customers", 100, 100, 100),
    (11, None, "complete", "Rollout complete", 100, 100, 100),
)
_PATCH: tuple[_Row, ...] = (
    (0, 2, "internal", "Internal instances", 100, 0, 0),
    (3, 5, "everyone", "Everyone", 100, 100, 100),
    (6, None, "complete", "Rollout complete", 100, 100, 100),
)
_SCHEDULES = {
    ReleaseKind.MONTHLY: _MONTHLY,
    ReleaseKind.PATCH: _PATCH,
    ReleaseKind.EMERGENCY: _PATCH,
}


def rollout_stage(
    *, release_kind: str, released_at: datetime, now: datetime, calendar: WorkCalendar
) -> RolloutStage:
    """The stage of the staged rollout ``now``, counted in working days since the release.

    Pass the newest release: a new patch release restarts the stages. Emergency releases
    follow the patch schedule. ``now`` before ``released_at`` is a ValueError.
    """
    try:
        schedule = _SCHEDULES[ReleaseKind(release_kind)]
    except ValueError as exc:
        raise ValueError(f"unknown release kind {release_kind!r}") from exc
    day = working_days_between(released_at, now, calendar=calendar)
    # Every schedule ends with an open-ended row, so a row always matches.
    first, last, name, label, internal, trial, production = next(
        row for row in schedule if row[1] is None or day <= row[1]
    )
    return RolloutStage(name, label, day, first, last, internal, trial, production)
