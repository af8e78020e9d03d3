"""DevOps in real Chromium: the dashboard's "Control plane" block shows the worker's last
answer and opens the periodic tasks when one is overdue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from mi_admin.liveness.services import periodic_run_record, worker_answer_record
from tests.browser.signin import sign_in_as

pytestmark = pytest.mark.browser


def test_an_overdue_sweep_is_flagged_on_the_dashboard(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    screenshot: Callable[[str], Path],
) -> None:
    # given a worker answered just now, the sweep last ran 10 minutes ago
    now = timezone.now()
    worker_answer_record(hostname="worker-1@host", at=now)
    periodic_run_record(task="health.tasks.health_sweep", at=now - timedelta(minutes=10))
    periodic_run_record(task="instances.tasks.operation_dispatch_pending", at=now)
    page.set_viewport_size({"width": 1280, "height": 800})
    # when DevOps signs in
    sign_in_as(page, live_server, oidc_settings, "devops")
    block = page.get_by_test_id("control-plane")
    block.scroll_into_view_if_needed()
    # then the block says so, with the periodic tasks open and the sweep flagged
    expect(page.get_by_test_id("worker-answered")).to_contain_text("Worker answering")
    expect(page.get_by_test_id("overdue-count")).to_have_text("1 periodic task overdue")
    sweep = page.locator('tr[data-entry="health-sweep"]')
    expect(sweep).to_be_visible()
    expect(sweep).to_contain_text("overdue")
    screenshot("dashboard-control-plane")
