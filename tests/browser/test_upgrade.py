"""Browser: devops upgrades a v1.0 instance from its page, watches the steps and the health
checks to the end, then rolls it back with a reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from fleetsim.client import FleetSimClient
from idp.process import IdpProcess
from instances.choices import Architecture, OperationKind, OperationState
from instances.models import Operation
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_instance, make_releases

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def test_devops_upgrades_an_instance_and_rolls_it_back(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim: FleetSimClient,
    settings: Settings,
    screenshot: Screenshot,
) -> None:
    # given a v1.0 instance on 5.8.0, with 5.9.0 released, and a 1 s stability window
    settings.UPGRADE_STABILITY_SECONDS = 1
    settings.UPGRADE_PROGRESS_DEADLINE_SECONDS = 30
    make_releases()
    acme = make_instance(
        "acme-prod",
        architecture=Architecture.V1_0,
        url=fleetsim.instance_url("acme-prod"),
        observed_version="5.8.0",
        vm_name="default-red-instance",
        data_disk="default-red-data-disk",
    )
    fleetsim.upsert_instances(
        [
            {
                "slug": acme.slug,
                "project": acme.gcp_project,
                "version": "5.8.0",
                "reconcile_delay": 0.3,
            }
        ]
    )
    sign_in_as(page, live_server, oidc_settings, "devops")

    # when devops opens the instance and upgrades it to 5.9.0
    page.goto(f"{live_server.url}/instances/acme-prod/")
    expect(page.get_by_label("Upgrade to…")).to_have_value("5.9.0")
    screenshot("upgrade-form")
    page.get_by_test_id("upgrade-submit").click()

    # then the operation page follows it live to the end, with the health checks
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.locator(".message-success")).to_contain_text("Upgrade of acme-prod queued")
    expect(page.get_by_test_id("operation-state")).to_have_text("Succeeded", timeout=60_000)
    expect(page.get_by_test_id("step-row")).to_have_count(6)
    expect(page.get_by_test_id("health-summary")).to_contain_text("Stability window")
    screenshot("upgrade-finished")
    upgrade = Operation.objects.get(kind=OperationKind.UPGRADE)
    assert upgrade.state == OperationState.SUCCEEDED
    assert fleetsim.get_instance("acme-prod")["version"] == "5.9.0"

    # when devops rolls it back, saying why
    page.get_by_role("link", name="acme-prod").first.click()
    page.get_by_label("Roll back to the version before its last upgrade").fill(
        "customer reports slow search"
    )
    page.get_by_test_id("rollback-submit").click()

    # then the rollback runs to the end and the instance is back on 5.8.0
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.get_by_test_id("operation-state")).to_have_text("Succeeded", timeout=60_000)
    screenshot("rollback-finished")
    rollback = Operation.objects.get(kind=OperationKind.ROLLBACK)
    assert rollback.params["reason"] == "customer reports slow search"
    assert fleetsim.get_instance("acme-prod")["version"] == "5.8.0"
