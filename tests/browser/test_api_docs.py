"""The API's docs (Swagger UI from vendored assets) render under the strict CSP, and a call
from the page goes through with the browser session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_instance, make_releases

pytestmark = pytest.mark.browser


def test_api_docs_render_under_the_policy_and_call_the_api(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    browser_problems: list[str],
    screenshot: Callable[[str], Path],
) -> None:
    # given an instance, and DevOps signed in through the provider
    make_releases()
    make_instance("acme-prod")
    sign_in_as(page, live_server, oidc_settings, "devops")
    # when they open the API docs
    response = page.goto(f"{live_server.url}/api/docs/")
    # then Swagger UI lists the endpoints, with nothing refused by the policy
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/api/v1/instances/{slug}/upgrade/")).to_be_visible()
    screenshot("docs")
    # when they try the fleet list from the page (the session's cookie, no token)
    page.locator("#operations-instances-instances_list").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    # then the API answered 200 with the instance
    body = page.locator(".live-responses-table .response-col_description pre").first
    expect(body).to_contain_text("acme-prod")
    screenshot("try-it-out")
    assert not browser_problems, browser_problems
