"""DevOps in real Chromium: the dashboard's "down" count opens the fleet filtered on it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from fleetsim.client import FleetSimClient
from health.services.sweep import sweep_run
from idp.process import IdpProcess
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_instance, make_releases

pytestmark = pytest.mark.browser


def test_down_count_opens_the_filtered_fleet(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    fleetsim: FleetSimClient,
    screenshot: Callable[[str], Path],
) -> None:
    # given three active instances in the simulator, one of which fails its health check
    latest = make_releases()[-1].version
    slugs = ["acme-prod", "globex-prod", "initech-prod"]
    for slug in slugs:
        make_instance(slug, url=fleetsim.instance_url(slug))
    fleetsim.upsert_instances(
        [{"slug": slug, "status": "RUNNING", "version": latest} for slug in slugs]
    )
    fleetsim.set_health("globex-prod", mode="error")
    # and the sweeps that turn it down (three failures in a row)
    for _ in range(3):
        sweep_run()
    sign_in_as(page, live_server, oidc_settings, "devops")
    summary = page.get_by_test_id("health-summary")
    expect(summary).to_contain_text("1 down")
    expect(summary).to_contain_text("2 healthy")
    screenshot("dashboard-health")

    # when devops clicks the "down" count
    summary.get_by_role("link", name="1 down").click()

    # then the fleet list opens filtered on down instances, listing globex-prod alone
    expect(page).to_have_url(re.compile(r"/instances/\?health=down$"))
    rows = page.get_by_test_id("instance-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("globex-prod")
    expect(rows.locator('[data-col="health"]')).to_have_text("Down")
    expect(page.locator("select#id_health")).to_have_value("down")
    screenshot("fleet-down")
