"""Break-glass sign-in in real Chromium: password, then the authenticator code, then every
page carries the break-glass banner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.fixtures.breakglass import create_break_glass_account, totp

pytestmark = pytest.mark.browser


def test_break_glass_sign_in_needs_the_code_and_shows_the_banner(
    page: Page,
    live_server: LiveServer,
    break_glass_on: None,
    screenshot: Callable[[str], Path],
) -> None:
    # given
    account = create_break_glass_account("bg-browser", role="mi-devops")
    page.goto(f"{live_server.url}/login/")
    screenshot("login-with-break-glass-link")
    # when: password first
    page.get_by_test_id("break-glass-login").click()
    page.get_by_label("Username").fill("bg-browser")
    page.get_by_label("Password").fill(account.password)
    screenshot("break-glass-password")
    page.get_by_role("button", name="Continue").click()
    # then: asked for the code before anything else
    page.wait_for_url(f"{live_server.url}/break-glass/2fa/authenticate/")
    screenshot("break-glass-code")
    # when: the code
    page.locator("input[name=code]").fill(totp(account.secret))
    page.get_by_role("button", name="Sign In").click()
    # then
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("alert")).to_contain_text("Break-glass session")
    expect(page.get_by_test_id("person")).to_have_text("bg-browser (break-glass)")
    screenshot("dashboard-with-banner")
