"""Times on pages (issue 12, item 8): one display zone, named next to the time, the exact UTC
instant on hover; and a guard that keeps every template rendering times through ``|when``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from mi_admin.audit.services import audit_record
from tests.instances.factories import make_instance

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates"]

# Django date-format characters that show a time of day (or a zone): such a format needs a
# zone, so it must go through |when. Day-only formats ("Y-m-d", "F Y") may keep |date.
_TIME_CHARS = set("aABfgGhHiIOPrsTuUZce")
_DATE_FILTER = re.compile(r"""\|date:(?P<q>["'])(?P<fmt>.*?)(?P=q)""")
_TIME_FILTERS = re.compile(r"\|(time|timesince|timeuntil|naturaltime|naturalday|ago)\b")
# {{ something_at }} / {{ event.at }} printed raw, or through other filters than |when
# (|date is checked above: a day-only format is fine where a day is meant).
# A column header saying "(UTC)" over times now shown in the display zone.
_UTC_HEADER = re.compile(r"\(UTC\)</th>")
_RAW_DATETIME = re.compile(r"\{\{\s*[\w.]*(?:_at|\.at)\s*(?:\}\}|\|(?!when\b|date:))")


def _time_format(fmt: str) -> bool:
    plain = re.sub(r"\\.", "", fmt)  # backslash-escaped characters are literal text
    return bool(set(plain) & _TIME_CHARS)


def time_renderings_outside_when(text: str) -> list[str]:
    found = [m.group(0) for m in _DATE_FILTER.finditer(text) if _time_format(m.group("fmt"))]
    found += [m.group(0) for m in _TIME_FILTERS.finditer(text)]
    found += [m.group(0) for m in _RAW_DATETIME.finditer(text)]
    found += [m.group(0) for m in _UTC_HEADER.finditer(text)]
    return found


def test_the_guard_catches_each_way_around_when():
    # given template lines that show a time without |when, and lines that are fine
    assert time_renderings_outside_when('{{ op.created_at|date:"Y-m-d H:i" }}')
    assert time_renderings_outside_when("<td title=\"{{ x.created_at|date:'c' }}\">")
    assert time_renderings_outside_when("{{ grant.expires_at|timeuntil }}")
    assert time_renderings_outside_when("{{ h.last_probe_at|timesince }}")
    assert time_renderings_outside_when("{{ event.at }}")
    assert time_renderings_outside_when("{{ op.finished_at|default:'—' }}")
    assert time_renderings_outside_when('{{ h.first_at|slice:"11:19" }}')
    assert time_renderings_outside_when("<th>Requested (UTC)</th>")
    assert not time_renderings_outside_when('{{ op.created_at|when:"Y-m-d H:i:s" }}')
    assert not time_renderings_outside_when('{{ month|date:"F Y" }} {{ d|date:"Y-m-d" }}')
    assert not time_renderings_outside_when('{{ row.started_at|when|default:"—" }}')


def test_every_template_shows_times_through_when():
    offenders = []
    for directory in TEMPLATE_DIRS:
        for path in sorted(directory.rglob("*.html")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for hit in time_renderings_outside_when(line):
                    offenders.append(f"{path.relative_to(directory)}:{number}: {hit}")
    assert offenders == [], "show times with |when (mi_admin/ui/templatetags/times.py):\n" + (
        "\n".join(offenders)
    )


WINTER = dt.datetime(2026, 12, 6, 21, 5, 9, tzinfo=dt.UTC)  # Berlin: 22:05:09 CET
SUMMER = dt.datetime(2026, 7, 1, 10, 0, 0, tzinfo=dt.UTC)  # Berlin: 12:00:00 CEST


@pytest.fixture
def berlin(settings):
    settings.DISPLAY_TIME_ZONE = "Europe/Berlin"


def test_the_instance_page_shows_the_last_sync_in_the_display_zone(berlin, client_for):
    # given an instance last synced at 21:05:09 UTC in December
    make_instance("acme-prod", last_synced_at=WINTER)
    # when devops opens its page with the display zone set to Berlin
    page = client_for("devops").get(reverse("instances:instance_detail", args=["acme-prod"]))
    # then the sync shows in Berlin time, named, with the UTC instant on hover
    assert (
        '<time datetime="2026-12-06T21:05:09Z" title="2026-12-06 21:05:09 UTC">'
        "2026-12-06 22:05:09 CET</time>"
    ) in page.content.decode()


def test_the_fleet_shows_the_relative_last_sync_with_the_utc_instant(berlin, client_for):
    # given an instance last synced at a known instant
    make_instance("acme-prod", last_synced_at=WINTER)
    # when devops opens the fleet
    page = client_for("devops").get(reverse("instances:instance_list")).content.decode()
    # then the narrow column says how long ago, and hovering gives the exact UTC time
    match = re.search(
        r'<time datetime="2026-12-06T21:05:09Z" title="2026-12-06 21:05:09 UTC">([^<]+)</time>',
        page,
    )
    assert match
    assert match.group(1).endswith(" ago")


def test_the_audit_trail_shows_summer_times_in_summer_time(berlin, client_for):
    # given an audit event recorded at 10:00 UTC in July
    audit_record(action="demo.time_check", actor_label="tester", at=SUMMER)
    # when the admin opens the trail
    page = client_for("admin").get(reverse("audit:event_list")).content.decode()
    # then it shows 12:00 CEST (Berlin's summer offset), with the UTC instant on hover
    assert (
        '<time datetime="2026-07-01T10:00:00Z" title="2026-07-01 10:00:00 UTC">'
        "2026-07-01 12:00:00 CEST</time>"
    ) in page


def test_by_default_pages_show_utc(client_for):
    make_instance("acme-prod", last_synced_at=WINTER)
    page = client_for("devops").get(reverse("instances:instance_detail", args=["acme-prod"]))
    assert ">2026-12-06 21:05:09 UTC</time>" in page.content.decode()


def test_csv_exports_stay_in_utc_whatever_the_display_zone(berlin, client_for):
    # given an instance last synced at 21:05:09 UTC, and pages showing Berlin time
    make_instance("acme-prod", last_synced_at=WINTER)
    # when the fleet is exported
    response = client_for("ce").get(reverse("instances:instance_export"))
    body = b"".join(response.streaming_content).decode()
    # then the file carries the UTC instant in ISO 8601, not the display zone's time
    assert "2026-12-06T21:05:09+00:00" in body
    assert "22:05" not in body
