"""The whole path in Chromium, with the real worker and the simulator: devops asks for
access, a manager approves, devops sees the grant active with its time left, the manager
revokes it, and the audit trail shows every step (under the CSP: the page fixture fails on
any violation or console error)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from access.choices import GrantState
from access.models import AccessGrant
from idp.process import IdpProcess
from tests.access.conftest import bindings_of, make_instance, sim_vm, wait_until
from tests.browser.signin import sign_in_as

pytestmark = pytest.mark.browser


def _as(page: Page, live_server: LiveServer, idp: IdpProcess, username: str) -> None:
    page.context.clear_cookies()  # both MI Admin's and the IdP's session: a new person
    sign_in_as(page, live_server, idp, username)


def test_request_approve_see_active_revoke_and_audit(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim,
    screenshot: Callable[[str], Path],
) -> None:
    # given an instance with its VM, and devops signed in on its page
    instance = make_instance()
    sim_vm(fleetsim, instance)
    _as(page, live_server, oidc_settings, "devops")
    page.goto(f"{live_server.url}/instances/{instance.slug}/")
    # when devops requests 30 minutes of SSH
    page.get_by_test_id("request-access").click()
    page.get_by_label("Level").select_option(label="SSH (OS Login)")
    page.get_by_label("Duration (minutes)").fill("30")
    page.get_by_label("Justification").fill("Customer ticket: disk full")
    page.get_by_role("button", name="Request access").click()
    expect(page.get_by_test_id("grant-state")).to_have_text("Waiting for approval")
    grant = AccessGrant.objects.get()
    screenshot("access-requested")
    # and a manager approves it from the inbox
    _as(page, live_server, oidc_settings, "manager")
    page.goto(f"{live_server.url}/approvals/{grant.approval_request_id}/")
    # (the approval page carries the access panel: what the reviewer weighs)
    expect(page.get_by_test_id("review-justification")).to_have_text("Customer ticket: disk full")
    expect(page.get_by_test_id("review-instance")).to_contain_text(instance.slug)
    expect(page.get_by_test_id("nobody-else")).to_be_visible()
    screenshot("access-approval-review")
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("status")).to_contain_text("approved")
    # then the worker activates it, and devops sees it active with its time left
    wait_until(lambda: AccessGrant.objects.get(pk=grant.pk).state == GrantState.ACTIVE, what="on")
    _as(page, live_server, oidc_settings, "devops")
    page.get_by_role("link", name="My access").click()
    expect(page.get_by_test_id("access-state")).to_have_text("Active")
    expect(page.get_by_test_id("time-left")).to_contain_text("minutes")
    screenshot("access-active")
    # when the manager revokes it with a reason
    _as(page, live_server, oidc_settings, "manager")
    page.goto(f"{live_server.url}/access/grants/{grant.pk}/")
    page.get_by_label("Reason").fill("Incident closed")
    page.once("dialog", lambda dialog: dialog.accept())  # it asks first (static/js/confirm.js)
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("grant-state")).to_have_text("Revoked")
    # then the binding is gone and verified, and the page says so
    wait_until(
        lambda: AccessGrant.objects.get(pk=grant.pk).binding_verified_removed_at is not None,
        what="removal verified",
    )
    grant.refresh_from_db()
    assert bindings_of(instance, grant) == []
    page.reload()
    expect(page.get_by_test_id("removal-verified")).to_be_visible()
    # and its timeline tells the story in order, up to the verified removal
    events = page.get_by_test_id("timeline-event")
    expect(events.first).to_contain_text("Requested")
    expect(page.get_by_test_id("timeline")).to_contain_text("Revoked")
    expect(page.get_by_test_id("timeline")).to_contain_text("Removal verified")
    screenshot("access-timeline")
    # and the audit trail shows the four steps
    _as(page, live_server, oidc_settings, "devops")
    page.goto(f"{live_server.url}/audit/?action=access.grant")
    for action in (
        "access.grant.requested",
        "access.grant.approved",
        "access.grant.activated",
        "access.grant.revoked",
    ):
        expect(page.get_by_text(action, exact=True).first).to_be_visible()
    screenshot("access-audit")
