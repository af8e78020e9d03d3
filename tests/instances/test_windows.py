"""Weekly maintenance window arithmetic (instances.windows): table-driven, pure."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from instances.windows import (
    WeeklyWindow,
    WindowError,
    days_mask,
    days_of,
    window_is_open,
    window_next_opening,
    window_occurrence,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """A moment in the week of Monday 2026-12-07 (day 7 = Monday 2026-12-14)."""
    return datetime(2026, 12, 7 + day, hh, mm, ss, tzinfo=UTC)


TUE_0200_2H = WeeklyWindow(days=frozenset({TUE}), start=time(2, 0), minutes=120)
SUN_2300_3H = WeeklyWindow(days=frozenset({SUN}), start=time(23, 0), minutes=180)
WEEKNIGHTS_2330_1H = WeeklyWindow(
    days=frozenset({MON, TUE, WED, THU, FRI}), start=time(23, 30), minutes=60
)
FULL_DAY_SAT = WeeklyWindow(days=frozenset({SAT}), start=time(0, 0), minutes=1440)

OPEN_CASES = [
    # (window, moment, open?, occurrence or None)
    (TUE_0200_2H, utc(TUE, 1, 59, 59), False, None),
    (TUE_0200_2H, utc(TUE, 2, 0), True, (utc(TUE, 2), utc(TUE, 4))),  # opening is inside
    (TUE_0200_2H, utc(TUE, 3, 59, 59), True, (utc(TUE, 2), utc(TUE, 4))),
    (TUE_0200_2H, utc(TUE, 4, 0), False, None),  # closing is outside
    (TUE_0200_2H, utc(WED, 2, 30), False, None),  # another day
    # spanning midnight, and the week's wrap from Sunday into Monday
    (SUN_2300_3H, utc(SUN, 23, 30), True, (utc(SUN, 23), utc(MON + 7, 2))),
    (SUN_2300_3H, utc(MON + 7, 1, 59), True, (utc(SUN, 23), utc(MON + 7, 2))),
    (SUN_2300_3H, utc(MON, 1, 0), True, (utc(SUN - 7, 23), utc(MON, 2))),  # last week's
    (SUN_2300_3H, utc(MON, 2, 0), False, None),
    (SUN_2300_3H, utc(SAT, 23, 30), False, None),
    # several days, each crossing midnight; the day it opened is what counts
    (WEEKNIGHTS_2330_1H, utc(SAT, 0, 15), True, (utc(FRI, 23, 30), utc(SAT, 0, 30))),
    (WEEKNIGHTS_2330_1H, utc(SUN, 0, 15), False, None),  # Saturday is not a window day
    (WEEKNIGHTS_2330_1H, utc(TUE, 0, 10), True, (utc(MON, 23, 30), utc(TUE, 0, 30))),
    (WEEKNIGHTS_2330_1H, utc(MON, 0, 10), False, None),  # Sunday is not one either
    # a whole day
    (FULL_DAY_SAT, utc(SAT, 0, 0), True, (utc(SAT, 0), utc(SUN, 0))),
    (FULL_DAY_SAT, utc(SAT, 23, 59), True, (utc(SAT, 0), utc(SUN, 0))),
    (FULL_DAY_SAT, utc(SUN, 0, 0), False, None),
]


@pytest.mark.parametrize(("window", "moment", "is_open", "occurrence"), OPEN_CASES)
def test_open_and_its_occurrence(window, moment, is_open, occurrence):
    assert window_is_open(window, moment) is is_open
    assert window_occurrence(window, moment) == occurrence


NEXT_CASES = [
    # (window, moment, next opening strictly after it)
    (TUE_0200_2H, utc(MON, 12), utc(TUE, 2)),
    (TUE_0200_2H, utc(TUE, 1, 59), utc(TUE, 2)),
    (TUE_0200_2H, utc(TUE, 2, 0), utc(TUE + 7, 2)),  # open now: the next one is next week
    (TUE_0200_2H, utc(TUE, 4, 1), utc(TUE + 7, 2)),
    (TUE_0200_2H, utc(SUN, 23), utc(TUE + 7, 2)),  # across the week's end
    (SUN_2300_3H, utc(MON, 3), utc(SUN, 23)),
    (WEEKNIGHTS_2330_1H, utc(FRI, 23, 45), utc(MON + 7, 23, 30)),  # skips the weekend
    (WEEKNIGHTS_2330_1H, utc(WED, 10), utc(WED, 23, 30)),
]


@pytest.mark.parametrize(("window", "moment", "opening"), NEXT_CASES)
def test_next_opening(window, moment, opening):
    assert window_next_opening(window, moment) == opening


def test_moments_in_other_time_zones_are_compared_in_utc_whatever_their_dst():
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    # Tuesday 03:30 in Berlin in winter (UTC+1) is 02:30 UTC: inside
    assert window_is_open(TUE_0200_2H, datetime(2026, 12, 8, 3, 30, tzinfo=berlin))
    # in summer (UTC+2) 03:30 in Berlin is 01:30 UTC: outside; 05:30 is 03:30 UTC: inside
    assert not window_is_open(TUE_0200_2H, datetime(2026, 7, 7, 3, 30, tzinfo=berlin))
    assert window_is_open(TUE_0200_2H, datetime(2026, 7, 7, 5, 30, tzinfo=berlin))
    # Monday 21:30 in New York (EST, UTC-5) is Tuesday 02:30 UTC
    assert window_is_open(TUE_0200_2H, datetime(2026, 12, 7, 21, 30, tzinfo=new_york))
    # the answer is always in UTC
    opening = window_next_opening(TUE_0200_2H, datetime(2026, 12, 7, 12, tzinfo=new_york))
    assert (opening, opening.tzinfo) == (utc(TUE, 2), UTC)
    with pytest.raises(ValueError, match="aware"):
        window_is_open(TUE_0200_2H, datetime(2026, 12, 8, 3))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("days", "start", "minutes", "error"),
    [
        (set(), time(2), 60, "at least one day"),
        ({7}, time(2), 60, r"0 \(Monday\) to 6 \(Sunday\)"),
        ({MON}, time(2), 0, "1 minute to 24 hours"),
        ({MON}, time(2), 1441, "1 minute to 24 hours"),
        ({MON}, time(2, tzinfo=UTC), 60, "without a time zone"),
    ],
)
def test_invalid_windows_are_refused_with_the_reason(days, start, minutes, error):
    with pytest.raises(WindowError, match=error):
        WeeklyWindow(days=frozenset(days), start=start, minutes=minutes)


def test_days_as_a_bitmask_round_trip_and_the_description():
    assert days_mask({MON}) == 1
    assert days_mask({SUN}) == 64
    assert days_of(days_mask({MON, WED, SUN})) == {MON, WED, SUN}
    assert WEEKNIGHTS_2330_1H.describe() == "Mon, Tue, Wed, Thu, Fri 23:30 UTC for 1 h"
    assert SUN_2300_3H.describe() == "Sun 23:00 UTC for 3 h"
    assert WeeklyWindow(days=frozenset({TUE}), start=time(2), minutes=90).describe() == (
        "Tue 02:00 UTC for 1 h 30 min"
    )
    assert WeeklyWindow(days=frozenset({TUE}), start=time(2, 0, 5), minutes=5).describe() == (
        "Tue 02:00:05 UTC for 5 min"
    )
