"""Weekly maintenance windows: pure arithmetic in UTC (no database, no clock of its own).

A window opens on each of its weekdays at ``start`` (UTC; the page asks for whole minutes)
and stays open ``minutes``
(1 minute to 24 hours), so it may run past midnight into the next day, and from Sunday
into Monday. UTC has no daylight saving time, so a window is the same length every week;
a moment in any time zone is converted to UTC first.

Weekdays are numbered as ``datetime.weekday()``: 0 = Monday ... 6 = Sunday. In the
database they are a bitmask (bit ``d`` set = weekday ``d``), see ``Instance``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_MINUTES = 24 * 60
ALL_DAYS_MASK = 0b1111111


class WindowError(ValueError):
    """A window the rules refuse; the message is meant for the person."""


def days_mask(days: Iterable[int]) -> int:
    mask = 0
    for day in days:
        if not 0 <= day <= 6:
            raise WindowError(f"A weekday is 0 (Monday) to 6 (Sunday), not {day}.")
        mask |= 1 << day
    return mask


def days_of(mask: int) -> frozenset[int]:
    return frozenset(day for day in range(7) if mask & (1 << day))


@dataclass(frozen=True)
class WeeklyWindow:
    """Open on each of ``days`` from ``start`` (UTC) for ``minutes``."""

    days: frozenset[int]
    start: time
    minutes: int

    def __post_init__(self) -> None:
        if not self.days:
            raise WindowError("Choose at least one day for the maintenance window.")
        days_mask(self.days)
        if not 1 <= self.minutes <= MAX_MINUTES:
            raise WindowError(
                f"A maintenance window lasts 1 minute to 24 hours, not {self.minutes} minutes."
            )
        if self.start.tzinfo is not None:
            raise WindowError("A window's start is a UTC time of day, without a time zone.")

    @property
    def mask(self) -> int:
        return days_mask(self.days)

    def describe(self) -> str:
        """E.g. ``Tue, Thu 23:00 UTC for 2 h 30 min``."""
        days = ", ".join(DAY_NAMES[d] for d in sorted(self.days))
        hours, minutes = divmod(self.minutes, 60)
        length = " ".join(
            part
            for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "")
            if part
        )
        start = f"{self.start:%H:%M:%S}" if self.start.second else f"{self.start:%H:%M}"
        return f"{days} {start} UTC for {length}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("window arithmetic needs an aware datetime")
    return moment.astimezone(UTC)


def window_occurrence(window: WeeklyWindow, moment: datetime) -> tuple[datetime, datetime] | None:
    """The opening and closing of the occurrence of ``window`` that contains ``moment``
    (``opening <= moment < closing``), or None when the window is closed then."""
    utc = _utc(moment)
    # A window lasts at most a day, so only openings today and yesterday can contain it.
    for back in (0, 1):
        day = utc.date() - timedelta(days=back)
        if day.weekday() not in window.days:
            continue
        opening = datetime.combine(day, window.start, tzinfo=UTC)
        closing = opening + timedelta(minutes=window.minutes)
        if opening <= utc < closing:
            return opening, closing
    return None


def window_is_open(window: WeeklyWindow, moment: datetime) -> bool:
    return window_occurrence(window, moment) is not None


def window_next_opening(window: WeeklyWindow, moment: datetime) -> datetime:
    """The first opening of ``window`` strictly after ``moment`` (UTC)."""
    utc = _utc(moment)
    for ahead in range(8):
        day = utc.date() + timedelta(days=ahead)
        if day.weekday() not in window.days:
            continue
        opening = datetime.combine(day, window.start, tzinfo=UTC)
        if opening > utc:
            return opening
    raise AssertionError("a window with a day opens within 8 days")  # pragma: no cover
