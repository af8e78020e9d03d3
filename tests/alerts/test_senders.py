"""Alert senders against a real local HTTP receiver: payloads, auth, retries, timeouts."""

import logging
import socket
from datetime import UTC, datetime

import pytest

from mi_admin.alerts.base import (
    Alert,
    AlertAction,
    AlertPermanentError,
    AlertTransientError,
    Severity,
)
from mi_admin.alerts.dispatch import backoff_delay, configured_notifiers, send_with_retry
from tests.fixtures.http_receiver import Reply

PD_KEY = "pd-routing-key-0123456789abcdef"
OG_KEY = "og-api-key-0123456789abcdef"
SLACK_PATH = "/services/T000/B000/slack-secret-token"


@pytest.fixture
def configure(settings, http_receiver):
    """Point the chosen notifiers at the receiver and switch the others off."""

    def apply(*names: str, timeout: float = 2.0) -> None:
        settings.PAGERDUTY_ROUTING_KEY = PD_KEY if "pagerduty" in names else ""
        settings.PAGERDUTY_EVENTS_URL = f"{http_receiver.url}/v2/enqueue"
        settings.OPSGENIE_API_KEY = OG_KEY if "opsgenie" in names else ""
        settings.OPSGENIE_API_URL = http_receiver.url
        settings.SLACK_WEBHOOK_URL = f"{http_receiver.url}{SLACK_PATH}" if "slack" in names else ""
        settings.ALERT_HTTP_TIMEOUT = timeout

    return apply


def only(name: str):
    (notifier,) = configured_notifiers()
    assert notifier.name == name
    return notifier


def make_alert(**overrides) -> Alert:
    values = {
        "dedup_key": "instance/acme/down",
        "action": AlertAction.TRIGGER,
        "summary": "acme.sourcegraph.com is down: /healthz answered 500",
        "severity": Severity.CRITICAL,
        "source": "mi-admin.example.com",
        "component": "acme",
        "details": {"http_status": 500, "version": "5.3.2"},
        "links": [("Instance", "https://mi-admin.example.com/instances/acme/")],
    }
    return Alert(**{**values, **overrides})


# --- PagerDuty ---------------------------------------------------------------------------


def test_pagerduty_trigger_event(configure, http_receiver):
    # given PagerDuty configured and a receiver answering 202 like the Events API
    configure("pagerduty")
    http_receiver.script(Reply(202, b'{"status":"success"}'))
    # when a trigger is sent
    only("pagerduty").send(make_alert())
    # then one Events v2 body arrives with every field in place
    (request,) = http_receiver.requests
    assert (request.method, request.route) == ("POST", "/v2/enqueue")
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "routing_key": PD_KEY,
        "event_action": "trigger",
        "dedup_key": "instance/acme/down",
        "payload": {
            "summary": "acme.sourcegraph.com is down: /healthz answered 500",
            "source": "mi-admin.example.com",
            "severity": "critical",
            "component": "acme",
            "custom_details": {"http_status": 500, "version": "5.3.2"},
        },
        "client": "MI Admin",
        "links": [{"href": "https://mi-admin.example.com/instances/acme/", "text": "Instance"}],
    }


def test_pagerduty_sends_non_json_details_as_text(configure, http_receiver):
    # given details holding a datetime, which JSON cannot encode natively
    configure("pagerduty")
    seen = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    # when a trigger is sent
    only("pagerduty").send(make_alert(details={"last_seen": seen}))
    # then the value arrives as its text form
    custom = http_receiver.requests[0].json()["payload"]["custom_details"]
    assert custom == {"last_seen": "2026-11-24 09:30:00+00:00"}


def test_pagerduty_resolve_event_carries_only_the_key(configure, http_receiver):
    # given PagerDuty configured
    configure("pagerduty")
    http_receiver.script(202)
    # when a resolve is sent
    only("pagerduty").send(make_alert(action="resolve"))
    # then only the routing key, the action and the dedup key are sent
    assert http_receiver.requests[0].json() == {
        "routing_key": PD_KEY,
        "event_action": "resolve",
        "dedup_key": "instance/acme/down",
    }


def test_pagerduty_truncates_summary_and_long_dedup_keys_stably(configure, http_receiver):
    # given an over-long summary and dedup key
    configure("pagerduty")
    key = "instance/" + "x" * 300
    notifier = only("pagerduty")
    # when the trigger and then the resolve are sent
    notifier.send(make_alert(dedup_key=key, summary="s" * 2000))
    notifier.send(make_alert(dedup_key=key, action="resolve"))
    # then both fit PagerDuty's limits and still share one dedup key
    trigger, resolve = (r.json() for r in http_receiver.requests)
    assert len(trigger["payload"]["summary"]) == 1024
    assert trigger["payload"]["summary"].endswith("…")
    assert len(trigger["dedup_key"]) == 255
    assert trigger["dedup_key"].startswith("instance/xxx")
    assert resolve["dedup_key"] == trigger["dedup_key"]


