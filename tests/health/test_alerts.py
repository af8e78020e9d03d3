"""An instance going down in the simulator pages once per channel and resolves once."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from health.choices import DeliveryAction, DeliveryState, HealthState, IncidentState
from health.models import AlertDelivery, Incident
from health.services.sweep import sweep_run
from health.tasks import incident_deliver, incident_redeliver
from mi_admin.audit.models import AuditEvent
from tests.fixtures.http_receiver import Reply
from tests.health.conftest import OG_KEY, PD_KEY, SLACK_PATH, health_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

KEY = "mi-admin/acme-prod/down"


def sweep_states(run_sweep, instance, sweeps):
    """Run ``sweeps`` sweeps; the instance's state after each."""
    states = []
    for _ in range(sweeps):
        run_sweep()
        states.append(health_of(instance).state)
    return states


def by_channel(receiver):
    pagerduty = [r.json() for r in receiver.requests if r.route == "/v2/enqueue"]
    opsgenie = [r for r in receiver.requests if r.route.startswith("/v2/alerts")]
    slack = [r.json() for r in receiver.requests if r.route == SLACK_PATH]
    return pagerduty, opsgenie, slack


def test_down_pages_once_and_resolves_once(fleetsim, sim_instance, run_sweep, alert_channels):
    # given two healthy simulated instances
    acme = sim_instance("acme-prod")
    sim_instance("globex-prod")
    run_sweep()
    assert health_of(acme).state == HealthState.HEALTHY
    # when acme's /healthz starts answering 500 and three sweeps run
    fleetsim.set_health("acme-prod", "error")
    states = sweep_states(run_sweep, acme, 3)
    # then it turns down on the third, and every channel got exactly one trigger
    assert states == [HealthState.DEGRADED, HealthState.DEGRADED, HealthState.DOWN]
    pagerduty, opsgenie, slack = by_channel(alert_channels)
    assert len(pagerduty) == 1
    trigger = pagerduty[0]
    assert trigger["routing_key"] == PD_KEY
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == KEY
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["component"] == "acme-prod"
    assert trigger["payload"]["summary"].startswith("acme-prod is down: HTTP 500")
    assert trigger["payload"]["custom_details"]["consecutive_failures"] == 3
    assert trigger["links"][0]["href"] == "https://mi-admin.example.com/health/acme-prod/"
    assert [(r.method, r.route) for r in opsgenie] == [("POST", "/v2/alerts")]
    assert opsgenie[0].headers["authorization"] == f"GenieKey {OG_KEY}"
    assert opsgenie[0].json()["alias"] == KEY
    assert opsgenie[0].json()["priority"] == "P1"
    assert len(slack) == 1
    assert "acme-prod is down" in slack[0]["text"]
    assert KEY in slack[0]["blocks"][-1]["elements"][0]["text"]

    # when two more sweeps find it still down
    run_sweep()
    run_sweep()
    # then nobody is paged again
    assert len(alert_channels.requests) == 3

    # when it answers again for two sweeps (and a few more after that)
    fleetsim.set_health("acme-prod", "ok")
    states = sweep_states(run_sweep, acme, 4)
    # then it is healthy from the second, and each channel got exactly one resolve
    assert states[:2] == [HealthState.DOWN, HealthState.HEALTHY]
    pagerduty, opsgenie, slack = by_channel(alert_channels)
    assert [p["event_action"] for p in pagerduty] == ["trigger", "resolve"]
    assert pagerduty[1] == {"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": KEY}
    close = f"/v2/alerts/{quote(KEY, safe='')}/close"
    assert [r.route for r in opsgenie] == ["/v2/alerts", close]
    assert opsgenie[1].query == "identifierType=alias"
    assert slack[1]["text"].startswith(":white_check_mark: Resolved: acme-prod is down")
    assert len(alert_channels.requests) == 6
    # and the incident is resolved with one sent delivery per channel and action
    incident = Incident.objects.get()
    assert incident.state == IncidentState.RESOLVED
    assert incident.dedup_key == KEY
    rows = set(AlertDelivery.objects.values_list("channel", "action", "state"))
    assert rows == {
        (channel, action, DeliveryState.SENT)
        for channel in ("pagerduty", "opsgenie", "slack")
        for action in (DeliveryAction.TRIGGER, DeliveryAction.RESOLVE)
    }
    actions = list(
        AuditEvent.objects.filter(action__startswith="health.incident")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["health.incident.down.opened", "health.incident.down.resolved"]


def test_delivery_run_twice_sends_nothing_twice(fleetsim, sim_instance, run_sweep, alert_channels):
    # given an instance that went down and paged every channel
    acme = sim_instance("acme-prod", health_mode="error")
    for _ in range(3):
        run_sweep()
    assert health_of(acme).state == HealthState.DOWN
    assert len(alert_channels.requests) == 3
    incident = Incident.objects.get()
    # when the delivery task runs again (a redelivered message)
    result = incident_deliver.apply(args=(incident.pk, "trigger")).get()
    # then every channel is skipped
    assert len(alert_channels.requests) == 3
    assert sorted(result["skipped"]) == ["opsgenie", "pagerduty", "slack"]


def down_with_pagerduty_refusing(alert_channels, sim_instance, run_sweep) -> Incident:
    """acme-prod down after three sweeps, its PagerDuty trigger refused (a permanent 400)."""
    alert_channels.script(Reply(400, b'{"status":"invalid event"}'))
    sim_instance("acme-prod", health_mode="error")
    for _ in range(3):
        run_sweep()
    return Incident.objects.get()


def test_rerun_sends_only_the_channel_that_failed(
    fleetsim, sim_instance, run_sweep, alert_channels
):
    # given PagerDuty refusing the first trigger (a 400 is permanent: no retry)
    incident = down_with_pagerduty_refusing(alert_channels, sim_instance, run_sweep)
    failed = AlertDelivery.objects.get(channel="pagerduty")
    assert failed.state == DeliveryState.FAILED
    assert "HTTP 400" in failed.error
    assert len(alert_channels.requests) == 3
    # when the delivery runs again
    incident_deliver.apply(args=(incident.pk, "trigger")).get()
    # then only PagerDuty is sent, and now recorded as sent after two attempts
    assert [r.route for r in alert_channels.requests[3:]] == ["/v2/enqueue"]
    failed.refresh_from_db()
    assert failed.state == DeliveryState.SENT
    assert failed.attempts == 2


def test_suspending_a_down_instance_resolves_its_incident(
    fleetsim, sim_instance, run_sweep, alert_channels
):
    # given the only instance is down and paged
    acme = sim_instance("acme-prod", health_mode="error")
    for _ in range(3):
        run_sweep()
    assert Incident.objects.get().state == IncidentState.OPEN
    # when it is suspended and the next sweep (which probes nothing) runs
    acme.state = "suspended"
    acme.save(update_fields=["state"])
    report = run_sweep()
    # then the incident is resolved and the resolve sent
    assert report.probed == 0
    assert Incident.objects.get().state == IncidentState.RESOLVED
    pagerduty, _, _ = by_channel(alert_channels)
    assert [p["event_action"] for p in pagerduty] == ["trigger", "resolve"]


def test_failed_delivery_is_queued_again_after_the_grace_period(
    fleetsim, sim_instance, run_sweep, alert_channels
):
    # given PagerDuty refusing the trigger when the instance went down
    incident = down_with_pagerduty_refusing(alert_channels, sim_instance, run_sweep)
    # when the redelivery sweep runs within the grace period, then nothing is queued
    assert incident_redeliver.apply().get() == 0
    # when it runs once the grace period has passed
    Incident.objects.filter(pk=incident.pk).update(opened_at=timezone.now() - timedelta(minutes=10))
    queued = incident_redeliver.apply().get()
    # then the failed channel alone is sent again, and is now recorded as sent
    assert queued == 1
    assert [r.route for r in alert_channels.requests[3:]] == ["/v2/enqueue"]
    assert AlertDelivery.objects.get(channel="pagerduty").state == DeliveryState.SENT
    assert incident_redeliver.apply().get() == 0


def test_resolve_goes_only_to_the_channels_that_were_paged(
    fleetsim, sim_instance, run_sweep, alert_channels
):
    # given acme down, its PagerDuty trigger refused (so only Opsgenie and Slack paged)
    incident = down_with_pagerduty_refusing(alert_channels, sim_instance, run_sweep)
    assert len(alert_channels.requests) == 3
    # when it answers again and the incident resolves
    fleetsim.set_health("acme-prod", "ok")
    run_sweep()
    run_sweep()
    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED
    # then Opsgenie and Slack got the resolve, and PagerDuty, never paged, got nothing
    later = alert_channels.requests[3:]
    assert sorted(r.route for r in later) == sorted(
        [f"/v2/alerts/{quote(KEY, safe='')}/close", SLACK_PATH]
    )
    resolves = AlertDelivery.objects.filter(action=DeliveryAction.RESOLVE)
    assert set(resolves.values_list("channel", flat=True)) == {"opsgenie", "slack"}
    # and a redelivered resolve still leaves PagerDuty out
    result = incident_deliver.apply(args=(incident.pk, "resolve")).get()
    assert "pagerduty" in result["skipped"]
    assert len(alert_channels.requests) == 5


def test_no_trigger_goes_out_for_an_incident_already_resolved(
    fleetsim, sim_instance, health_settings, alert_channels, django_capture_on_commit_callbacks
):
    # given acme goes down and comes back before any delivery task has run (a broker outage)
    acme = sim_instance("acme-prod", health_mode="error")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        for _ in range(3):
            sweep_run()
        fleetsim.set_health("acme-prod", "ok")
        sweep_run()
        sweep_run()
    assert health_of(acme).state == HealthState.HEALTHY
    assert Incident.objects.get().state == IncidentState.RESOLVED
    # when the trigger and the resolve tasks finally run, in order
    for callback in queued:
        callback()
    # then nothing was sent: no trigger for a resolved incident, so no resolve either
    assert alert_channels.requests == []
    assert not AlertDelivery.objects.exists()
    # and the redelivery sweep, past its grace period, does not send the trigger either
    Incident.objects.update(opened_at=timezone.now() - timedelta(minutes=10))
    assert incident_redeliver.apply().get() == 0
    assert alert_channels.requests == []
