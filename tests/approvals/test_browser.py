"""A manager reviews in Chromium: the inbox, the request page and the form work under the
Content-Security-Policy (the page fixture fails on any violation or console error)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from mi_admin.approvals.choices import RequestState
from tests.approvals.conftest import MANAGER_STEP, file_request, make_person, make_policy
from tests.browser.signin import sign_in_as

pytestmark = pytest.mark.browser


def test_a_manager_approves_from_the_inbox(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    browser_problems: list[str],
    screenshot: Callable[[str], Path],
    decisions,
) -> None:
    # given a pending request filed by someone else, and a manager signed in through Okta
    request = file_request(make_policy(MANAGER_STEP), make_person("requester"))
    sign_in_as(page, live_server, oidc_settings, "manager")
    # when they open Approvals from the menu and the request from the inbox
    page.get_by_role("link", name="Approvals").click()
    expect(page.get_by_test_id("inbox-row")).to_have_count(1)
    expect(page.get_by_test_id("time-left")).to_contain_text("hours")
    screenshot("approvals-inbox")
    page.get_by_role("link", name="Test subject 42").click()
    # and approve it with a comment
    page.get_by_label("Approve").check()
    page.get_by_label("Comment").fill("Checked the ticket")
    page.get_by_role("button", name="Submit review").click()
    # then they are back on an empty inbox, told the request is approved
    expect(page.get_by_role("status")).to_contain_text("the request is approved")
    expect(page.get_by_test_id("inbox-row")).to_have_count(0)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert decisions.calls == [(request.pk, RequestState.APPROVED)]
    # and the request's page shows the review, without a form
    page.goto(f"{live_server.url}/approvals/{request.pk}/")
    expect(page.get_by_test_id("review")).to_contain_text("Checked the ticket")
    expect(page.get_by_test_id("review-form")).to_have_count(0)
    assert not browser_problems
