"""Times on pages (issue 12, item 8): one display zone, named next to the time, the exact UTC
instant on hover; and a guard that keeps every template rendering times through ``|when``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from health.choices import WindowKind
from health.models import MaintenanceWindow
from health.services.maintenance import window_create_one_off
from mi_admin.audit.models import AuditEvent
from mi_admin.audit.services import audit_record
from mi_admin.ui.times import when_text
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


# --- Times written in Python (mi_admin/ui/times.py) --------------------------------------

APP_DIRS = ["mi_admin", "instances", "health", "mi_requests", "rollouts", "access"]
# A time formatted in Python and then labelled UTC by hand: `{x:%H:%M} UTC`,
# strftime("... %H:%M UTC"), or `+ " UTC"`. Person-facing text says when_text() instead.
_HAND_MADE_UTC = re.compile(r"""(\}|%[A-Za-z]) UTC\b|["'] UTC\b""")
# Where UTC is the truth being stated, not a display choice.
UTC_ALLOWED = {
    # the hover title of <time>: the exact UTC instant, by design
    "mi_admin/ui/templatetags/times.py",
    # weekly windows are defined as a UTC time of day (no DST); their description says so
    "instances/windows.py",
    "health/models.py:weekly",
    # a command-line tool whose input without an offset is UTC, and whose output says so
    "instances/management/commands/add_release.py",
}


def hand_made_utc_times(text: str) -> list[str]:
    return [m.group(0) for m in _HAND_MADE_UTC.finditer(text)]


def test_the_python_guard_catches_a_hand_made_utc_time():
    assert hand_made_utc_times('f"expires at {expires_at:%Y-%m-%d %H:%M} UTC"')
    assert hand_made_utc_times('moment.strftime("%Y-%m-%d %H:%M UTC")')
    assert hand_made_utc_times('str(value)[:16] + " UTC"')
    assert hand_made_utc_times('f"not before {stamp} UTC"')
    assert not hand_made_utc_times('TIME_ZONE = env_str("TIME_ZONE", "UTC")')
    assert not hand_made_utc_times('help_text="UTC"')
    assert not hand_made_utc_times('f"expires at {when_text(expires_at)}"')


def test_app_code_writes_times_for_people_with_when_text():
    base = Path(settings.BASE_DIR)
    offenders = []
    for directory in APP_DIRS:
        for path in sorted((base / directory).rglob("*.py")):
            name = str(path.relative_to(base))
            if "/migrations/" in name or name in UTC_ALLOWED:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if f"{name}:weekly" in UTC_ALLOWED and "start_time" in line:
                    continue
                offenders += [f"{name}:{number}: {hit}" for hit in hand_made_utc_times(line)]
    assert offenders == [], "write times for people with mi_admin.ui.times.when_text:\n" + (
        "\n".join(offenders)
    )


def test_when_text_names_the_display_zone_in_winter_and_summer(berlin):
    assert when_text(WINTER) == "2026-12-06 22:05 CET"
    assert when_text(SUMMER, seconds=True) == "2026-07-01 12:00:00 CEST"
    assert when_text("2026-12-06T21:05:09+00:00", fmt="H:i:s") == "22:05:09 CET"
    assert when_text(None) == "?"


def test_a_one_off_maintenance_window_is_described_in_the_display_zone(berlin):
    # given one-off windows in December and in July (stored in UTC)
    winter = MaintenanceWindow(
        kind=WindowKind.ONE_OFF, starts_at=WINTER, ends_at=WINTER + dt.timedelta(hours=2)
    )
    summer = MaintenanceWindow(
        kind=WindowKind.ONE_OFF, starts_at=SUMMER, ends_at=SUMMER + dt.timedelta(minutes=30)
    )
    # then each says its Berlin times, with the season's zone name
    assert str(winter) == "2026-12-06 22:05 CET to 2026-12-07 00:05 CET"
    assert str(summer) == "2026-07-01 12:00 CEST to 2026-07-01 12:30 CEST"


def test_a_weekly_window_keeps_its_utc_definition(berlin):
    weekly = MaintenanceWindow(
        kind=WindowKind.WEEKLY, weekday=1, start_time=dt.time(23, 0), duration_minutes=90
    )
    assert str(weekly) == "Tuesdays 23:00 UTC for 90 min"


def _audit_objects(client, **query):
    page = client.get(reverse("audit:event_list"), query).content.decode()
    return set(re.findall(r"demo\.(?:before|at|after)", page))


def test_since_and_until_are_read_in_the_display_zone(berlin, client_for):
    # given events at 20:59:59, 21:00:00 and 21:00:01 UTC (21:59:59 ... 22:00:01 in Berlin)
    at = dt.datetime(2026, 12, 6, 21, 0, 0, tzinfo=dt.UTC)
    second = dt.timedelta(seconds=1)
    audit_record(action="demo.before", actor_label="tester", at=at - second)
    audit_record(action="demo.at", actor_label="tester", at=at)
    audit_record(action="demo.after", actor_label="tester", at=at + second)
    admin = client_for("admin")
    # when the admin filters from 22:00 Berlin (what the datetime-local input sends)
    # then the boundary instant is in, the second before is out
    assert _audit_objects(admin, since="2026-12-06T22:00") == {"demo.at", "demo.after"}
    # and "until" is exclusive at the same wall-clock time
    assert _audit_objects(admin, until="2026-12-06T22:00") == {"demo.before"}
    # and an explicit offset still means what it says
    assert _audit_objects(admin, since="2026-12-06T21:00:01Z") == {"demo.after"}


def test_the_filter_inputs_name_the_display_zone(berlin, client_for):
    page = client_for("admin").get(reverse("audit:event_list")).content.decode()
    assert "Since (Europe/Berlin)" in page
    assert "Until (Europe/Berlin)" in page


@pytest.mark.django_db
def test_the_audit_trail_keeps_a_one_off_window_in_utc(berlin, admin_user):
    # given pages in Berlin time
    start = (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)
    # when a one-off window is created
    window_create_one_off(
        instance=make_instance("acme-prod"),
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        reason="disk swap",
        actor=admin_user,
    )
    # then its audit event says the window in UTC ISO 8601, not in the display zone
    after = AuditEvent.objects.get(action="health.maintenance_window.created").after or {}
    assert after["window"] == (
        f"{start.isoformat()} to {(start + dt.timedelta(hours=1)).isoformat()}"
    )


def test_the_short_ago_form_keeps_narrow_cells_narrow():
    from django.template import Context, Template
    from django.utils import timezone

    twelve = timezone.now() - dt.timedelta(minutes=12, seconds=5)
    html = Template('{{ at|when:"ago-short" }}').render(Context({"at": twelve}))
    assert ">12\xa0min ago</time>" in html
    three_days = timezone.now() - dt.timedelta(days=3, hours=1)
    html = Template('{{ at|when:"ago-short" }}').render(Context({"at": three_days}))
    assert ">3\xa0d ago</time>" in html
