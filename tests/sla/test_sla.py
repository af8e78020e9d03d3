"""Tests for mi_admin.sla: working days, SLA clocks and the staged rollout schedule."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured

from mi_admin.sla import (
    RolloutStage,
    SlaClock,
    SlaState,
    WorkCalendar,
    add_hours,
    add_working_days,
    is_working_day,
    resolution_clock,
    response_clock,
    rollout_stage,
    version_clock,
    work_calendar_from_settings,
    working_days_between,
)

LA = ZoneInfo("America/Los_Angeles")
US = WorkCalendar()
US_LA = WorkCalendar(timezone=LA)
US_CA = WorkCalendar(subdiv="CA")
US_EXTRA = WorkCalendar(extra_holidays=frozenset({date(2026, 12, 24)}))
NO_HOLIDAYS = WorkCalendar(country=None)
NAIVE = datetime(2026, 11, 24)  # noqa: DTZ001 - naive on purpose: the engine must refuse it


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def la(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LA)


# --- working days ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "calendar", "expected"),
    [
        pytest.param(date(2026, 11, 24), US, True, id="tuesday"),
        pytest.param(date(2026, 11, 21), US, False, id="saturday"),
        pytest.param(date(2026, 11, 22), US, False, id="sunday"),
        pytest.param(date(2026, 11, 26), US, False, id="thanksgiving"),
        pytest.param(date(2026, 11, 27), US, True, id="day-after-thanksgiving-federal"),
        pytest.param(date(2026, 11, 27), US_CA, False, id="day-after-thanksgiving-california"),
        pytest.param(date(2026, 12, 25), US, False, id="christmas"),
        pytest.param(date(2026, 7, 3), US, False, id="july-4th-observed-on-friday"),
        pytest.param(date(2026, 12, 24), US, True, id="christmas-eve-not-federal"),
        pytest.param(date(2026, 12, 24), US_EXTRA, False, id="extra-configured-holiday"),
        pytest.param(date(2026, 11, 26), NO_HOLIDAYS, True, id="no-country-no-holidays"),
        pytest.param(utc(2026, 11, 21, 5), US, False, id="saturday-early-utc"),
        pytest.param(utc(2026, 11, 21, 5), US_LA, True, id="same-instant-friday-in-la"),
    ],
)
def test_is_working_day(day, calendar, expected):
    # given a day (or an instant) and a calendar
    # when it is judged
    result = is_working_day(day, calendar=calendar)
    # then weekends, holidays and the calendar's zone decide
    assert result is expected


@pytest.mark.parametrize(
    ("start", "days", "calendar", "expected"),
    [
        pytest.param(utc(2026, 11, 17, 10), 0, US, utc(2026, 11, 17, 10), id="zero-days"),
        pytest.param(utc(2026, 11, 17, 10), 1, US, utc(2026, 11, 18, 10), id="tue-to-wed"),
        pytest.param(utc(2026, 11, 20, 15, 30), 1, US, utc(2026, 11, 23, 15, 30), id="fri-to-mon"),
        pytest.param(utc(2026, 11, 21, 12), 0, US, utc(2026, 11, 23), id="sat-zero-is-mon-0h"),
        pytest.param(utc(2026, 11, 21, 12), 1, US, utc(2026, 11, 24), id="sat-plus-1-is-tue-0h"),
        pytest.param(utc(2026, 11, 22, 23, 59), 1, US, utc(2026, 11, 24), id="sun-late"),
        pytest.param(utc(2026, 11, 25, 10), 1, US, utc(2026, 11, 27, 10), id="over-thanksgiving"),
        pytest.param(utc(2026, 11, 26, 10), 1, US, utc(2026, 11, 30), id="start-thanksgiving"),
        pytest.param(utc(2026, 12, 24, 9), 1, US, utc(2026, 12, 28, 9), id="over-christmas"),
        pytest.param(utc(2026, 12, 23, 9), 1, US_EXTRA, utc(2026, 12, 28, 9), id="extra-holiday"),
        pytest.param(utc(2026, 7, 2, 9), 1, US, utc(2026, 7, 6, 9), id="july-4th-observed"),
        pytest.param(utc(2026, 11, 25, 10), 1, NO_HOLIDAYS, utc(2026, 11, 26, 10), id="no-hols"),
        pytest.param(utc(2026, 12, 1, 9), 15, US, utc(2026, 12, 22, 9), id="15-plain"),
        pytest.param(utc(2026, 12, 14, 9), 15, US, utc(2027, 1, 6, 9), id="15-over-year-end"),
        pytest.param(la(2026, 11, 20, 22), 1, US_LA, la(2026, 11, 23, 22), id="la-late-friday"),
        pytest.param(la(2026, 11, 20, 22), 1, US, utc(2026, 11, 24), id="la-friday-is-utc-sat"),
        pytest.param(la(2026, 3, 6, 10), 1, US_LA, la(2026, 3, 9, 10), id="la-over-dst-start"),
    ],
)
def test_add_working_days(start, days, calendar, expected):
    # given a start and a number of working days
    # when they are added
    result = add_working_days(start, days, calendar=calendar)
    # then the same local time lands on the right working day, in the calendar's zone
    assert result == expected
    assert result.utcoffset() == expected.astimezone(calendar.timezone).utcoffset()


def test_add_working_days_keeps_wall_clock_across_dst():
    # given a Friday 10:00 PST start and DST beginning on Sunday 2026-03-08
    start = la(2026, 3, 6, 10)
    # when one working day is added in the LA calendar
    result = add_working_days(start, 1, calendar=US_LA)
    # then it is 10:00 PDT on Monday, i.e. 71 elapsed hours, not 72
    assert (result.hour, result.utcoffset()) == (10, timedelta(hours=-7))
    assert result.timestamp() - start.timestamp() == 71 * 3600


@pytest.mark.parametrize(
    ("start", "end", "calendar", "expected"),
    [
        pytest.param(utc(2026, 11, 17, 9), utc(2026, 11, 17, 18), US, 0, id="same-day"),
        pytest.param(utc(2026, 11, 16, 9), utc(2026, 11, 17, 8), US, 1, id="next-day-earlier"),
        pytest.param(utc(2026, 11, 20, 9), utc(2026, 11, 23, 9), US, 1, id="fri-to-mon"),
        pytest.param(utc(2026, 11, 21, 9), utc(2026, 11, 22, 9), US, 0, id="sat-to-sun"),
        pytest.param(utc(2026, 11, 21, 9), utc(2026, 11, 23, 9), US, 0, id="sat-to-mon"),
        pytest.param(utc(2026, 11, 21, 9), utc(2026, 11, 24, 9), US, 1, id="sat-to-tue"),
        pytest.param(utc(2026, 11, 25, 9), utc(2026, 11, 30, 9), US, 2, id="over-thanksgiving"),
        pytest.param(utc(2026, 12, 23, 9), utc(2026, 12, 28, 9), US_EXTRA, 1, id="extra"),
        pytest.param(la(2026, 11, 20, 22), la(2026, 11, 23, 1), US_LA, 1, id="la-fri-to-mon"),
    ],
)
def test_working_days_between(start, end, calendar, expected):
    # given two instants
    # when the working days between them are counted
    result = working_days_between(start, end, calendar=calendar)
    # then the start's (effective) day counts as day 0
    assert result == expected


@pytest.mark.parametrize("days", [0, 1, 4, 15])
@pytest.mark.parametrize(
    "start",
    [
        pytest.param(utc(2026, 11, 24, 9), id="tuesday"),
        pytest.param(utc(2026, 11, 21, 9), id="saturday"),
        pytest.param(utc(2026, 11, 26, 9), id="thanksgiving"),
    ],
)
def test_working_days_between_inverts_add_working_days(start, days):
    # given the deadline N working days after a start
    deadline = add_working_days(start, days, calendar=US)
    # when the working days up to it are counted
    result = working_days_between(start, deadline, calendar=US)
    # then it is N again
    assert result == days


def test_working_days_between_rejects_end_before_start():
    # given an end before the start
    # when counting / then it is refused
    with pytest.raises(ValueError, match="before start"):
        working_days_between(utc(2026, 11, 24), utc(2026, 11, 23), calendar=US)


def test_add_working_days_rejects_negative_days():
    # given a negative count / when added / then refused
    with pytest.raises(ValueError, match=">= 0"):
        add_working_days(utc(2026, 11, 24), -1, calendar=US)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        pytest.param(utc(2026, 11, 20, 18), 24, utc(2026, 11, 21, 18), id="over-weekend"),
        pytest.param(la(2026, 3, 7, 12), 24, la(2026, 3, 8, 13), id="la-over-dst-start"),
        pytest.param(la(2026, 10, 31, 12), 24, la(2026, 11, 1, 11), id="la-over-dst-end"),
    ],
)
def test_add_hours_counts_elapsed_hours(start, hours, expected):
    # given a start, possibly just before a DST change
    # when calendar hours are added
    result = add_hours(start, hours)
    # then exactly that many hours elapsed, shown in the start's zone
    assert result == expected
    assert result.tzinfo == start.tzinfo
    assert result.timestamp() - start.timestamp() == hours * 3600


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: is_working_day(NAIVE, calendar=US), id="is-work"),
        pytest.param(lambda: add_working_days(NAIVE, 1, calendar=US), id="add"),
        pytest.param(
            lambda: working_days_between(utc(2026, 11, 24), NAIVE, calendar=US),
            id="between",
        ),
        pytest.param(lambda: add_hours(NAIVE, 1), id="add-hours"),
        pytest.param(lambda: response_clock(NAIVE), id="clock"),
        pytest.param(lambda: version_clock(utc(2026, 11, 24)).state(NAIVE), id="now"),
    ],
)
def test_naive_datetimes_are_rejected(call):
    # given a naive datetime somewhere in the input
    # when the engine is called / then it refuses instead of guessing a zone
    with pytest.raises(ValueError, match="aware"):
        call()


# --- calendar from settings --------------------------------------------------------------


def test_work_calendar_from_settings_reads_every_setting(settings):
    # given SLA settings for California on Pacific time with an extra company holiday
    settings.SLA_TIMEZONE = "America/Los_Angeles"
    settings.SLA_HOLIDAY_COUNTRY = "US"
    settings.SLA_HOLIDAY_SUBDIV = "CA"
    settings.SLA_EXTRA_HOLIDAYS = ["2026-12-24"]
    # when the calendar is built
    calendar = work_calendar_from_settings()
    # then all of them apply
    assert calendar == WorkCalendar(
        timezone=LA, country="US", subdiv="CA", extra_holidays=frozenset({date(2026, 12, 24)})
    )
    assert not is_working_day(date(2026, 11, 27), calendar=calendar)
    assert not is_working_day(date(2026, 12, 24), calendar=calendar)


def test_work_calendar_from_settings_defaults(settings):
    # given none of the SLA settings
    for name in ("SLA_TIMEZONE", "SLA_HOLIDAY_COUNTRY", "SLA_HOLIDAY_SUBDIV", "SLA_EXTRA_HOLIDAYS"):
        if hasattr(settings, name):
            delattr(settings, name)
    # when the calendar is built
    calendar = work_calendar_from_settings()
    # then it is UTC with US federal holidays
    assert calendar == WorkCalendar(timezone=ZoneInfo("UTC"), country="US")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("SLA_TIMEZONE", "Mars/Olympus_Mons", id="timezone"),
        pytest.param("SLA_HOLIDAY_COUNTRY", "XX", id="country"),
        pytest.param("SLA_HOLIDAY_SUBDIV", "ZZ", id="subdivision"),
        pytest.param("SLA_EXTRA_HOLIDAYS", ["24/12/2026"], id="extra-holiday-format"),
    ],
)
def test_work_calendar_from_settings_rejects_bad_values(settings, name, value):
    # given one invalid SLA setting
    settings.SLA_HOLIDAY_COUNTRY = "US"
    setattr(settings, name, value)
    # when the calendar is built / then the setting is named in the error
    with pytest.raises(ImproperlyConfigured, match=name):
        work_calendar_from_settings()


# --- SLA clocks --------------------------------------------------------------------------

START = utc(2026, 11, 20)
DAY_CLOCK = response_clock(START)  # due 2026-11-21 00:00, at risk from 19:12 (last 20 %)


@pytest.mark.parametrize(
    ("clock", "now", "expected"),
    [
        pytest.param(DAY_CLOCK, START, SlaState.ON_TRACK, id="at-start"),
        pytest.param(
            DAY_CLOCK, utc(2026, 11, 20, 19, 11, 59, 999999), SlaState.ON_TRACK, id="before-risk"
        ),
        pytest.param(DAY_CLOCK, utc(2026, 11, 20, 19, 12), SlaState.AT_RISK, id="risk-starts"),
        pytest.param(DAY_CLOCK, utc(2026, 11, 21), SlaState.AT_RISK, id="at-deadline"),
        pytest.param(
            DAY_CLOCK, utc(2026, 11, 21, 0, 0, 0, 1), SlaState.BREACHED, id="just-after-deadline"
        ),
        pytest.param(
            SlaClock(START, utc(2026, 11, 21), at_risk_fraction=0.5),
            utc(2026, 11, 20, 12),
            SlaState.AT_RISK,
            id="custom-fraction-boundary",
        ),
        pytest.param(
            response_clock(START, at_risk_fraction=0.5),
            utc(2026, 11, 20, 11, 59, 59),
            SlaState.ON_TRACK,
            id="custom-fraction-before",
        ),
        pytest.param(
            response_clock(START, completed_at=utc(2026, 11, 20, 23)),
            utc(2026, 12, 1),
            SlaState.MET,
            id="completed-in-time",
        ),
        pytest.param(
            response_clock(START, completed_at=utc(2026, 11, 21)),
            utc(2026, 12, 1),
            SlaState.MET,
            id="completed-at-deadline",
        ),
        pytest.param(
            response_clock(START, completed_at=utc(2026, 11, 21, 1)),
            utc(2026, 12, 1),
            SlaState.BREACHED,
            id="completed-late",
        ),
    ],
)
def test_clock_state(clock, now, expected):
    # given a clock and the current time
    # when its state is read
    state = clock.state(now)
    # then the boundaries are: at risk from the last 20 %, breached strictly after due
    assert state == expected


@pytest.mark.parametrize(
    ("clock", "now", "expected"),
    [
        pytest.param(DAY_CLOCK, START, timedelta(hours=24), id="full"),
        pytest.param(DAY_CLOCK, utc(2026, 11, 21, 2), timedelta(hours=-2), id="overdue"),
        pytest.param(
            response_clock(START, completed_at=utc(2026, 11, 20, 20)),
            utc(2026, 12, 1),
            timedelta(hours=4),
            id="frozen-at-completion",
        ),
    ],
)
def test_clock_remaining(clock, now, expected):
    # given a clock / when the time left is read
    remaining = clock.remaining(now)
    # then it is the signed distance to the deadline
    assert remaining == expected


def test_resolution_clock_is_15_working_days():
    # given an agreement on Monday 2026-12-14 09:00 UTC (Christmas and New Year ahead)
    # when the resolution clock starts
    clock = resolution_clock(utc(2026, 12, 14, 9), calendar=US)
    # then it is due on Wednesday 2027-01-06 09:00 and at risk for the last 20 % of that span
    assert clock.deadline == utc(2027, 1, 6, 9)
    assert clock.state(utc(2027, 1, 2)) == SlaState.AT_RISK
    assert clock.state(utc(2026, 12, 31)) == SlaState.ON_TRACK


def test_version_clock_is_one_week_after_the_release():
    # given a release published on Tuesday
    published = utc(2026, 11, 24, 16)
    # when its version clock starts
    clock = version_clock(published)
    # then instances are due on the newest release 7 calendar days later
    assert clock.deadline == utc(2026, 12, 1, 16)
    assert clock.state(utc(2026, 12, 1, 16, 1)) == SlaState.BREACHED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"deadline": utc(2026, 11, 19)}, "deadline", id="deadline-before-start"),
        pytest.param({"at_risk_fraction": 1.5}, "at_risk_fraction", id="fraction-too-big"),
        pytest.param({"completed_at": NAIVE}, "aware", id="naive-completion"),
    ],
)
def test_clock_rejects_invalid_values(kwargs, message):
    # given an invalid clock definition
    values = {"started_at": START, "deadline": utc(2026, 11, 21), **kwargs}
    # when it is built / then it is refused
    with pytest.raises(ValueError, match=message):
        SlaClock(**values)


# --- staged rollout ----------------------------------------------------------------------

# Monday 2026-11-02: Veterans Day (Wed 11-11) falls inside the monthly schedule.
MONTHLY_AT = utc(2026, 11, 2, 9)
# Wednesday 2026-11-25: Thanksgiving (Thu 11-26) falls inside the patch schedule.
PATCH_AT = utc(2026, 11, 25, 9)


INTERNAL = (100, 0, 0)
EARLY = (100, 30, 10)
BROAD = (100, 100, 40)
EVERYONE = (100, 100, 100)


@pytest.mark.parametrize(
    ("now", "day", "name", "shares"),
    [
        pytest.param(utc(2026, 11, 2, 17), 0, "internal", INTERNAL, id="day0-release-day"),
        pytest.param(utc(2026, 11, 4, 23, 59), 2, "internal", INTERNAL, id="day2-last-minute"),
        pytest.param(utc(2026, 11, 5), 3, "verification", INTERNAL, id="day3-verification"),
        pytest.param(utc(2026, 11, 6), 4, "verification", INTERNAL, id="day4-verification"),
        pytest.param(utc(2026, 11, 9), 5, "early", EARLY, id="day5-early"),
        pytest.param(utc(2026, 11, 11), 6, "early", EARLY, id="day6-veterans-day-not-counted"),
        pytest.param(utc(2026, 11, 12), 7, "broad", BROAD, id="day7-broad"),
        pytest.param(utc(2026, 11, 15), 8, "broad", BROAD, id="day8-weekend-not-counted"),
        pytest.param(utc(2026, 11, 16), 9, "general", EVERYONE, id="day9-general"),
        pytest.param(utc(2026, 11, 17), 10, "general", EVERYONE, id="day10-general"),
        pytest.param(utc(2026, 11, 18), 11, "complete", EVERYONE, id="day11-complete"),
    ],
)
def test_monthly_rollout_stages(now, day, name, shares):
    # given a monthly release on Monday 2026-11-02
    # when the rollout stage is looked up at `now`
    stage = rollout_stage(release_kind="monthly", released_at=MONTHLY_AT, now=now, calendar=US)
    # then the working day, the stage and each kind's target share follow domain-facts.md
    assert (stage.working_day, stage.name) == (day, name)
    assert (stage.internal_pct, stage.trial_pct, stage.production_pct) == shares
    assert stage.first_day <= day
    assert stage.last_day is None or day <= stage.last_day


@pytest.mark.parametrize(
    ("kind", "now", "day", "name", "shares"),
    [
        pytest.param("patch", utc(2026, 11, 25, 10), 0, "internal", INTERNAL, id="patch-day0"),
        pytest.param("patch", utc(2026, 11, 30), 2, "internal", INTERNAL, id="patch-day2"),
        pytest.param("patch", utc(2026, 12, 1), 3, "everyone", EVERYONE, id="patch-day3"),
        pytest.param("patch", utc(2026, 12, 3), 5, "everyone", EVERYONE, id="patch-day5"),
        pytest.param("patch", utc(2026, 12, 4), 6, "complete", EVERYONE, id="patch-day6"),
        pytest.param("emergency", utc(2026, 11, 30), 2, "internal", INTERNAL, id="emergency-day2"),
        pytest.param("emergency", utc(2026, 12, 1), 3, "everyone", EVERYONE, id="emergency-day3"),
    ],
)
def test_patch_rollout_stages(kind, now, day, name, shares):
    # given a patch (or emergency) release on Wednesday 2026-11-25, before Thanksgiving
    # when the rollout stage is looked up at `now`
    stage = rollout_stage(release_kind=kind, released_at=PATCH_AT, now=now, calendar=US)
    # then internal instances come first (days 0-2), everyone else on days 3-5
    assert (stage.working_day, stage.name) == (day, name)
    assert (stage.internal_pct, stage.trial_pct, stage.production_pct) == shares


def test_rollout_stage_lists_the_kinds_that_should_have_it():
    # given the monthly stage for day 5 and the one for day 3
    early = rollout_stage(
        release_kind="monthly", released_at=MONTHLY_AT, now=utc(2026, 11, 9), calendar=US
    )
    verification = rollout_stage(
        release_kind="monthly", released_at=MONTHLY_AT, now=utc(2026, 11, 5), calendar=US
    )
    # when the kinds and shares are read
    # then trials and customers only join from day 5
    assert isinstance(early, RolloutStage)
    assert early.label == "30 % of trials, 10 % of customers"
    assert early.kinds == ("internal", "trial", "production")
    assert early.target_pct("production") == 10
    assert verification.kinds == ("internal",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"release_kind": "quarterly"}, "release kind", id="unknown-kind"),
        pytest.param({"now": utc(2026, 11, 1)}, "before start", id="before-release"),
    ],
)
def test_rollout_stage_rejects_invalid_input(kwargs, message):
    # given an unknown release kind or a time before the release
    values = {"release_kind": "monthly", "released_at": MONTHLY_AT, "now": utc(2026, 11, 3)}
    # when the stage is looked up / then it is refused
    with pytest.raises(ValueError, match=message):
        rollout_stage(**{**values, **kwargs}, calendar=US)


def test_rollout_stage_target_pct_rejects_unknown_kind():
    # given a stage
    stage = rollout_stage(
        release_kind="patch", released_at=PATCH_AT, now=utc(2026, 12, 1), calendar=US
    )
    # when asked about an unknown instance kind / then it is refused
    with pytest.raises(ValueError, match="instance kind"):
        stage.target_pct("customer")
