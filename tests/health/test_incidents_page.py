"""Incidents across the fleet: the list and its filters, acknowledging (paged out once to
PagerDuty, Opsgenie and Slack), notes, and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from health.choices import DeliveryAction, DeliveryState, IncidentCause, IncidentState
from health.models import AlertDelivery, Incident, IncidentNote
from health.services.incidents import incident_open, incident_resolve
from mi_admin.audit.models import AuditEvent
from tests.health.conftest import OG_KEY, PD_KEY, SLACK_PATH
from tests.instances.factories import make_instance

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks", "health_settings")]

KEY = "mi-admin/acme-prod/down"


@pytest.fixture
def triggered(alert_channels, django_capture_on_commit_callbacks):
    """An open ``down`` incident of acme-prod whose trigger reached every channel."""
    instance = make_instance("acme-prod")
    with django_capture_on_commit_callbacks(execute=True):
        incident = incident_open(
            instance=instance,
            cause=IncidentCause.DOWN,
            summary="acme-prod is down: HTTP 500",
            details={"instance": "acme-prod"},
            now=timezone.now(),
        )
    assert incident is not None
    assert len(alert_channels.requests) == 3  # the triggers
    alert_channels.requests.clear()
    return incident


def _acknowledge(client_for, captured, persona: str, incident: Incident):
    with captured(execute=True):
        return client_for(persona).post(f"/incidents/{incident.pk}/acknowledge/")


def test_devops_acknowledges_once_and_every_channel_hears_it_once(
    triggered, alert_channels, client_for, django_capture_on_commit_callbacks
):
    # when devops acknowledges the incident
    response = _acknowledge(client_for, django_capture_on_commit_callbacks, "devops", triggered)
    # then it is acknowledged by them, and audited
    assert response.status_code == 302
    triggered.refresh_from_db()
    assert triggered.acknowledged_by.username == "devops"
    assert triggered.acknowledged_at is not None
    events = AuditEvent.objects.filter(action="health.incident.acknowledged")
    acknowledged = [(e.actor_label, (e.after or {}).get("incident")) for e in events]
    assert acknowledged == [("devops", triggered.pk)]
    # and PagerDuty got an Events API v2 acknowledge with the trigger's dedup key
    pagerduty = [r.json() for r in alert_channels.requests if r.route == "/v2/enqueue"]
    assert pagerduty == [{"routing_key": PD_KEY, "event_action": "acknowledge", "dedup_key": KEY}]
    # and Opsgenie the Alert API acknowledge of the alert by alias
    opsgenie = [r for r in alert_channels.requests if r.route.startswith("/v2/alerts")]
    assert [(r.method, r.path) for r in opsgenie] == [
        ("POST", "/v2/alerts/mi-admin%2Facme-prod%2Fdown/acknowledge?identifierType=alias")
    ]
    assert opsgenie[0].headers["authorization"] == f"GenieKey {OG_KEY}"
    assert opsgenie[0].json()["note"].startswith("Acknowledged: acme-prod is down")
    assert "acknowledged by devops" in opsgenie[0].json()["note"]
    # and Slack a message saying who acknowledged
    slack = [r.json() for r in alert_channels.requests if r.route == SLACK_PATH]
    assert len(slack) == 1
    assert slack[0]["text"].startswith(":eyes: Acknowledged: acme-prod is down")
    assert "devops" in slack[0]["text"]
    sent = AlertDelivery.objects.filter(incident=triggered, action=DeliveryAction.ACKNOWLEDGE)
    assert sorted(sent.values_list("channel", "state")) == [
        ("opsgenie", DeliveryState.SENT),
        ("pagerduty", DeliveryState.SENT),
        ("slack", DeliveryState.SENT),
    ]

    # when the admin acknowledges it again, and the delivery task runs again
    first = triggered.acknowledged_at
    alert_channels.requests.clear()
    again = _acknowledge(client_for, django_capture_on_commit_callbacks, "admin", triggered)
    from health.tasks import incident_deliver

    incident_deliver.delay(triggered.pk, DeliveryAction.ACKNOWLEDGE)
    # then nothing changes, nothing is audited and nobody is paged twice
    assert again.status_code == 302
    triggered.refresh_from_db()
    assert (triggered.acknowledged_by.username, triggered.acknowledged_at) == ("devops", first)
    assert AuditEvent.objects.filter(action="health.incident.acknowledged").count() == 1
    assert alert_channels.requests == []


def test_ce_and_manager_cannot_acknowledge_or_add_notes(
    triggered, alert_channels, client_for, django_capture_on_commit_callbacks
):
    for persona in ("ce", "manager"):
        # when they try
        response = _acknowledge(client_for, django_capture_on_commit_callbacks, persona, triggered)
        note = client_for(persona).post(f"/incidents/{triggered.pk}/notes/", {"text": "mine"})
        # then both are refused, and nothing happened
        assert (response.status_code, note.status_code) == (403, 403)
    triggered.refresh_from_db()
    assert triggered.acknowledged_at is None
    assert alert_channels.requests == []
    assert not IncidentNote.objects.exists()
    # and the incident page offers them neither
    page = client_for("ce").get(f"/incidents/{triggered.pk}/").content.decode()
    assert 'data-testid="incident-acknowledge"' not in page
    assert 'data-testid="incident-note-add"' not in page


def test_a_resolved_incident_cannot_be_acknowledged(
    triggered, alert_channels, client_for, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident_resolve(incident=triggered, reason="up again", now=timezone.now())
    alert_channels.requests.clear()
    client = client_for("devops")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/incidents/{triggered.pk}/acknowledge/")
    assert response.status_code == 302
    triggered.refresh_from_db()
    assert triggered.acknowledged_at is None
    assert alert_channels.requests == []
    page = client.get(response["Location"]).content.decode()
    assert "This incident is resolved" in page


def test_a_note_is_kept_audited_and_an_empty_one_refused(triggered, client_for):
    client = client_for("devops")
    # when devops adds a note
    response = client.post(f"/incidents/{triggered.pk}/notes/", {"text": "  DB disk full  "})
    # then it is on the incident's page and in the audit trail
    assert response.status_code == 302
    assert list(IncidentNote.objects.values_list("text", "author__username")) == [
        ("DB disk full", "devops")
    ]
    page = client.get(f"/incidents/{triggered.pk}/").content.decode()
    assert "DB disk full" in page
    event = AuditEvent.objects.get(action="health.incident.note_added")
    assert (event.actor_label, (event.after or {}).get("text")) == ("devops", "DB disk full")
    # when the note is blank, or too long, it is refused with the reason and the text kept
    blank = client.post(f"/incidents/{triggered.pk}/notes/", {"text": "   "})
    assert blank.status_code == 400
    assert "Write a note first." in blank.content.decode()
    long = client.post(f"/incidents/{triggered.pk}/notes/", {"text": "x" * 4001})
    assert long.status_code == 400
    assert "at most 4000 characters" in long.content.decode()
    assert "x" * 4001 in long.content.decode()
    assert IncidentNote.objects.count() == 1


def test_the_database_refuses_an_empty_note_and_an_acknowledger_without_a_time(triggered):
    from tests.fixtures.personas import make_persona

    devops = make_persona("devops")
    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentNote.objects.create(incident=triggered, text="")
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=triggered.pk).update(acknowledged_by=devops)


def _incident(slug: str, cause: str, *, hours_ago: int, state: str = IncidentState.OPEN, ack=False):
    instance = make_instance(slug)
    opened = timezone.now() - timedelta(hours=hours_ago)
    return Incident.objects.create(
        instance=instance,
        cause=cause,
        dedup_key=f"mi-admin/{slug}/{cause}",
        state=state,
        summary=f"{slug} {cause}",
        opened_at=opened,
        resolved_at=opened + timedelta(minutes=5) if state == IncidentState.RESOLVED else None,
        acknowledged_at=opened if ack else None,
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["beta-prod", "acme-prod", "acme-trial", "gamma-prod"]),
        ({"instance": "acme"}, ["acme-prod", "acme-trial"]),
        ({"cause": "version_sla"}, ["acme-trial"]),
        ({"state": "open"}, ["beta-prod", "acme-prod", "acme-trial"]),
        ({"state": "acknowledged"}, ["beta-prod"]),
        ({"state": "unacknowledged"}, ["acme-prod", "acme-trial"]),
        ({"state": "resolved"}, ["gamma-prod"]),
        ({"since": "2000-01-01T00:00"}, ["beta-prod", "acme-prod", "acme-trial", "gamma-prod"]),
    ],
)
def test_the_list_filters_by_instance_cause_state_and_time(client_for, query, expected):
    _incident("gamma-prod", IncidentCause.DOWN, hours_ago=72, state=IncidentState.RESOLVED)
    _incident("acme-trial", IncidentCause.VERSION_SLA, hours_ago=30)
    _incident("acme-prod", IncidentCause.DOWN, hours_ago=3)
    _incident("beta-prod", IncidentCause.DOWN, hours_ago=1, ack=True)
    response = client_for("ce").get("/incidents/", query)
    assert response.status_code == 200
    slugs = [incident.instance.slug for incident in response.context["page"].object_list]
    assert slugs == expected


def test_the_list_filters_by_time_window_and_refuses_a_bad_time(client_for):
    _incident("old-prod", IncidentCause.DOWN, hours_ago=72)
    _incident("new-prod", IncidentCause.DOWN, hours_ago=1)
    since = (timezone.now() - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    response = client_for("ce").get("/incidents/", {"since": since})
    assert [i.instance.slug for i in response.context["page"].object_list] == ["new-prod"]
    bad = client_for("ce").get("/incidents/", {"since": "yesterday"})
    assert bad.status_code == 400
    partial = client_for("ce").get("/incidents/", {"state": "open"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert "<form" not in partial.content.decode()  # the results alone for htmx


def test_navigation_and_dashboard_link_to_incidents(client_for):
    page = client_for("ce").get("/").content.decode()
    assert 'href="/incidents/"' in page  # the navigation
    assert 'data-testid="incidents-link"' in page  # the dashboard's health summary


def test_a_refused_acknowledgement_is_sent_again_by_the_redelivery_sweep(
    triggered, alert_channels, client_for, django_capture_on_commit_callbacks
):
    from health.selectors.deliveries import deliveries_pending
    from health.tasks import incident_redeliver
    from tests.fixtures.http_receiver import Reply

    # given PagerDuty refuses the acknowledgement once
    alert_channels.script(Reply(400, b'{"status":"invalid event"}'))
    _acknowledge(client_for, django_capture_on_commit_callbacks, "devops", triggered)
    row = AlertDelivery.objects.get(
        incident=triggered, channel="pagerduty", action=DeliveryAction.ACKNOWLEDGE
    )
    assert row.state == DeliveryState.FAILED
    # when the redelivery sweep runs past its grace period
    Incident.objects.filter(pk=triggered.pk).update(
        opened_at=timezone.now() - timedelta(minutes=10)
    )
    pending = deliveries_pending(now=timezone.now())
    assert pending == [(triggered.pk, DeliveryAction.ACKNOWLEDGE.value)]
    alert_channels.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        incident_redeliver()
    # then only PagerDuty is sent the acknowledgement again, and it is sent now
    routes = [r.route for r in alert_channels.requests]
    assert routes == ["/v2/enqueue"]
    row.refresh_from_db()
    assert (row.state, row.attempts) == (DeliveryState.SENT, 2)
