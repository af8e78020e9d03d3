"""DevOps in real Chromium: an instance's timeline tells its story in order: the sync a real
Celery worker ran against the fleet simulator, then the probes that took it down and the
incident they opened."""

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


def test_the_timeline_lists_a_sync_a_health_transition_and_an_incident_in_order(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim: FleetSimClient,
    screenshot: Callable[[str], Path],
) -> None:
    # given acme-prod, running and healthy in the simulator
    latest = make_releases()[-1].version
    acme = make_instance("acme-prod", url=fleetsim.instance_url("acme-prod"))
    fleetsim.upsert_instances(
        [
            {
                "slug": acme.slug,
                "project": acme.gcp_project,
                "zone": acme.gcp_zone,
                "name": acme.vm_name,
                "status": "RUNNING",
                "version": latest,
            }
        ]
    )
    sweep_run()  # first probe: unknown → healthy
    sign_in_as(page, live_server, oidc_settings, "devops")

    # and devops syncs it; the worker runs the sync to the end
    page.goto(f"{live_server.url}/instances/acme-prod/")
    page.get_by_role("button", name="Sync now").click()
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.get_by_test_id("operation-state")).to_have_text("Succeeded", timeout=30_000)

    # and then it stops answering: three failed probes take it down and open an incident
    fleetsim.set_health("acme-prod", mode="error")
    for _ in range(3):
        sweep_run()

    # when devops opens its timeline from the instance page
    page.goto(f"{live_server.url}/instances/acme-prod/")
    page.get_by_test_id("timeline-link").click()
    page.wait_for_url(f"{live_server.url}/instances/acme-prod/timeline/")

    # then the story reads newest first: incident, down, sync, healthy
    events = page.get_by_test_id("timeline-event")
    expect(events.first).to_be_visible()
    titles = [text.strip() for text in events.locator("td:nth-child(3) a").all_inner_texts()]
    incident = titles.index("Incident opened (Instance down)")
    down = next(i for i, title in enumerate(titles) if title.endswith("→ down"))
    sync = titles.index("Inventory sync succeeded")
    healthy = titles.index("Health unknown → healthy")
    assert incident < down < sync < healthy, titles
    screenshot("timeline")

    # when devops keeps only health transitions and incidents
    page.get_by_label("Health transitions").check()
    page.get_by_label("Incidents").check()
    page.get_by_role("button", name="Filter").click()
    # then the sync is gone, the rest stays
    expect(page.locator('[data-testid="timeline-event"][data-kind="operation"]')).to_have_count(0)
    expect(page.locator('[data-testid="timeline-event"][data-kind="incident"]')).to_have_count(1)
    expect(page.get_by_test_id("timeline")).to_contain_text("→ down")
    screenshot("timeline-filtered")
