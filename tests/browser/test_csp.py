"""The Content-Security-Policy is served and enforced, and the browser fixture reports any
violation (which is what makes every other browser test a CSP test too)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_instance, make_releases

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


PAGES = [
    "/",
    "/instances/",
    "/instances/acme-prod/",
    "/operations/",
    "/health/acme-prod/",
    "/health/acme-prod/windows/add/",
    "/health/acme-prod/mark-maintenance/",
    "/audit/",
    "/admin/",
    "/admin/mfa/authenticator/",
    "/admin/health/maintenancewindow/",
    "/admin/django_celery_beat/periodictask/add/",
    "/no-such-page/",
]


def test_every_page_an_admin_sees_works_under_the_policy(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    browser_problems: list[str],
    screenshot: Callable[[str], Path],
) -> None:
    # given an instance, and an Admin signed in through the provider
    make_releases()
    make_instance("acme-prod")
    sign_in_as(page, live_server, oidc_settings, "admin")
    for path in PAGES:
        # when
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
        # then: served under the policy, and nothing on it was refused (the fixture also
        # fails the test on any violation or console error)
        assert response is not None
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        assert not browser_problems, (path, browser_problems)
    screenshot("last-page")


def test_the_periodic_task_form_still_explains_the_crontab(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess
) -> None:
    # given a schedule, and an Admin on django-celery-beat's form (its inline script is
    # replaced by static/js/periodic_task_form.js)
    schedule = CrontabSchedule.objects.create(minute="0", hour="4")
    sign_in_as(page, live_server, oidc_settings, "admin")
    page.goto(f"{live_server.url}/admin/django_celery_beat/periodictask/add/")
    # when
    page.locator("#id_crontab").select_option(str(schedule.pk))
    # then
    expect(page.locator(".field-crontab .help")).to_contain_text("Translation: At 04:00")
