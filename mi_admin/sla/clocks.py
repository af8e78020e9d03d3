"""SLA clocks: a deadline, an at-risk window, and the state of one SLA at a moment.

Response (24 calendar hours), resolution (15 working days) and version (1 week after a
release) clocks are built from :mod:`mi_admin.sla.calendar`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models

from mi_admin.sla.calendar import WorkCalendar, add_hours, add_working_days, as_utc, require_aware

RESPONSE_HOURS = 24
RESOLUTION_WORKING_DAYS = 15
VERSION_DAYS = 7
AT_RISK_FRACTION = 0.2


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
        require_aware(self.started_at, "started_at")
        require_aware(self.deadline, "deadline")
        if self.completed_at is not None:
            require_aware(self.completed_at, "completed_at")
        if as_utc(self.deadline) < as_utc(self.started_at):
            raise ValueError("deadline must not be before started_at")
        if not 0.0 <= self.at_risk_fraction <= 1.0:
            raise ValueError("at_risk_fraction must be between 0 and 1")

    @property
    def at_risk_from(self) -> datetime:
        """The first instant of the at-risk window (in UTC)."""
        allowed = as_utc(self.deadline) - as_utc(self.started_at)
        return as_utc(self.deadline) - allowed * self.at_risk_fraction

    def state(self, now: datetime) -> SlaState:
        """Met/breached once completed; else on track, at risk, or breached after the deadline."""
        require_aware(now, "now")
        if self.completed_at is not None:
            met = as_utc(self.completed_at) <= as_utc(self.deadline)
            return SlaState.MET if met else SlaState.BREACHED
        if as_utc(now) > as_utc(self.deadline):
            return SlaState.BREACHED
        if as_utc(now) >= self.at_risk_from:
            return SlaState.AT_RISK
        return SlaState.ON_TRACK

    def remaining(self, now: datetime) -> timedelta:
        """Time left (negative when overdue); frozen at completion for a completed clock."""
        require_aware(now, "now")
        until = self.completed_at if self.completed_at is not None else now
        return as_utc(self.deadline) - as_utc(until)


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
