"""Browser: the shell's rough edges (issue 12, item 7). Enter in a filter's text box sends
one request, not two; destructive actions ask first, and a dismissed question sends nothing;
the favicon is served; the navigation leads to Operations."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import time
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, Request, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from instances.models import Instance, Operation
from mi_admin.audit.models import AuditEvent
from mi_admin.ui.nav import NAV
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_instance

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def _fleet_requests(requests: list[Request]) -> list[str]:
    return [r.url for r in requests if re.search(r"/instances/\?", r.url)]


def test_enter_in_the_fleet_search_sends_one_request(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess, screenshot: Screenshot
) -> None:
    # given devops on the fleet list of two instances
    make_instance("acme-prod")
    make_instance("globex-prod")
    sign_in_as(page, live_server, oidc_settings, "devops")
    page.goto(f"{live_server.url}/instances/")
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))

    # when they type a search and press Enter
    search = page.get_by_label("Search")
    search.fill("globex")
    with page.expect_response(lambda r: "q=globex" in r.url):
        search.press("Enter")
    # then the list is filtered by exactly one request (change and submit come in one task,
    # so a second request would have been sent before the first answer arrived)
    expect(page.locator("[data-slug]")).to_have_count(1)
    expect(page.locator('[data-slug="globex-prod"]')).to_be_visible()
    assert len(_fleet_requests(requests)) == 1, _fleet_requests(requests)

    # when they press Enter again with nothing changed, then it is one request again
    requests.clear()
    with page.expect_response(lambda r: "q=globex" in r.url):
        search.press("Enter")
    assert len(_fleet_requests(requests)) == 1, _fleet_requests(requests)

    # when they choose a sort (a select filters on change), then one request
    requests.clear()
    with page.expect_response(lambda r: "sort=" in r.url):
        page.get_by_label("Sort").select_option(index=1)
    assert len(_fleet_requests(requests)) == 1, _fleet_requests(requests)

    # when they change the search and leave the box (change on blur), it still filters once
    requests.clear()
    search.fill("acme")
    with page.expect_response(lambda r: "q=acme" in r.url):
        page.get_by_label("Customer", exact=True).focus()
    expect(page.locator('[data-slug="acme-prod"]')).to_be_visible()
    assert len(_fleet_requests(requests)) == 1, _fleet_requests(requests)
    screenshot("fleet-searched")


def test_destructive_actions_ask_first(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess, screenshot: Screenshot
) -> None:
    # given an active instance with a maintenance window, and devops on its page
    make_instance(
        "acme-prod", maintenance_days=0b1, maintenance_start=time(2, 0), maintenance_minutes=60
    )
    sign_in_as(page, live_server, oidc_settings, "devops")
    page.goto(f"{live_server.url}/instances/acme-prod/")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    questions: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    # when they press "Remove the window" and dismiss the question
    page.once("dialog", dismiss)
    page.get_by_test_id("window-remove").click()
    # then they were asked, nothing was sent and the window is still there
    assert questions == ["Remove the maintenance window of acme-prod?"]
    expect(page.get_by_test_id("maintenance-window-text")).not_to_contain_text("None")
    assert posts == []
    assert Instance.objects.get(slug="acme-prod").maintenance_window is not None

    # when they fill a reason, press Suspend and dismiss the question
    page.get_by_label(re.compile("^Suspend now")).fill("customer paused the POC")
    page.once("dialog", dismiss)
    page.get_by_test_id("suspend-submit").click()
    # then nothing was sent: no operation, no audit event
    assert questions[-1] == "Suspend acme-prod now? Its VM is stopped."
    assert posts == []
    assert not Operation.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="instance.maintenance").exists()
    screenshot("after-dismissing")

    # when they remove the window and accept, then exactly one POST goes and it is gone
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("window-remove").click()
    expect(page.get_by_test_id("maintenance-window-text")).to_contain_text("None")
    assert len(posts) == 1
    assert Instance.objects.get(slug="acme-prod").maintenance_window is None


def test_favicon_and_operations_in_the_navigation(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess, screenshot: Screenshot
) -> None:
    # given an Admin signed in (the widest navigation)
    sign_in_as(page, live_server, oidc_settings, "admin")
    # when the dashboard loads, then its favicon is an SVG the server serves
    href = page.locator('link[rel="icon"]').get_attribute("href")
    assert href is not None
    icon = page.request.get(f"{live_server.url}{href}")
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    # when they follow Operations in the navigation, then the operations list opens
    page.get_by_role("navigation").get_by_role("link", name="Operations").click()
    page.wait_for_url(f"{live_server.url}/operations/")
    expect(page.get_by_role("link", name="Operations")).to_have_attribute("aria-current", "page")
    # and at 1280 px the widest navigation stays on one line, no label broken in two
    heights = page.locator(".topbar nav li > a:not(.brand)").evaluate_all(
        "links => links.map(a => [a.getBoundingClientRect().top, a.getClientRects().length])"
    )
    # (every entry of the navigation: an Admin may see them all)
    assert len(heights) == len(NAV), heights
    assert len({top for top, _ in heights}) == 1, heights
    assert {rects for _, rects in heights} == {1}, heights
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280
    screenshot("operations-nav")


def test_a_person_without_a_role_signs_out_from_the_403(
    page: Page, live_server: LiveServer, oidc_settings: IdpProcess, screenshot: Screenshot
) -> None:
    # given a person in no MI Admin group, signed in through Okta, on the 403
    sign_in_as(page, live_server, oidc_settings, "stranger")
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the dashboard")).to_have_count(0)
    screenshot("no-role-403")
    # when they press the page's Sign out
    page.get_by_test_id("forbidden-sign-out").get_by_role("button", name="Sign out").click()
    # then they end on the login page, signed out
    page.wait_for_url(re.compile(re.escape(live_server.url) + r"/login/"))
    expect(page.get_by_test_id("okta-login")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_have_count(0)
