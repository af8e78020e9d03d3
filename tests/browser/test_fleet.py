"""DevOps in real Chromium: filters the fleet, opens an instance, syncs it, and watches the
operation run to the end on a real Celery worker against the fleet simulator."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from fleetsim.client import FleetSimClient
from idp.process import IdpProcess
from instances.choices import OperationKind, OperationState
from instances.models import Instance, Operation
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_fleet, make_instance, make_releases

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def test_devops_filters_the_fleet_syncs_an_instance_and_watches_it_finish(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim: FleetSimClient,
    screenshot: Screenshot,
) -> None:
    # given a fleet, and acme-prod, whose VM in GCP (the simulator) is stopped
    make_releases()
    make_fleet(60)
    acme = make_instance("acme-prod", observed_version="5.8.0", vm_name="default-red-instance")
    fleetsim.upsert_instances(
        [
            {
                "slug": acme.slug,
                "project": acme.gcp_project,
                "zone": acme.gcp_zone,
                "name": acme.vm_name,
                "status": "TERMINATED",
                "version": "5.8.0",
            }
        ]
    )
    sign_in_as(page, live_server, oidc_settings, "devops")
    expect(page.get_by_test_id("fleet-summary")).to_contain_text("61 instances")
    screenshot("dashboard")

    # when devops opens the fleet and filters on the customer
    page.get_by_role("link", name="Fleet", exact=True).click()
    page.wait_for_url(f"{live_server.url}/instances/")
    expect(page.get_by_test_id("instance-count")).to_have_text("61 instances")
    screenshot("fleet")
    page.get_by_label("Customer", exact=True).fill("acme")
    page.get_by_label("Customer", exact=True).press("Enter")
    # then the table alone is replaced, and the URL keeps the filter
    expect(page.get_by_test_id("instance-count")).to_have_text("1 instance")
    expect(page).to_have_url(re.compile(r"/instances/\?.*customer=acme"))
    row = page.get_by_test_id("instance-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("behind by 1")
    screenshot("fleet-filtered")

    # when devops opens the instance and asks for a sync
    row.get_by_role("link", name="acme-prod").click()
    page.wait_for_url(f"{live_server.url}/instances/acme-prod/")
    expect(page.get_by_test_id("drift")).to_have_text("no drift")
    screenshot("instance")
    page.get_by_role("button", name="Sync now").click()

    # then the operation page follows the worker's progress live, to the end
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.locator(".message-success")).to_contain_text("Inventory sync of acme-prod queued")
    state = page.get_by_test_id("operation-state")
    expect(state).to_have_text("Succeeded", timeout=30_000)
    expect(page.get_by_test_id("step-row")).to_have_count(2)
    expect(page.get_by_test_id("operation-live")).not_to_have_attribute(
        "hx-trigger", re.compile(".")
    )
    screenshot("operation-finished")
    operation = Operation.objects.get(kind=OperationKind.SYNC, instance=acme)
    assert operation.state == OperationState.SUCCEEDED
    assert page.url.endswith(f"/operations/{operation.pk}/")

    # and the instance page now shows the drift the sync found
    page.get_by_role("link", name="acme-prod").first.click()
    expect(page.get_by_test_id("drift")).to_contain_text("VM stopped")
    expect(page.get_by_test_id("gcp-state")).to_contain_text("TERMINATED")
    screenshot("instance-after-sync")
    assert Instance.objects.get(pk=acme.pk).vm_status == "TERMINATED"
