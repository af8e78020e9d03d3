"""The fleet list at a laptop's 1280 x 800, in real Chromium: every default column fits
without a horizontal scroll bar, with long names and a full set of health columns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from fleetsim.client import FleetSimClient
from health.services.sweep import sweep_run
from idp.process import IdpProcess
from instances.choices import Drift, InstanceKind, LifecycleState
from instances.models import Instance
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_customer, make_instance, make_releases

pytestmark = pytest.mark.browser


def test_the_fleet_list_fits_a_laptop_screen(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    fleetsim: FleetSimClient,
    screenshot: Callable[[str], Path],
) -> None:
    # given instances with long customer names, long URLs, drift, a trial and health figures
    releases = make_releases()
    latest, older = releases[-1].version, releases[0].version
    customer = make_customer("international-widgets", name="International Widgets Holdings")
    slugs = ["international-widgets-prod", "international-widgets-staging", "acme-prod"]
    make_instance(slugs[0], customer=customer, url=fleetsim.instance_url(slugs[0]))
    make_instance(
        slugs[1],
        customer=customer,
        url=fleetsim.instance_url(slugs[1]),
        kind=InstanceKind.TRIAL,
        drift=Drift.VM_STOPPED,
        observed_version=older,
    )
    make_instance(slugs[2], url=fleetsim.instance_url(slugs[2]), observed_version=latest)
    # and the widest values each column has: an internal instance far behind, long overdue
    far_behind = make_instance(
        "international-widgets-test",
        customer=customer,
        url=fleetsim.instance_url("international-widgets-test"),
        kind=InstanceKind.INTERNAL,
        observed_version=older,
    )
    slugs.append(far_behind.slug)
    make_instance(
        "international-widgets-next",
        customer=customer,
        url=fleetsim.instance_url("international-widgets-next"),
        state=LifecycleState.PROVISIONING,
    )
    fleetsim.upsert_instances(
        [
            {"slug": s, "status": "RUNNING", "version": older if s == far_behind.slug else latest}
            for s in slugs
        ]
    )
    # synced minutes ago (not "never"): the last-sync cell at its usual width
    Instance.objects.update(last_synced_at=timezone.now() - timedelta(minutes=12))
    sweep_run()
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in_as(page, live_server, oidc_settings, "devops")

    # when devops opens the fleet list with the default columns
    page.goto(f"{live_server.url}/instances/")
    expect(page.get_by_test_id("instance-row")).to_have_count(5)
    expect(page.locator('[data-slug="international-widgets-test"]')).to_contain_text("behind by")
    expect(page.locator('[data-col="uptime-30d"]').first).to_contain_text("%")
    screenshot("fleet-1280x800")

    # then the page has no horizontal scroll, the table none of its own either
    widths = page.evaluate(
        """() => {
            const doc = document.documentElement;
            const box = document.querySelector('[data-testid="fleet-table-box"]');
            return {page: [doc.scrollWidth, doc.clientWidth],
                    table: [box.scrollWidth, box.clientWidth]};
        }"""
    )
    assert widths["page"][0] <= widths["page"][1], widths
    assert widths["table"][0] <= widths["table"][1], widths
    # and no value wraps: each uptime figure and version stays on one line
    for cell in page.locator('[data-col="uptime-30d"] .uptime').all():
        box = cell.bounding_box()
        assert box is not None
        assert box["height"] < 30, box
    # and the abbreviated headers still say what they mean on hover
    expect(page.locator("th abbr[title]").first).to_be_attached()
