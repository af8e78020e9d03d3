"""``|when``: the one way a template shows a point in time (a builtin: no ``{% load %}``).

Stored times are UTC. A page shows each in the display zone (``DISPLAY_TIME_ZONE``), names
that zone next to it, and carries the exact UTC instant as ISO 8601 for machines
(``datetime``) and people (``title``, on hover)::

    {{ op.created_at|when }}                 2026-12-06 22:05 CET
    {{ op.created_at|when:"Y-m-d H:i:s" }}   2026-12-06 22:05:09 CET   (any Django date format)
    {{ grant.expires_at|when:"until" }}      3 hours                   (relative: no zone needed)
    {{ probe_at|when:"since" }}              5 minutes
    {{ synced_at|when:"ago" }}               3 hours ago               (largest unit only)
    {{ synced_at|when:"ago-short" }}         3 h ago                   (narrow table cells)

each wrapped in ``<time datetime="2026-12-06T21:05:09Z" title="2026-12-06 21:05:09 UTC">``.
None renders as "" so ``|default:"—"`` still works; an ISO 8601 string (a time kept in a
JSON field) is read as the instant it names. Dates (not datetimes) are calendar
days, not instants: they keep ``|date``. tests/ui/test_times.py keeps templates to this.
The text itself comes from :func:`mi_admin.ui.times.when_text`, which Python code uses too.
``{% display_zone %}`` names the zone next to an input that is read in it ("Europe/Berlin").
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

from mi_admin.ui.times import DEFAULT_FORMAT, as_instant, display_zone_name, when_text

register = template.Library()


@register.simple_tag
def display_zone() -> str:
    return display_zone_name()


@register.filter(expects_localtime=False)
def when(value: dt.datetime | dt.date | str | None, fmt: str = DEFAULT_FORMAT) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        # An ISO 8601 instant kept in a JSON field (e.g. an operation's probe summary).
        try:
            parsed = as_instant(value)
        except ValueError:
            return value
        value = parsed
    if not isinstance(value, dt.datetime):
        # A calendar day has no zone to convert; shown as it is.
        return dateformat.format(value, fmt if fmt not in _RELATIVE else "Y-m-d")
    utc = value.astimezone(dt.UTC)
    shown = _RELATIVE[fmt](utc) if fmt in _RELATIVE else when_text(utc, fmt=fmt)
    return _time_element(utc, shown)


def _time_element(utc: dt.datetime, shown: str) -> SafeString:
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        shown,
    )


_UNITS = (
    ("minutes", "min"),
    ("minute", "min"),
    ("hours", "h"),
    ("hour", "h"),
    ("days", "d"),
    ("day", "d"),
    ("weeks", "wk"),
    ("week", "wk"),
    ("months", "mo"),
    ("month", "mo"),
    ("years", "y"),
    ("year", "y"),
)


def _short_units(text: str) -> str:
    """ "12\xa0minutes" → "12\xa0min": the fleet list's last-sync cell stays narrow."""
    for long, short in _UNITS:
        text = text.replace(long, short)
    return text


_RELATIVE = {
    "until": lambda utc: timeuntil(utc),
    "since": lambda utc: timesince(utc),
    "ago": lambda utc: f"{timesince(utc, depth=1)} ago",
    "ago-short": lambda utc: f"{_short_units(timesince(utc, depth=1))} ago",
}
