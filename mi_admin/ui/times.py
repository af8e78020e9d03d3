"""Times for people, in Python: the one display zone (``DISPLAY_TIME_ZONE``), always named.

Templates use ``|when`` (mi_admin/ui/templatetags/times.py), which is built on this module.
Text made in Python that a person reads (Slack and e-mail messages, operation progress,
form errors, review context) uses :func:`when_text`::

    when_text(moment)                 "2026-12-06 22:05 CET"
    when_text(moment, seconds=True)   "2026-12-06 22:05:09 CET"
    when_text(moment, fmt="H:i:s")    "22:05:09 CET"            (any Django date format)

Machine text stays UTC ISO 8601 (``isoformat()``): CSV and JSON exports, logs, audit
``after`` payloads. Filter inputs without an offset are read in the display zone
(:class:`DisplayZoneDateTimeFilter`). tests/ui/test_times.py keeps app code to this.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import dateformat, timezone
from django_filters.fields import IsoDateTimeField

DEFAULT_FORMAT = "Y-m-d H:i"
SECONDS_FORMAT = "Y-m-d H:i:s"
CLOCK = "H:i:s"  # a time of day, for a moment minutes away (a deadline, a countdown)


def display_zone() -> ZoneInfo:
    return ZoneInfo(settings.DISPLAY_TIME_ZONE)


def display_zone_name() -> str:
    """The zone's IANA name ("Europe/Berlin"): what an input is read in, whatever the season."""
    return str(settings.DISPLAY_TIME_ZONE)


def as_instant(value: dt.datetime | str) -> dt.datetime:
    """An aware datetime, or an ISO 8601 string (a time kept in a JSON field) read as the
    instant it names; a string without an offset is UTC (that is how we write them)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def when_text(
    value: dt.datetime | str | None, *, seconds: bool = False, fmt: str | None = None
) -> str:
    """``2026-12-06 22:05 CET``: ``value`` in the display zone, followed by the zone's name.
    None (or "") gives "?"; a string that is no ISO 8601 time is given back as it is."""
    if value is None or value == "":
        return "?"
    try:
        instant = as_instant(value)
    except ValueError:
        return str(value)
    local = instant.astimezone(display_zone())
    pattern = fmt or (SECONDS_FORMAT if seconds else DEFAULT_FORMAT)
    return f"{dateformat.format(local, pattern)} {local.tzname()}"


class DisplayZoneDateTimeField(IsoDateTimeField):
    """ISO 8601 or a ``datetime-local`` value; without an offset it is a wall-clock time in
    the display zone (a time that a daylight-saving jump skips is a clear form error)."""

    def to_python(self, value: Any) -> dt.datetime | None:
        with timezone.override(display_zone()):
            parsed: dt.datetime | None = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        # As UTC: ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59), a 500 if
        # passed on as they are.
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise ValidationError("Enter a time within the years 1 to 9999.") from exc


class DisplayZoneDateTimeFilter(django_filters.IsoDateTimeFilter):
    """A Since/Until filter read in the display zone; an explicit offset ("Z") still wins."""

    field_class = DisplayZoneDateTimeField
