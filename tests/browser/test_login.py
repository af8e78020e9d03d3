"""Signing in through the provider's page in real Chromium: a role lands on the dashboard,
no role gets the 403 page that says why, and signing out ends the provider session too."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp import DEMO_PASSWORD
from idp.process import IdpProcess

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def sign_in_at_okta(page: Page, idp: IdpProcess, username: str, screenshot: Screenshot) -> None:
    """From MI Admin's login page, through the IdP's form, back to MI Admin."""
    page.get_by_test_id("okta-login").click()
    page.wait_for_url(re.compile(re.escape(idp.base_url) + r"/login/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot("idp-login-form")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_devops_signs_in_through_okta_and_lands_on_the_dashboard(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess, screenshot: Screenshot
) -> None:
    # given
    page.goto(f"{live_server.url}/login/")
    expect(page.get_by_test_id("okta-login")).to_be_visible()
    screenshot("mi-admin-login")
    # when
    sign_in_at_okta(page, oidc_settings, "devops", screenshot)
    # then
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("person")).to_have_text("Dana Devops")
    expect(page.get_by_test_id("whoami")).to_contain_text("DevOps")
    screenshot("dashboard")


def test_a_stranger_signs_in_and_is_told_which_groups_give_access(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess, screenshot: Screenshot
) -> None:
    # given
    page.goto(f"{live_server.url}/login/")
    # when
    sign_in_at_okta(page, oidc_settings, "stranger", screenshot)
    # then
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    body = page.locator("main")
    expect(body).to_contain_text("Sam Stranger")
    for group in ("mi-devops", "mi-managers", "mi-ce", "mi-admins"):
        expect(body).to_contain_text(group)
    screenshot("access-denied")


def test_signing_out_ends_the_okta_session_too(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess, screenshot: Screenshot
) -> None:
    # given: devops is signed in
    page.goto(f"{live_server.url}/login/")
    sign_in_at_okta(page, oidc_settings, "devops", screenshot)
    page.wait_for_url(f"{live_server.url}/")
    # when
    page.get_by_role("button", name="Sign out").click()
    # then: back on the login page, told they are signed out
    page.wait_for_url(f"{live_server.url}/login/?logged_out=1")
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    screenshot("signed-out")
    # and the Okta button asks for a password again rather than signing straight back in
    page.get_by_test_id("okta-login").click()
    page.wait_for_url(re.compile(re.escape(oidc_settings.base_url) + r"/login/"))
    expect(page.get_by_label("Password")).to_be_visible()
    screenshot("idp-asks-again")
