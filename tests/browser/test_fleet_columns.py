"""The fleet table's columns, per person, in real Chromium at 1280 x 800: a person hides a
column and moves another (the arrows move rows without a request), saves, reloads, and keeps
their choice; another persona still sees the default; the header stays in view while the
table scrolls, and the default columns still fit without a horizontal scroll."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from instances.models import Instance
from mi_admin.audit.models import AuditEvent
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_customer, make_releases

pytestmark = pytest.mark.browser

NO_HORIZONTAL_SCROLL = """() => {
    const doc = document.documentElement;
    const box = document.querySelector('[data-testid="fleet-table-box"]');
    return {page: [doc.scrollWidth, doc.clientWidth], table: [box.scrollWidth, box.clientWidth]};
}"""


def _headers(page: Page) -> list[str]:
    return page.locator("table.fleet thead th").evaluate_all(
        "cells => cells.map(c => c.dataset.col)"
    )


def _fits(page: Page) -> None:
    widths = page.evaluate(NO_HORIZONTAL_SCROLL)
    assert widths["page"][0] <= widths["page"][1], widths
    assert widths["table"][0] <= widths["table"][1], widths


def test_a_person_hides_a_column_and_keeps_it_hidden(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    screenshot: Callable[[str], Path],
) -> None:
    # given a page-full of instances with long names (a full page: the table scrolls)
    make_releases()
    customer = make_customer("international-widgets", name="International Widgets Holdings")
    Instance.objects.bulk_create(
        Instance(
            customer=customer,
            slug=f"international-widgets-{n:02d}",
            url=f"https://international-widgets-{n:02d}.sourcegraph.example",
            gcp_project=f"mi-iw-{n:02d}",
        )
        for n in range(50)
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in_as(page, live_server, oidc_settings, "devops")

    # when devops opens the fleet list with the default columns
    page.goto(f"{live_server.url}/instances/")
    expect(page.get_by_test_id("instance-row")).to_have_count(50)
    default = _headers(page)
    assert "drift" in default
    assert default.index("health") > default.index("version")
    # then nothing scrolls sideways, even with the table's own vertical scroll bar
    _fits(page)
    screenshot("default-columns")

    # and scrolling the table keeps its header in view
    page.get_by_test_id("instance-row").nth(40).scroll_into_view_if_needed()
    header = page.locator("table.fleet thead th").first.bounding_box()
    box = page.get_by_test_id("fleet-table-box").bounding_box()
    first_row = page.get_by_test_id("instance-row").first.bounding_box()
    assert header is not None
    assert box is not None
    assert first_row is not None
    assert abs(header["y"] - box["y"]) < 2, (header, box)  # stuck to the top of the box
    assert 0 <= header["y"] < 800
    assert first_row["y"] < header["y"]  # the first rows went up under it
    screenshot("sticky-header")

    # when they sort by slug, descending (htmx moves the address along)
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_label("Sort").select_option("-slug")
    page.wait_for_url(re.compile(r"sort=-slug"))
    expect(page.get_by_test_id("instance-row").first).to_have_attribute(
        "data-slug", "international-widgets-49"
    )
    # and open "Configure table", untick Drift and move Health up three places
    page.get_by_text("Configure table").click()
    form = page.get_by_test_id("table-config-form")
    expect(form).to_be_visible()
    form.get_by_test_id("column-drift").uncheck()
    for _ in range(3):
        form.get_by_role("button", name="Move Health up").click()
    order = form.locator("input[name=order]").evaluate_all("els => els.map(e => e.value)")
    assert order.index("health") < order.index("version")
    assert "sort=-slug" in page.url  # the arrows asked nothing
    screenshot("configure-table")
    form.get_by_test_id("table-config-save").click()

    # then the list comes back in the sort on screen, with their columns: no Drift, Health
    # before Version
    page.wait_for_url(re.compile(r"/instances/\?.*sort=-slug"))
    expect(page.get_by_test_id("instance-row").first).to_have_attribute(
        "data-slug", "international-widgets-49"
    )
    expect(page.locator('th[data-col="drift"]')).to_have_count(0)
    mine = _headers(page)
    assert mine.index("health") < mine.index("version")
    assert AuditEvent.objects.filter(action="ui.table_columns.saved").count() == 1
    # and after a reload too
    page.reload()
    expect(page.get_by_test_id("instance-row")).to_have_count(50)
    expect(page.locator('th[data-col="drift"]')).to_have_count(0)
    expect(page.locator('td[data-col="drift"]')).to_have_count(0)
    assert _headers(page) == mine
    screenshot("my-columns")

    # when CE signs in on the same browser
    page.context.clear_cookies()
    sign_in_as(page, live_server, oidc_settings, "ce")
    page.goto(f"{live_server.url}/instances/")
    # then CE still sees every default column, in the default order
    expect(page.locator('th[data-col="drift"]')).to_have_count(1)
    assert _headers(page) == default
    _fits(page)
