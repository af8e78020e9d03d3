"""Browser: DevOps starts a new trial from the form, works through its checklist (Terraform
verified against the simulator by a real worker), and sees it go live at the next sweep."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from fleetsim.client import FleetSimClient
from health.services.sweep import sweep_run
from idp.process import IdpProcess
from instances.choices import LifecycleState
from instances.models import Instance
from tests.browser.signin import sign_in_as

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def test_devops_provisions_a_trial_through_its_checklist(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim: FleetSimClient,
    settings: Settings,
    screenshot: Screenshot,
) -> None:
    # given a VM Terraform created for the new trial, answering /healthz
    settings.HEALTH_PROBE_TIMEOUT = 2.0
    fleetsim.upsert_instances([{"slug": "globex-trial", "version": "5.9.0", "status": "RUNNING"}])
    sign_in_as(page, live_server, oidc_settings, "devops")

    # when devops starts it from the form, for a new customer behind an IP allowlist
    page.goto(f"{live_server.url}/provisioning/")
    page.get_by_test_id("provision-new").click()
    page.get_by_label("New customer name").fill("Globex")
    page.get_by_label("New customer slug").fill("globex")
    page.get_by_label("Instance slug").fill("globex-trial")
    page.get_by_label("Admin contact (email)").fill("it@globex.example")
    page.get_by_label("Inbound access").select_option("allowlist")
    page.get_by_label("Allowed CIDRs").fill("203.0.113.7/24")
    page.locator("#id_url").fill(fleetsim.instance_url("globex-trial"))
    page.get_by_label("Reason").fill("POC approved by the regional manager")
    page.get_by_test_id("provision-submit").click()
    # then a CIDR with host bits is refused, and what was typed is still there
    expect(page.get_by_test_id("form-error")).to_contain_text("Not a network in CIDR notation")
    expect(page.get_by_label("Reason")).to_have_value("POC approved by the regional manager")
    screenshot("provision-refused")
    page.get_by_label("Allowed CIDRs").fill("203.0.113.0/24")
    page.get_by_test_id("provision-submit").click()

    # then its page shows the open checklist
    page.wait_for_url(f"{live_server.url}/instances/globex-trial/")
    expect(page.get_by_test_id("state")).to_have_text("Provisioning")
    expect(page.get_by_test_id("check-dns")).to_have_attribute("data-ticked", "no")

    # when devops ticks DNS, SSO and the admin hand-over
    for step in ("dns", "sso", "admin_handover"):
        page.get_by_test_id(f"tick-{step}").get_by_role("button", name="Tick").click()
        expect(page.get_by_test_id(f"check-{step}")).to_have_attribute("data-ticked", "yes")
    # and verifies the VM in GCP: the worker reads it and ticks Terraform applied
    page.get_by_test_id("verify-terraform").get_by_role("button").click()
    page.wait_for_url(re.compile(r"/operations/\d+/$"))
    expect(page.get_by_test_id("operation-state")).to_have_text("Succeeded", timeout=60_000)
    page.goto(f"{live_server.url}/instances/globex-trial/")
    expect(page.get_by_test_id("check-terraform")).to_have_attribute("data-ticked", "yes")
    expect(page.get_by_test_id("go-live-status")).to_contain_text("Checklist complete")
    screenshot("checklist-complete")

    # when the health sweep probes it: it goes live, and the trial gets its end date
    sweep_run()
    page.reload()
    expect(page.get_by_test_id("state")).to_have_text("Active")
    expect(page.get_by_test_id("trial-ends")).not_to_contain_text("set when it goes live")
    screenshot("went-live")
    instance = Instance.objects.get(slug="globex-trial")
    assert instance.state == LifecycleState.ACTIVE
    assert instance.trial_ends_on is not None
