"""Times in real Chromium (issue 12, item 8): the instance page and the audit trail show
Berlin time, named, and the exact UTC time is the element's tooltip."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_instance

pytestmark = pytest.mark.browser

SYNCED = dt.datetime(2026, 12, 6, 21, 5, 9, tzinfo=dt.UTC)


def test_times_show_in_the_display_zone_with_utc_on_hover(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    settings,
    screenshot: Callable[[str], Path],
) -> None:
    # given pages set to Berlin time and an instance last synced at 21:05:09 UTC
    settings.DISPLAY_TIME_ZONE = "Europe/Berlin"
    make_instance("acme-prod", last_synced_at=SYNCED)
    sign_in_as(page, live_server, oidc_settings, "admin")
    # when the admin opens its page and hovers the last sync
    page.goto(f"{live_server.url}/instances/acme-prod/")
    synced = page.locator('time[datetime="2026-12-06T21:05:09Z"]').first
    expect(synced).to_have_text("2026-12-06 22:05:09 CET")
    expect(synced).to_have_attribute("title", "2026-12-06 21:05:09 UTC")
    synced.hover()
    screenshot("instance-page")
    # and the audit trail names the zone on every row (the admin's sign-in just now)
    page.goto(f"{live_server.url}/audit/")
    first = page.locator("table time").first
    expect(first).to_contain_text(" CET")
    expect(first).to_have_attribute("title", re.compile(r" UTC$"))
    screenshot("audit-trail")
