"""Browser: DevOps finds an open incident on the fleet's incidents page, acknowledges it,
and the PagerDuty and Opsgenie receivers (local HTTP servers) get the acknowledgement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from health.choices import IncidentCause
from health.services.incidents import incident_open
from idp.process import IdpProcess
from mi_admin.audit.models import AuditEvent
from mi_admin.celery import app as celery_app
from tests.browser.signin import sign_in_as
from tests.fixtures.http_receiver import HttpReceiver
from tests.instances.factories import make_instance

pytestmark = pytest.mark.browser

KEY = "mi-admin/acme-prod/down"


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Deliveries run in the live server's thread (the real task code, no broker): the
    session's worker is pointed at other alert endpoints."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def test_devops_acknowledges_an_incident_and_both_providers_get_it(
    page: Page,
    live_server: LiveServer,
    oidc_settings: IdpProcess,
    http_receiver: HttpReceiver,
    settings: Settings,
    eager_tasks: None,
    screenshot: Callable[[str], Path],
) -> None:
    # given PagerDuty, Opsgenie and Slack pointed at a local receiver, and an open incident
    # whose trigger went out to all three
    settings.PAGERDUTY_ROUTING_KEY = "pd-key"
    settings.PAGERDUTY_EVENTS_URL = f"{http_receiver.url}/v2/enqueue"
    settings.OPSGENIE_API_KEY = "og-key"
    settings.OPSGENIE_API_URL = http_receiver.url
    settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}/slack"
    settings.ALERT_HTTP_TIMEOUT = 2.0
    make_instance("globex-prod")
    incident = incident_open(
        instance=make_instance("acme-prod"),
        cause=IncidentCause.DOWN,
        summary="acme-prod is down: HTTP 500",
        details={"instance": "acme-prod"},
        now=timezone.now(),
    )
    assert incident is not None
    assert len(http_receiver.requests) == 3
    http_receiver.requests.clear()

    # when devops opens Incidents from the navigation and filters on open ones
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in_as(page, live_server, oidc_settings, "devops")
    page.get_by_role("link", name="Incidents", exact=True).click()
    page.get_by_label("State").select_option("unacknowledged")
    expect(page.get_by_test_id("incident-count")).to_have_text("1 incident")
    expect(page.get_by_test_id("incident-row")).to_contain_text("acme-prod is down")
    screenshot("incident-list")

    # and acknowledges it on its page, with a note
    page.get_by_test_id("incident-row").get_by_role("link").first.click()
    screenshot("incident-open")
    page.get_by_test_id("incident-acknowledge").click()
    expect(page.get_by_test_id("incident-state")).to_have_text("Acknowledged")
    page.get_by_label("Add a note").fill("Disk full on the DB VM; resizing.")
    page.get_by_test_id("incident-note-add").click()
    expect(page.get_by_test_id("incident-note")).to_contain_text("Disk full on the DB VM")
    expect(page.get_by_test_id("incident-acknowledge")).to_have_count(0)
    screenshot("incident-acknowledged")

    # then PagerDuty and Opsgenie each got one acknowledgement with the trigger's key
    pagerduty = [r.json() for r in http_receiver.requests if r.route == "/v2/enqueue"]
    assert pagerduty == [{"routing_key": "pd-key", "event_action": "acknowledge", "dedup_key": KEY}]
    opsgenie = [r.path for r in http_receiver.requests if r.route.startswith("/v2/alerts")]
    assert opsgenie == ["/v2/alerts/mi-admin%2Facme-prod%2Fdown/acknowledge?identifierType=alias"]
    slack = [r.json()["text"] for r in http_receiver.requests if r.route == "/slack"]
    assert len(slack) == 1
    assert "Acknowledged" in slack[0]
    # and both the acknowledgement and the note are in the audit trail, by devops
    actions = AuditEvent.objects.filter(action__startswith="health.incident.").exclude(
        action__endswith=".opened"
    )
    assert sorted(actions.values_list("action", "actor_label")) == [
        ("health.incident.acknowledged", "devops@example.com"),
        ("health.incident.note_added", "devops@example.com"),
    ]
