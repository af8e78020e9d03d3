"""Browser: devops plans and starts a rollout, watches it pause on a release that fails on
one production instance, retries it once fixed, resumes it to the end, and reads the
report: test-instance upgrades first. The beat's driver runs in the test (bounded poll);
a real worker runs the upgrades against the fleet simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from fleetsim.client import FleetSimClient
from idp.process import IdpProcess
from rollouts.models import Rollout, RolloutState
from rollouts.services import rollout_advance
from tests.browser.signin import sign_in_as
from tests.rollouts.conftest import TO, make_fleet, make_releases

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Screenshot = Callable[[str], Path]


def _drive_until(rollout: Rollout, state: RolloutState, seconds: float = 120) -> None:
    """Run the beat task's driver until the rollout is in ``state`` (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if rollout_advance(rollout_id=rollout.pk) == state:
            return
        time.sleep(0.2)
    rollout.refresh_from_db()
    raise AssertionError(f"rollout still {rollout.state} after {seconds} s")


def _assert_one_compact_row(page: Page, actions: Locator | None = None) -> None:
    """A form's fields and buttons share one line, the buttons sized to their labels (Pico
    alone stacks them full-width). Default: the rollout's action form."""
    actions = actions or page.get_by_test_id("rollout-actions")
    fields = actions.locator("input:not([type=hidden]), button")
    found = [b.bounding_box() for b in fields.all()]
    boxes = [box for box in found if box is not None]
    assert len(boxes) == len(found) >= 2, found
    middles = [box["y"] + box["height"] / 2 for box in boxes]
    assert max(middles) - min(middles) <= 4, f"not one row: {boxes}"
    form = actions.bounding_box()
    assert form is not None
    for box in boxes:
        assert box["width"] < form["width"] * 0.8, f"a field as wide as its form: {box}"


def test_devops_runs_a_rollout_through_a_failure_to_its_report(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    celery_worker: str,
    fleetsim: FleetSimClient,
    settings: Settings,
    screenshot: Screenshot,
) -> None:
    # given the fleet on 6.9.1, 6.10.0 out, and prod-a on which 6.10.0 is unhealthy
    settings.UPGRADE_STABILITY_SECONDS = 0.6
    settings.UPGRADE_PROGRESS_DEADLINE_SECONDS = 4
    settings.UPGRADE_POLL_SECONDS = 0.1
    make_releases()
    make_fleet(fleetsim, prod_a="bad_release")
    sign_in_as(page, live_server, oidc_settings, "devops")

    # when devops shows the plan, saves it and starts it
    page.goto(f"{live_server.url}/rollouts/new/?release={TO}&failure_budget=0&hold_seconds=0")
    expect(page.get_by_test_id("plan-wave").first).to_contain_text("dev")
    page.get_by_role("button", name="Save the plan").click()
    # the planned rollout's actions sit in one compact row: the reason, then small buttons;
    # so does each instance's "move to wave" form
    _assert_one_compact_row(page)
    _assert_one_compact_row(page, page.get_by_test_id("target-move-form").first)
    screenshot("rollout-planned-actions")
    page.get_by_test_id("start-rollout").click()
    expect(page.get_by_test_id("rollout-state")).to_contain_text("Running")
    _assert_one_compact_row(page)
    rollout = Rollout.objects.get()

    # then it runs until prod-a fails, and the live page shows the pause and its reason
    _drive_until(rollout, RolloutState.PAUSED)
    expect(page.get_by_test_id("rollout-paused")).to_contain_text("prod-a failed", timeout=15_000)
    page.reload()  # the paused page offers Resume in the row
    _assert_one_compact_row(page)
    _assert_one_compact_row(page, page.get_by_test_id("target-actions").first)
    screenshot("rollout-paused")

    # when the cause is fixed, devops retries prod-a and resumes
    fleetsim.set_health("prod-a", "ok")
    row = page.get_by_test_id("target-row").filter(has_text="prod-a")
    row.get_by_role("button", name="Retry").click()
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("rollout-state")).to_contain_text("Running")

    # then the rollout completes and every v1.0 instance runs 6.10.0
    _drive_until(rollout, RolloutState.COMPLETED)
    expect(page.get_by_test_id("rollout-state")).to_contain_text("Completed", timeout=15_000)
    for slug in ("dev", "demo", "trial-a", "trial-b", "prod-a", "prod-b", "prod-c"):
        assert fleetsim.get_instance(slug)["version"] == TO

    # and the report lists the test-instance upgrades first, each customer upgrade after a
    # verified test-instance upgrade
    page.get_by_test_id("rollout-report-link").click()
    rows = page.get_by_test_id("report-row")
    expect(rows.first).to_have_attribute("data-test-instance", "true")
    flags = [rows.nth(i).get_attribute("data-test-instance") for i in range(rows.count())]
    assert flags[:2] == ["true", "true"]
    assert set(flags[2:]) == {"false"}
    verified = page.locator('[data-test-instance="false"] [data-testid="verified-on"]')
    for text in verified.all_inner_texts():
        assert text.startswith(("dev,", "demo,")), text
    screenshot("rollout-report")