# --- Opsgenie ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "priority"),
    [
        pytest.param("critical", "P1", id="critical-P1"),
        pytest.param("error", "P2", id="error-P2"),
        pytest.param("warning", "P3", id="warning-P3"),
        pytest.param("info", "P5", id="info-P5"),
    ],
)
def test_opsgenie_create_alert(configure, http_receiver, severity, priority):
    # given Opsgenie configured and a summary longer than its 130-character message
    configure("opsgenie")
    http_receiver.script(Reply(202, b'{"result":"Request will be processed"}'))
    summary = "acme is down " + "." * 200
    # when a trigger is sent
    only("opsgenie").send(make_alert(severity=severity, summary=summary))
    # then the create-alert body is complete and authenticated with the GenieKey
    (request,) = http_receiver.requests
    assert (request.method, request.route) == ("POST", "/v2/alerts")
    assert request.headers["authorization"] == f"GenieKey {OG_KEY}"
    body = request.json()
    assert body["message"] == summary[:129] + "…"
    assert body["alias"] == "instance/acme/down"
    assert body["priority"] == priority
    assert body["source"] == "mi-admin.example.com"
    assert body["entity"] == "acme"
    assert body["details"] == {"http_status": "500", "version": "5.3.2"}
    assert body["description"] == (
        f"{summary}\n\nInstance: https://mi-admin.example.com/instances/acme/"
    )


def test_opsgenie_close_by_alias(configure, http_receiver):
    # given Opsgenie configured and a dedup key with slashes in it
    configure("opsgenie")
    http_receiver.script(202)
    # when a resolve is sent
    only("opsgenie").send(make_alert(action=AlertAction.RESOLVE))
    # then the alert is closed by its URL-escaped alias
    (request,) = http_receiver.requests
    assert request.route == "/v2/alerts/instance%2Facme%2Fdown/close"
    assert request.query == "identifierType=alias"
    assert request.headers["authorization"] == f"GenieKey {OG_KEY}"
    assert request.json() == {
        "source": "mi-admin.example.com",
        "note": "Resolved: acme.sourcegraph.com is down: /healthz answered 500",
    }


# --- Slack -------------------------------------------------------------------------------


def test_slack_trigger_message(configure, http_receiver):
    # given a Slack webhook and a summary with mrkdwn control characters
    configure("slack")
    # when a trigger is sent (the receiver answers 200 "ok" like Slack)
    only("slack").send(make_alert(summary="p99 > 5s & rising", severity="warning"))
    # then the text and the blocks carry the escaped summary, details, links and key
    (request,) = http_receiver.requests
    assert request.route == SLACK_PATH
    body = request.json()
    assert body["text"] == ":warning: [WARNING] p99 &gt; 5s &amp; rising"
    headline, details, links, footer = body["blocks"]
    assert headline["text"]["text"] == body["text"]
    assert [f["text"] for f in details["fields"]] == ["*http_status*\n500", "*version*\n5.3.2"]
    assert links["text"]["text"] == "<https://mi-admin.example.com/instances/acme/|Instance>"
    assert footer["elements"][0]["text"] == "mi-admin.example.com · acme · key instance/acme/down"


def test_slack_resolve_message(configure, http_receiver):
    # given a Slack webhook
    configure("slack")
    # when a resolve is sent
    only("slack").send(make_alert(action="resolve", links=[]))
    # then a "resolved" message is posted, without the trigger's details
    body = http_receiver.requests[0].json()
    assert body["text"].startswith(":white_check_mark: Resolved: acme.sourcegraph.com is down")
    assert [block["type"] for block in body["blocks"]] == ["section", "context"]


# --- failure classification and retries -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(400, AlertPermanentError, id="400-permanent"),
        pytest.param(403, AlertPermanentError, id="403-permanent"),
        pytest.param(404, AlertPermanentError, id="404-permanent"),
        pytest.param(301, AlertPermanentError, id="301-permanent"),
        pytest.param(408, AlertTransientError, id="408-transient"),
        pytest.param(429, AlertTransientError, id="429-transient"),
        pytest.param(500, AlertTransientError, id="500-transient"),
        pytest.param(503, AlertTransientError, id="503-transient"),
    ],
)
@pytest.mark.parametrize("name", ["pagerduty", "opsgenie", "slack"])
def test_http_errors_are_classified(configure, http_receiver, name, status, error):
    # given a provider answering an error status
    configure(name)
    http_receiver.script(Reply(status, b"invalid_payload"))
    # when an alert is sent
    with pytest.raises(error) as caught:
        only(name).send(make_alert())
    # then the error is classified, keeps the status and names no credential
    assert caught.value.status_code == status
    assert "invalid_payload" in str(caught.value)
    for secret in (PD_KEY, OG_KEY, SLACK_PATH):
        assert secret not in str(caught.value)


