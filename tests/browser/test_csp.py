"""The Content-Security-Policy is served and enforced, and the browser fixture reports any
violation (which is what makes every other browser test a CSP test too)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.allow_console_errors
def test_an_inline_style_is_blocked_and_reported(
    page: Page, live_server: LiveServer, browser_problems: list[str], db: None
) -> None:
    # given: MI Admin's login page, under its policy
    response = page.goto(f"{live_server.url}/login/")
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert not browser_problems
    # when: something adds an inline style and an inline script, as an injection would
    page.evaluate(
        """() => {
            const style = document.createElement("style");
            style.textContent = "body { background: red; }";
            document.head.appendChild(style);
            const script = document.createElement("script");
            script.textContent = "window.injected = true;";
            document.head.appendChild(script);
        }"""
    )
    # then: the browser refused both, and the fixture saw it
    page.wait_for_function("() => window.__cspViolations >= 2")
    assert page.evaluate("() => window.injected === undefined")
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") != (
        "rgb(255, 0, 0)"
    )
    for _ in range(100):  # console events arrive on their own; a bounded poll
        violations = [p for p in browser_problems if "CSP violation" in p]
        if len(violations) >= 2:
            break
        page.evaluate("() => 0")
    assert any("style-src" in p for p in violations), browser_problems
    assert any("script-src" in p for p in violations), browser_problems
