"""A request's SLA clocks, from the SLA engine (mi_admin.sla). Pure: no database.

* Response: 24 hours from submission (``response_clock``); a DevOps acknowledgement stops it.
* Resolution: 15 working days from approval (``add_working_days``: weekends and the holiday
  calendar do not count); done stops it. Feature requests have none.
* A question to the requester pauses the resolution clock: the time a pause spent after the
  approval moves the deadline out by as much (elapsed time, the pause's own length), and the
  share of the resolution time used does not grow while paused.
* Alerts: a warning to the handler when 50 % and 75 % of the resolution time is used, a
  page when the deadline passes (and when the response deadline passes unacknowledged).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from mi_admin.sla import (
    RESOLUTION_WORKING_DAYS,
    SlaState,
    WorkCalendar,
    add_working_days,
    response_clock,
)
from mi_admin.sla.calendar import as_utc
from mi_requests.choices import SlaLevel

WARNING_FRACTIONS: tuple[tuple[float, SlaLevel], ...] = (
    (0.5, SlaLevel.RESOLUTION_50),
    (0.75, SlaLevel.RESOLUTION_75),
)


@dataclass(frozen=True)
class Pause:
    """A question to the requester: from ``started_at`` until answered (None: still open)."""

    started_at: datetime
    ended_at: datetime | None = None


def paused_between(pauses: Iterable[Pause], *, since: datetime, until: datetime) -> timedelta:
    """How long the pauses covered of [since, until] (an open pause runs to ``until``)."""
    total = timedelta(0)
    for pause in pauses:
        start = max(as_utc(pause.started_at), as_utc(since))
        end = min(as_utc(pause.ended_at or until), as_utc(until))
        if end > start:
            total += end - start
    return total


def response_due(submitted_at: datetime) -> datetime:
    return as_utc(response_clock(submitted_at).deadline)


def response_state(
    submitted_at: datetime, *, acknowledged_at: datetime | None, now: datetime
) -> SlaState:
    return response_clock(submitted_at, completed_at=acknowledged_at).state(now)


def resolution_base_due(approved_at: datetime, *, calendar: WorkCalendar) -> datetime:
    """The resolution deadline before any pause: 15 working days after the approval."""
    return as_utc(add_working_days(approved_at, RESOLUTION_WORKING_DAYS, calendar=calendar))


@dataclass(frozen=True)
class ResolutionClock:
    """The resolution clock at one moment."""

    started_at: datetime  # the approval
    base_deadline: datetime  # 15 working days on, before pauses
    paused: timedelta  # pause time after the approval, up to the moment
    paused_now: bool
    completed_at: datetime | None
    at: datetime  # the moment it is read at (or its completion)

    @property
    def deadline(self) -> datetime:
        return as_utc(self.base_deadline) + self.paused

    @property
    def used(self) -> float:
        """The share of the resolution time used (1.0 at the deadline; frozen while paused)."""
        allowed = as_utc(self.base_deadline) - as_utc(self.started_at)
        if allowed <= timedelta(0):
            return 1.0
        spent = as_utc(self.at) - as_utc(self.started_at) - self.paused
        return max(0.0, spent / allowed)

    @property
    def state(self) -> SlaState:
        if self.completed_at is not None:
            return SlaState.MET if as_utc(self.completed_at) <= self.deadline else SlaState.BREACHED
        if as_utc(self.at) > self.deadline:
            return SlaState.BREACHED
        return SlaState.AT_RISK if self.used >= WARNING_FRACTIONS[-1][0] else SlaState.ON_TRACK

    @property
    def remaining(self) -> timedelta:
        return self.deadline - as_utc(self.at)


def resolution_clock_at(
    approved_at: datetime,
    *,
    pauses: Iterable[Pause],
    now: datetime,
    calendar: WorkCalendar,
    completed_at: datetime | None = None,
) -> ResolutionClock:
    """The resolution clock of a request approved at ``approved_at``, read at ``now`` (or at
    its completion, which stops it)."""
    pauses = list(pauses)
    at = completed_at or now
    paused = paused_between(pauses, since=approved_at, until=at)
    open_pause = completed_at is None and any(p.ended_at is None for p in pauses)
    return ResolutionClock(
        started_at=as_utc(approved_at),
        base_deadline=resolution_base_due(approved_at, calendar=calendar),
        paused=paused,
        paused_now=open_pause,
        completed_at=completed_at,
        at=as_utc(at),
    )


def alert_levels_due(
    *,
    submitted_at: datetime,
    acknowledged_at: datetime | None,
    resolution: ResolutionClock | None,
    now: datetime,
) -> list[SlaLevel]:
    """Every alert level a request has reached at ``now`` (the caller sends each once)."""
    levels: list[SlaLevel] = []
    if acknowledged_at is None and as_utc(now) > response_due(submitted_at):
        levels.append(SlaLevel.RESPONSE_BREACH)
    if resolution is not None and resolution.completed_at is None:
        for fraction, level in WARNING_FRACTIONS:
            if resolution.used >= fraction:
                levels.append(level)
        if not resolution.paused_now and as_utc(now) > resolution.deadline:
            levels.append(SlaLevel.RESOLUTION_BREACH)
    return levels
