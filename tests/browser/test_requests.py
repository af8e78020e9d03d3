"""Browser: CE files a suspension request, DevOps acknowledges it, a manager approves it in
the approvals inbox, DevOps runs it (a real worker against the fleet simulator), the
instance shows suspended, and CE sees the request done."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from fleetsim.client import FleetSimClient
from idp.process import IdpProcess
from instances.choices import LifecycleState
from mi_requests.choices import RequestState
from mi_requests.models import CustomerRequest
from tests.browser.signin import sign_in_as
from tests.instances.test_lifecycle import lifecycle_instance
from tests.mi_requests.conftest import ensure_policies

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def switch_to(page: Page, live_server: LiveServer, idp: IdpProcess, username: str) -> None:
    """Forget who was signed in (MI Admin's and the IdP's cookies), sign in as another."""
    page.context.clear_cookies()
    sign_in_as(page, live_server, idp, username)


def reload_until(page: Page, test_id: str, text: str, seconds: float = 60) -> None:
    """The request page has no live refresh: reload until it shows ``text`` (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.get_by_test_id(test_id).inner_text().strip() == text:
            return
        time.sleep(0.5)
        page.reload()
    expect(page.get_by_test_id(test_id)).to_have_text(text)


def test_a_suspension_request_from_filing_to_done(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim: FleetSimClient,
    screenshot: Screenshot,
) -> None:
    # given an active simulated instance and the request approval policies
    ensure_policies()
    instance = lifecycle_instance(fleetsim)
    back = (timezone.now() + timedelta(days=60)).date().isoformat()

    # when CE files a suspension request from the Requests menu
    sign_in_as(page, live_server, oidc_settings, "ce")
    page.get_by_role("link", name="Requests").click()
    page.get_by_test_id("new-request").click()
    page.get_by_test_id("kind-suspension").click()
    page.get_by_label("Instance").select_option("acme-prod")
    page.get_by_label("Reason").fill("The customer pauses the POC until their budget renews")
    page.get_by_label("Expected return date").fill(back)
    screenshot("ce-files-suspension")
    page.get_by_test_id("submit-request").click()
    # then its page shows it submitted, with the 24-hour response clock running
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    expect(page.get_by_test_id("request-state")).to_have_text("Submitted")
    expect(page.get_by_test_id("clock").first).to_contain_text("on track")
    request = CustomerRequest.objects.get()
    detail_url = f"{live_server.url}/requests/{request.pk}/"

    # when DevOps finds it in the queue and acknowledges it
    switch_to(page, live_server, oidc_settings, "devops")
    page.get_by_role("link", name="Requests").click()
    expect(page.get_by_test_id("request-row")).to_have_count(1)
    screenshot("devops-queue")
    page.get_by_role("link", name="Suspension: acme-prod").click()
    page.get_by_test_id("do-acknowledge").click()
    expect(page.get_by_test_id("request-state")).to_have_text("Acknowledged")
    expect(page.get_by_test_id("clock").first).to_contain_text("met")

    # when the manager approves it from the approvals inbox
    switch_to(page, live_server, oidc_settings, "manager")
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_test_id("inbox-row")).to_have_count(1)
    screenshot("manager-inbox")
    page.get_by_role("link", name=re.compile(r"Request #\d+: Suspension: acme-prod")).click()
    page.get_by_label("Approve").check()
    page.get_by_label("Comment").fill("Budget pause confirmed with the AE")
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("status")).to_contain_text("the request is approved")
    page.goto(detail_url)
    expect(page.get_by_test_id("request-state")).to_have_text("Approved")

    # when DevOps runs it
    switch_to(page, live_server, oidc_settings, "devops")
    page.goto(detail_url)
    screenshot("devops-approved")
    page.once("dialog", lambda dialog: dialog.accept())  # it asks first (static/js/confirm.js)
    page.get_by_test_id("do-run").click()
    expect(page.get_by_test_id("request-state")).to_have_text("In progress")
    # then the worker suspends the instance and the request ends done
    reload_until(page, "request-state", "Done")
    screenshot("devops-done")
    page.get_by_test_id("request-instance").click()
    expect(page.get_by_text("Suspended").first).to_be_visible()
    screenshot("instance-suspended")
    instance.refresh_from_db()
    assert instance.state == LifecycleState.SUSPENDED
    assert fleetsim.get_instance("acme-prod")["status"] == "TERMINATED"

    # and CE sees their request done, with its whole timeline
    switch_to(page, live_server, oidc_settings, "ce")
    page.get_by_role("link", name="Requests").click()
    expect(page.get_by_test_id("request-state")).to_have_text("Done")
    page.get_by_role("link", name="Suspension: acme-prod").click()
    expect(page.get_by_test_id("event")).to_have_count(5)
    expect(page.get_by_test_id("timeline")).to_contain_text("Budget pause confirmed")
    screenshot("ce-sees-done")
    request.refresh_from_db()
    assert request.state == RequestState.DONE
