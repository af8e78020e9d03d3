"""CE in real Chromium: signing in lands on the fleet list with "My customers" on, listing
exactly their instances; the dashboard (from the navigation) starts with them too; the
instance page names the owner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp import subject_for
from idp.process import IdpProcess
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_customer, make_instance, make_releases

pytestmark = pytest.mark.browser


def test_ce_lands_on_my_customers_and_sees_exactly_theirs(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    screenshot: Callable[[str], Path],
) -> None:
    # given the CE persona as the demo creates them (known by the IdP's sub before login)
    ce = get_user_model().objects.create(
        username="ce@example.com", oidc_sub=subject_for("ce"), email="ce@example.com"
    )
    make_releases()
    mine = make_customer("acme", owner_ce=ce)
    make_instance("acme-prod", customer=mine)
    make_instance("acme-trial", customer=mine)
    make_instance("globex-prod")
    make_instance("initech-prod")
    page.set_viewport_size({"width": 1280, "height": 800})

    # when CE signs in, they land on the fleet list with "My customers" on
    sign_in_as(page, live_server, oidc_settings, "ce", lands_on="/instances/?mine=true")

    # then it lists exactly their instances, with the filter shown on
    expect(page.get_by_test_id("instance-count")).to_have_text("2 instances")
    rows = page.get_by_test_id("instance-row")
    expect(rows).to_have_count(2)
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.slug)")) == [
        "acme-prod",
        "acme-trial",
    ]
    expect(page.get_by_test_id("filter-mine")).to_be_checked()
    screenshot("ce-my-customers")

    # and the dashboard, from the navigation, starts with their customers
    page.get_by_role("link", name="Dashboard").click()
    link = page.get_by_test_id("my-customers-link")
    expect(link).to_have_text("2 instances of 1 customer")
    screenshot("ce-dashboard")
    link.click()
    expect(page.get_by_test_id("filter-mine")).to_be_checked()

    # when CE unticks it, the whole fleet is back
    page.get_by_test_id("filter-mine").uncheck()
    expect(page.get_by_test_id("instance-count")).to_have_text("4 instances")

    # and the instance page names the owning CE
    page.goto(f"{live_server.url}/instances/acme-prod/")
    owner = page.locator("dt:text-is('Owning CE') + dd").first
    expect(owner).to_have_text(str(get_user_model().objects.get(pk=ce.pk)))
    expect(owner).to_contain_text("Casey")
