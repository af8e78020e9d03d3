"""Browser: devops suspends an instance from its page and sees it suspended everywhere,
resumes it, then confirms an approved teardown by typing the name (a typo is refused),
watches the countdown and cancels it."""

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
from instances.choices import Architecture, LifecycleState, OperationKind, OperationState
from instances.models import Instance, Operation
from instances.services.lifecycle import (
    TeardownApproval,
    register_teardown_approval_resolver,
    unregister_teardown_approval_resolver,
)
from tests.browser.signin import sign_in_as
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance, make_releases

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def test_devops_suspends_resumes_and_cancels_a_teardown(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim: FleetSimClient,
    settings: Settings,
    screenshot: Screenshot,
) -> None:
    # given an active v1.0 instance the simulator serves, and a long teardown countdown
    settings.TEARDOWN_COUNTDOWN_SECONDS = 600
    make_releases()
    acme = make_instance(
        "acme-prod",
        architecture=Architecture.V1_0,
        url=fleetsim.instance_url("acme-prod"),
        observed_version="5.9.0",
        vm_name="default-red-instance",
        data_disk="default-red-data-disk",
    )
    fleetsim.upsert_instances(
        [{"slug": acme.slug, "project": acme.gcp_project, "version": "5.9.0"}]
    )
    sign_in_as(page, live_server, oidc_settings, "devops")

    # when devops suspends it from its page, saying why
    page.goto(f"{live_server.url}/instances/acme-prod/")
    page.get_by_label(re.compile("^Suspend now")).fill("customer paused the POC")
    page.once("dialog", lambda dialog: dialog.accept())  # it asks first (static/js/confirm.js)
    page.get_by_test_id("suspend-submit").click()
    # then the operation runs to the end, and the instance page says suspended
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.get_by_test_id("operation-state")).to_have_text("Succeeded", timeout=60_000)
    expect(page.get_by_test_id("step-row")).to_have_count(5)
    screenshot("suspend-finished")
    page.get_by_role("link", name="acme-prod").first.click()
    expect(page.get_by_test_id("suspended-banner")).to_contain_text("not probed")
    expect(page.get_by_test_id("state")).to_have_text("Suspended")
    screenshot("suspended-instance")
    assert fleetsim.get_instance("acme-prod")["status"] == "TERMINATED"
    # and the fleet list shows it suspended, out of the version SLA
    page.goto(f"{live_server.url}/instances/")
    row = page.locator('[data-slug="acme-prod"]')
    expect(row).to_contain_text("Suspended")
    expect(row.get_by_test_id("version-sla")).to_have_text("not held")
    expect(row.get_by_test_id("version-sla")).to_have_attribute("title", "not held: suspended")

    # when devops resumes it
    page.goto(f"{live_server.url}/instances/acme-prod/")
    page.get_by_label(re.compile("^Resume now")).fill("customer is back")
    page.get_by_test_id("resume-submit").click()
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.get_by_test_id("operation-state")).to_have_text("Succeeded", timeout=60_000)
    assert Instance.objects.get(pk=acme.pk).state == LifecycleState.ACTIVE

    # when the teardown approved by the manager is confirmed with a typo, then the right name
    approval = TeardownApproval(
        "request:31", "acme-prod", (make_persona("manager"),), "customer left"
    )

    def resolver(reference: str) -> TeardownApproval | None:
        return approval if reference == "request:31" else None

    register_teardown_approval_resolver(resolver)
    try:
        page.on("dialog", lambda dialog: dialog.accept())  # each start asks first (confirm.js)
        page.goto(f"{live_server.url}/instances/acme-prod/teardown/?reference=request:31")
        expect(page.get_by_test_id("teardown-warning")).to_contain_text("deleted for good")
        page.get_by_test_id("typed-name").fill("acme-pord")
        page.get_by_test_id("teardown-submit").click()
        expect(page.get_by_test_id("teardown-error")).to_contain_text(
            "Type the instance's name exactly (acme-prod)"
        )
        screenshot("teardown-typo")
        assert not Operation.objects.filter(kind=OperationKind.TEARDOWN).exists()
        page.get_by_test_id("typed-name").fill("acme-prod")
        page.get_by_test_id("teardown-submit").click()
    finally:
        unregister_teardown_approval_resolver(resolver)
    # then the operation page shows the countdown and a cancel button
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.get_by_test_id("teardown-countdown")).to_contain_text("nothing is deleted before")
    expect(page.get_by_test_id("countdown-left")).to_contain_text("min")
    screenshot("teardown-countdown")
    # when devops cancels it with a reason
    page.get_by_label("Why it is cancelled").fill("customer renewed")
    page.get_by_test_id("teardown-cancel").click()
    # then it is cancelled and nothing was deleted
    expect(page.get_by_test_id("operation-state")).to_have_text("Cancelled")
    expect(page.locator(".message-success")).to_contain_text("nothing was deleted")
    screenshot("teardown-cancelled")
    teardown = Operation.objects.get(kind=OperationKind.TEARDOWN)
    assert teardown.state == OperationState.CANCELLED
    assert fleetsim.get_instance("acme-prod")["status"] == "RUNNING"
    assert fleetsim.calls("compute.instances.delete") == 0
