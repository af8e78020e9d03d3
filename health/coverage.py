"""How much of its period an uptime figure rests on: the one wording every page uses.

A figure computed over less than its period (an instance that went live 12 days ago, a day
cell of the day it went live, a report month that is not over) says over how much, as
"99.95 % over 12 days". The fleet column, the instance page, the status bar's day cells and
the monthly report all call :func:`coverage_note`, so they say it the same way.
"""

from __future__ import annotations

from datetime import timedelta

_MINUTE = timedelta(minutes=1)


def coverage_note(covered: timedelta, period: timedelta) -> str:
    """``""`` when ``covered`` spans the whole ``period``; else "over 12 days" (2 days and
    more, whole days rounded down: never "over 30 days" on a 30-day figure), "over 29 h"
    (an hour to 2 days) or "over 40 min"."""
    if covered >= period - _MINUTE:  # a sub-minute gap is rounding, not a shorter period
        return ""
    return f"over {duration_text(covered)}"


def duration_text(span: timedelta) -> str:
    """A duration as people read it: "12 days", "29 h", "40 min" (rounded down)."""
    minutes = max(0, int(span.total_seconds() // 60))
    if minutes >= 2 * 24 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes >= 60:
        return f"{minutes // 60} h"
    return f"{minutes} min"