@pytest.mark.parametrize("transient", [503, 429])
def test_retry_on_transient_status_then_success(configure, http_receiver, transient):
    # given a provider that fails twice, then accepts
    configure("pagerduty")
    http_receiver.script(transient, transient, 202)
    # when the alert is sent with retries
    send_with_retry(only("pagerduty"), make_alert(), attempts=4, base_delay=0.01, max_delay=0.02)
    # then it was delivered on the third identical attempt
    assert len(http_receiver.requests) == 3
    assert len({r.body for r in http_receiver.requests}) == 1


def test_no_retry_on_permanent_error(configure, http_receiver):
    # given a provider rejecting the routing key
    configure("pagerduty")
    http_receiver.script(400, 202)
    # when the alert is sent with retries / then it fails at once
    with pytest.raises(AlertPermanentError):
        send_with_retry(
            only("pagerduty"), make_alert(), attempts=4, base_delay=0.01, max_delay=0.02
        )
    assert len(http_receiver.requests) == 1


def test_gives_up_after_the_last_attempt_and_logs_no_secret(configure, http_receiver, caplog):
    # given Slack failing every time
    configure("slack")
    http_receiver.script(503, 503, 503, 202)
    # when the alert is sent with three attempts
    with caplog.at_level(logging.WARNING), pytest.raises(AlertTransientError):
        send_with_retry(only("slack"), make_alert(), attempts=3, base_delay=0.01, max_delay=0.02)
    # then exactly three requests were made, each failure logged without the webhook
    assert len(http_receiver.requests) == 3
    assert len(caplog.records) == 3
    assert "failed after 3 attempts" in caplog.records[-1].getMessage()
    assert SLACK_PATH not in caplog.text


def test_timeout_is_transient_and_retried(configure, http_receiver):
    # given a 0.1 s timeout and a provider that first answers too late
    configure("opsgenie", timeout=0.1)
    http_receiver.script(Reply(202, delay=0.5))
    notifier = only("opsgenie")
    # when the alert is sent once, then with retries
    with pytest.raises(AlertTransientError, match="timed out"):
        notifier.send(make_alert())
    http_receiver.script(Reply(202, delay=0.5), 202)
    send_with_retry(notifier, make_alert(), attempts=2, base_delay=0.01, max_delay=0.02)
    # then the retry after the second timeout got through: 1 + 2 requests in all
    assert len(http_receiver.requests) == 3


def test_connection_refused_is_transient(settings):
    # given a PagerDuty URL where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.PAGERDUTY_ROUTING_KEY = PD_KEY
    settings.PAGERDUTY_EVENTS_URL = f"http://127.0.0.1:{port}/v2/enqueue"
    settings.OPSGENIE_API_KEY = settings.SLACK_WEBHOOK_URL = ""
    # when an alert is sent / then the failure is transient
    with pytest.raises(AlertTransientError, match="ConnectError"):
        only("pagerduty").send(make_alert())


# --- configuration -----------------------------------------------------------------------


def test_nothing_is_configured_or_sent_without_settings(configure, http_receiver):
    # given no notifier credentials at all
    configure()
    # when the configured notifiers are listed / then there are none and nothing was sent
    assert configured_notifiers() == []
    assert http_receiver.requests == []


def test_only_configured_notifiers_send(configure, http_receiver):
    # given Slack and PagerDuty configured, Opsgenie not
    configure("slack", "pagerduty")
    notifiers = configured_notifiers()
    # when an alert goes to every configured notifier
    for notifier in notifiers:
        notifier.send(make_alert())
    # then Opsgenie received nothing
    assert [n.name for n in notifiers] == ["pagerduty", "slack"]
    assert sorted(r.route for r in http_receiver.requests) == sorted(["/v2/enqueue", SLACK_PATH])


def test_notifier_reprs_hide_credentials(configure):
    # given every notifier configured
    configure("pagerduty", "opsgenie", "slack")
    # when they are shown (as a traceback or debug log would)
    shown = repr(configured_notifiers())
    # then no credential appears
    for secret in (PD_KEY, OG_KEY, SLACK_PATH):
        assert secret not in shown


# --- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        pytest.param(1, 0.5, 1.0, id="first"),
        pytest.param(3, 2.0, 4.0, id="third"),
        pytest.param(10, 15.0, 30.0, id="capped"),
    ],
)
def test_backoff_delay_doubles_with_jitter_and_caps(attempt, low, high):
    # given a base delay of 1 s capped at 30 s
    # when delays for one attempt are drawn
    delays = {backoff_delay(attempt, base_delay=1.0, max_delay=30.0) for _ in range(50)}
    # then they stay in the upper half of the exponential ceiling and vary
    assert all(low <= d <= high for d in delays)
    assert len(delays) > 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"dedup_key": ""}, "dedup_key", id="empty-key"),
        pytest.param({"action": "snooze"}, "snooze", id="unknown-action"),
        pytest.param({"severity": "fatal"}, "fatal", id="unknown-severity"),
    ],
)
def test_alert_rejects_invalid_values(overrides, message):
    # given an invalid field / when the alert is built / then it is refused
    with pytest.raises(ValueError, match=message):
        make_alert(**overrides)
