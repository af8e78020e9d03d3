"""Browser: devops sets an instance's weekly maintenance window on its page, is told why a
bad one is refused (input kept), then removes it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from instances.models import Instance
from mi_admin.audit.models import AuditEvent
from tests.browser.signin import sign_in_as
from tests.instances.factories import make_instance

pytestmark = pytest.mark.browser

Screenshot = Callable[[str], Path]


def test_devops_sets_and_removes_a_maintenance_window(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    screenshot: Screenshot,
) -> None:
    make_instance("acme-prod")
    sign_in_as(page, live_server, oidc_settings, "devops")
    page.goto(f"{live_server.url}/instances/acme-prod/")
    section = page.get_by_test_id("maintenance-window")
    expect(section).to_contain_text("None: a rollout started")

    # when devops asks for a window without a day, it is refused and the input kept
    section.get_by_label("Opens at (UTC, HH:MM)").fill("23:30")
    section.get_by_label("Lasts (minutes, up to 1440)").fill("90")
    section.get_by_test_id("window-save").click()
    expect(page.get_by_test_id("window-error")).to_contain_text("Choose at least one day")
    expect(page.get_by_label("Lasts (minutes, up to 1440)")).to_have_value("90")
    screenshot("maintenance-window-refused")

    # when they tick Saturday and Sunday and save
    page.get_by_label("Sat").check()
    page.get_by_label("Sun").check()
    page.get_by_test_id("window-save").click()

    # then the page shows the window (past midnight into the next day)
    expect(page.get_by_test_id("maintenance-window-text")).to_contain_text(
        "Sat, Sun 23:30 UTC for 1 h 30 min"
    )
    screenshot("maintenance-window-set")
    instance = Instance.objects.get(slug="acme-prod")
    assert (instance.maintenance_days, instance.maintenance_start) == (0b1100000, time(23, 30))

    # when they remove it, it is gone, and both changes are in the audit trail
    page.once("dialog", lambda dialog: dialog.accept())  # it asks first (static/js/confirm.js)
    page.get_by_test_id("window-remove").click()
    expect(page.get_by_test_id("maintenance-window-text")).to_contain_text("None")
    assert Instance.objects.get(slug="acme-prod").maintenance_window is None
    actions = list(
        AuditEvent.objects.filter(action__startswith="instance.maintenance_window")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["instance.maintenance_window_set", "instance.maintenance_window_removed"]
