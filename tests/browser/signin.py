"""Signing in through the local OIDC provider's form, as a person does."""

from __future__ import annotations

import re

from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from idp import DEMO_PASSWORD
from idp.process import IdpProcess


def sign_in_as(
    page: Page, live_server: LiveServer, idp: IdpProcess, username: str, *, lands_on: str = "/"
) -> None:
    """From MI Admin's login page, through the IdP's form, back to MI Admin's landing page:
    the dashboard, or ``lands_on`` (a CE with customers: their fleet list)."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_test_id("okta-login").click()
    page.wait_for_url(re.compile(re.escape(idp.base_url) + r"/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}{lands_on}")
