"""DevOps in real Chromium reads an instance's status bar: each day cell explains itself
(date, uptime, incidents, maintenance) on hover and to screen readers, the legend shows a
swatch per colour, and a 30-day figure over fewer days says over how many."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from health.choices import IncidentCause, IncidentState, WindowKind
from health.models import HealthDaily, Incident, MaintenanceWindow
from idp.process import IdpProcess
from tests.browser.signin import sign_in_as
from tests.fixtures.browser import SCREENSHOT_DIR
from tests.instances.factories import make_instance, make_releases

pytestmark = pytest.mark.browser


def test_day_cells_explain_themselves_and_the_legend_has_swatches(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    screenshot: Callable[[str], Path],
) -> None:
    # given an instance live for 12 days: every day 1 440 probes, all ok, except 3 days ago
    # (30 failed, 100 min of maintenance from 01:00, a down incident at 02:00)
    make_releases()
    today = timezone.now().astimezone(UTC).date()
    acme = make_instance("acme-prod", went_live_at=timezone.now() - timedelta(days=12))
    bad_day = today - timedelta(days=3)
    for n in range(12):
        day = today - timedelta(days=n)
        failed, excluded = (30, 100) if day == bad_day else (0, 0)
        HealthDaily.objects.create(
            instance=acme,
            day=day,
            samples=1440,
            ok_samples=1440 - excluded - failed,
            excluded_samples=excluded,
        )
    start = datetime.combine(bad_day, time(1, 0), tzinfo=UTC)
    MaintenanceWindow.objects.create(
        instance=acme,
        kind=WindowKind.ONE_OFF,
        starts_at=start,
        ends_at=start + timedelta(minutes=100),
        reason="database upgrade",
    )
    Incident.objects.create(
        instance=acme,
        cause=IncidentCause.DOWN,
        dedup_key="acme-prod/down",
        state=IncidentState.RESOLVED,
        summary="acme-prod is down",
        opened_at=start + timedelta(hours=1),
        resolved_at=start + timedelta(hours=1, minutes=30),
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in_as(page, live_server, oidc_settings, "devops")

    # when DevOps opens the instance page and hovers the bad day's cell
    page.goto(f"{live_server.url}/instances/acme-prod/")
    bar = page.get_by_test_id("status-bar")
    cell = bar.locator(f'[data-day="{bad_day.isoformat()}"]')
    cell.hover()

    # then the cell says its date, uptime (1 310 of 1 340 ok), incident and maintenance, on
    # hover and to a screen reader alike
    text = f"{bad_day.isoformat()}: 97.76 % up; 1 incident; 100 min maintenance"
    expect(cell).to_have_attribute("title", text)
    expect(bar.get_by_role("listitem", name=text)).to_have_count(1)
    expect(bar.get_by_role("listitem")).to_have_count(90)
    # and the 30-day figure says it rests on 12 days
    expect(page.get_by_test_id("uptime-30d")).to_contain_text("over 12 days")

    # and the legend has one swatch per colour, each the colour of the bar's cells
    legend = page.get_by_test_id("status-bar-legend")
    colours = legend.locator(".hbar-swatch").evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)"
    )
    cell_colour = cell.evaluate("e => getComputedStyle(e).backgroundColor")
    assert len(set(colours)) == 4, colours
    assert colours[2] == cell_colour  # below 99 %: the bad day's red
    box = legend.locator(".hbar-swatch").first.bounding_box()
    assert box is not None
    assert box["width"] > 8
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.get_by_test_id("health-panel").screenshot(path=SCREENSHOT_DIR / "status-bar-legend.png")
    screenshot("instance-status-bar")
