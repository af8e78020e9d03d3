"""How long something lasts, said the way people say it: "30 min", "1 h 30 min", "2 days".

Python's own ``str(timedelta)`` ("0:30:00", "1 day, 2:00:00") reads like a clock time, so
pages, messages and Slack texts say spans through :func:`span_text` (in templates the
``span`` filter, a builtin of the templates).
"""

from __future__ import annotations

from datetime import timedelta


def span_text(value: timedelta | None) -> str:
    """The two largest non-zero units, down to minutes (seconds only under a minute)."""
    if value is None:
        return ""
    seconds = int(value.total_seconds())
    if seconds < 0:
        return "-" + span_text(-value)
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [
        f"{days} day{'s' if days != 1 else ''}" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join([part for part in parts if part][:2])
