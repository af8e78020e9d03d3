"""Request SLA clocks, table-driven across weekends, holidays and pauses (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mi_admin.sla import SlaState, WorkCalendar
from mi_requests.choices import SlaLevel
from mi_requests.clocks import (
    Pause,
    alert_levels_due,
    paused_between,
    resolution_clock_at,
    response_due,
    response_state,
)

# US public holidays; an extra company holiday on Wednesday 2026-12-09.
CAL = WorkCalendar(country="US", extra_holidays=frozenset({date(2026, 12, 9)}))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("submitted", "acknowledged", "now", "due", "state"),
    [
        pytest.param(
            "2026-12-04 10:00",
            None,
            "2026-12-04 12:00",
            "2026-12-05 10:00",
            SlaState.ON_TRACK,
            id="fresh",
        ),
        pytest.param(
            "2026-12-04 10:00",
            None,
            "2026-12-05 06:00",
            "2026-12-05 10:00",
            SlaState.AT_RISK,
            id="last fifth: at risk",
        ),
        pytest.param(
            "2026-12-04 10:00",
            None,
            "2026-12-05 10:01",
            "2026-12-05 10:00",
            SlaState.BREACHED,
            id="24 calendar hours, weekend or not",
        ),
        pytest.param(
            "2026-12-04 10:00",
            "2026-12-05 09:00",
            "2026-12-09 00:00",
            "2026-12-05 10:00",
            SlaState.MET,
            id="acknowledged in time stops it",
        ),
        pytest.param(
            "2026-12-04 10:00",
            "2026-12-05 11:00",
            "2026-12-05 11:00",
            "2026-12-05 10:00",
            SlaState.BREACHED,
            id="acknowledged late",
        ),
    ],
)
def test_response_clock(submitted, acknowledged, now, due, state):
    # given a request filed at `submitted`; when read at `now`
    ack = at(acknowledged) if acknowledged else None
    # then its response is due 24 h later and in `state`
    assert response_due(at(submitted)) == at(due)
    assert response_state(at(submitted), acknowledged_at=ack, now=at(now)) == state


@pytest.mark.parametrize(
    ("approved", "pauses", "now", "deadline"),
    [
        # Mon 2026-11-30 + 15 working days: Dec 1..4 (4), 7,8 (6), 10,11 (8; 9th is the extra
        # holiday), 14..18 (13), 21,22 (15) → Tue Dec 22.
        pytest.param(
            "2026-11-30 09:00",
            [],
            "2026-12-01 09:00",
            "2026-12-22 09:00",
            id="weekends and a company holiday skipped",
        ),
        # Fri 2026-12-18 + 15: 21..24 (4), 25 is Christmas, 28..31 (8), Jan 1 holiday,
        # Jan 4..8 (13), 11,12 (15) → Tue Jan 12.
        pytest.param(
            "2026-12-18 15:00",
            [],
            "2026-12-19 09:00",
            "2027-01-12 15:00",
            id="Christmas and New Year skipped",
        ),
        # Approved on a Saturday: counts from Monday 00:00 (day 0); 15 on → Tue Dec 22 00:00.
        pytest.param(
            "2026-11-28 11:00",
            [],
            "2026-11-29 09:00",
            "2026-12-22 00:00",
            id="approved on a weekend",
        ),
        pytest.param(
            "2026-11-30 09:00",
            [("2026-12-02 09:00", "2026-12-04 09:00")],
            "2026-12-07 09:00",
            "2026-12-24 09:00",
            id="a 2-day pause moves it 2 days",
        ),
        pytest.param(
            "2026-11-30 09:00",
            [("2026-11-29 09:00", "2026-12-01 09:00")],
            "2026-12-07 09:00",
            "2026-12-23 09:00",
            id="only the pause after the approval counts",
        ),
        pytest.param(
            "2026-11-30 09:00",
            [("2026-12-02 09:00", None)],
            "2026-12-03 09:00",
            "2026-12-23 09:00",
            id="an open pause moves it as it goes",
        ),
    ],
)
def test_resolution_deadline(approved, pauses, now, deadline):
    # given an approval and the questions asked since; when the clock is read at `now`
    clock = resolution_clock_at(
        at(approved),
        pauses=[Pause(at(s), at(e) if e else None) for s, e in pauses],
        now=at(now),
        calendar=CAL,
    )
    # then the deadline is 15 working days on, moved out by the pauses
    assert clock.deadline == at(deadline)


def test_used_share_does_not_grow_while_paused():
    # given an approval and a question asked two days later, still open
    approved = at("2026-11-30 09:00")
    pauses = [Pause(at("2026-12-02 09:00"))]
    before = resolution_clock_at(approved, pauses=pauses, now=at("2026-12-02 09:00"), calendar=CAL)
    later = resolution_clock_at(approved, pauses=pauses, now=at("2026-12-10 09:00"), calendar=CAL)
    # then the share used is the same a week later, and it shows as paused
    assert later.used == pytest.approx(before.used)
    assert later.paused_now
    assert later.paused == timedelta(days=8)


@pytest.mark.parametrize(
    ("now", "pauses", "expected"),
    [
        pytest.param("2026-12-05 09:00", [], [], id="early: nothing"),
        # allowed = 22 days (Nov 30 09:00 → Dec 22 09:00): 50 % = Dec 11 09:00, 75 % = Dec 16 21:00
        pytest.param("2026-12-11 09:00", [], [SlaLevel.RESOLUTION_50], id="half"),
        pytest.param(
            "2026-12-16 21:00",
            [],
            [SlaLevel.RESOLUTION_50, SlaLevel.RESOLUTION_75],
            id="three quarters",
        ),
        pytest.param(
            "2026-12-22 09:01",
            [],
            [SlaLevel.RESOLUTION_50, SlaLevel.RESOLUTION_75, SlaLevel.RESOLUTION_BREACH],
            id="breach",
        ),
        pytest.param(
            "2026-12-22 09:01",
            [("2026-12-01 09:00", "2026-12-03 09:00")],
            [SlaLevel.RESOLUTION_50, SlaLevel.RESOLUTION_75],
            id="no breach: the pause moved the deadline",
        ),
        pytest.param(
            "2026-12-11 09:00",
            [("2026-12-10 09:00", None)],
            [],
            id="paused before half: no warning while paused",
        ),
    ],
)
def test_alert_levels(now, pauses, expected):
    # given an acknowledged request approved Monday 09:00
    approved = at("2026-11-30 09:00")
    clock = resolution_clock_at(
        approved,
        pauses=[Pause(at(s), at(e) if e else None) for s, e in pauses],
        now=at(now),
        calendar=CAL,
    )
    # when the levels due are read; then they are exactly `expected`
    levels = alert_levels_due(
        submitted_at=at("2026-11-29 09:00"),
        acknowledged_at=at("2026-11-29 10:00"),
        resolution=clock,
        now=at(now),
    )
    assert levels == expected


def test_unacknowledged_past_24_hours_pages():
    # given a request nobody acknowledged; when read 25 h later; then the response breach
    levels = alert_levels_due(
        submitted_at=at("2026-12-04 10:00"),
        acknowledged_at=None,
        resolution=None,
        now=at("2026-12-05 11:00"),
    )
    assert levels == [SlaLevel.RESPONSE_BREACH]


def test_paused_between_clips_to_the_window():
    pauses = [Pause(at("2026-12-01 00:00"), at("2026-12-03 00:00")), Pause(at("2026-12-05 00:00"))]
    assert paused_between(pauses, since=at("2026-12-02 00:00"), until=at("2026-12-06 00:00")) == (
        timedelta(days=2)
    )
