"""Who watches the watcher, with real processes: a worker and beat on a private Redis, the
sweep every second. Stopping beat raises the missed-sweep alert once (the check runs in the
worker, not in beat); beat coming back clears it with a recovery message and re-arms it;
the heartbeat URL is pinged after each sweep. Alert channels and the heartbeat service are
one local HTTP receiver."""

from __future__ import annotations

import pytest

from mi_admin.liveness.models import PeriodicTaskRun, WatchAlert, WorkerAnswer
from mi_admin.liveness.services import DEDUP_KEY, SWEEP_MISSED
from tests.faults.conftest import Stack, wait_for
from tests.fixtures.http_receiver import HttpReceiver

pytestmark = pytest.mark.faults

SWEEP = "health.tasks.health_sweep"
CHECK_SECONDS = 0.5
SLACK = "/slack/hook"
PING = "/ping/0b7c-uuid"


def events(receiver: HttpReceiver) -> list[str]:
    return [r.json()["event_action"] for r in receiver.requests if r.route == "/v2/enqueue"]


def slack_texts(receiver: HttpReceiver) -> list[str]:
    return [str(r.json()) for r in receiver.requests if r.route == SLACK]


def pings(receiver: HttpReceiver) -> list[str]:
    return [r.path for r in receiver.requests if r.route.startswith(PING)]


def checks_after(moment: object, ticks: int) -> bool:
    """The worker has run ``ticks`` more checks since ``moment`` (each one re-saves the
    raised alert's row): a bounded wait on state instead of a sleep."""
    row = WatchAlert.objects.get(key=SWEEP_MISSED)
    return row.updated_at is not None and (row.updated_at - moment).total_seconds() >= (  # type: ignore[operator]
        ticks * CHECK_SECONDS
    )


def test_a_stopped_beat_raises_the_missed_sweep_alert_once_and_recovery_re_arms_it(
    stack: Stack, http_receiver: HttpReceiver
) -> None:
    # given a worker and beat sweeping every second, 3 missed intervals page, PagerDuty,
    # Slack and the heartbeat service on a local receiver
    stack.env.update(
        {
            "HEALTH_SWEEP_SECONDS": "1",
            "LIVENESS_CHECK_SECONDS": str(CHECK_SECONDS),
            "LIVENESS_MISSED_INTERVALS": "3",
            "PAGERDUTY_ROUTING_KEY": "pd-key",
            "PAGERDUTY_EVENTS_URL": f"{http_receiver.url}/v2/enqueue",
            "SLACK_WEBHOOK_URL": f"{http_receiver.url}{SLACK}",
            "HEARTBEAT_URL": f"{http_receiver.url}{PING}",
            "ALERT_HTTP_TIMEOUT": "2",
        }
    )
    # Beat first: its sweeps wait in the queue, so the worker's first check finds one done.
    stack.start(web=False, beat=True)
    stack.start(web=False, workers=("watcher",))
    wait_for("three sweeps pinging the heartbeat", lambda: len(pings(http_receiver)) >= 3)
    wait_for("the worker's ping to be answered", WorkerAnswer.objects.exists)
    assert PeriodicTaskRun.objects.get(task=SWEEP).last_success_at is not None
    assert set(pings(http_receiver)) == {PING}  # no /fail
    assert events(http_receiver) == []

    # when beat stops
    stack.stop("beat")
    # then the worker raises the alert: one trigger to each channel
    wait_for("the missed-sweep trigger", lambda: events(http_receiver) == ["trigger"])
    # (its row is committed after the sends)
    raised = wait_for(
        "the raised alert's row",
        lambda: WatchAlert.objects.get(key=SWEEP_MISSED).raised_at,
    )
    # and after many more checks, nothing more was sent
    wait_for("eight more checks", lambda: checks_after(raised, 8))
    assert events(http_receiver) == ["trigger"]
    assert len(slack_texts(http_receiver)) == 1
    assert "no health sweep for 3 intervals of 1 s" in slack_texts(http_receiver)[0]
    trigger = next(r.json() for r in http_receiver.requests if r.route == "/v2/enqueue")
    assert trigger["dedup_key"] == DEDUP_KEY

    # when beat comes back
    stack.start(web=False, beat=True)
    # then the alert is cleared with a recovery message on each channel
    wait_for("the recovery", lambda: events(http_receiver) == ["trigger", "resolve"], 60)
    wait_for("the Slack recovery", lambda: len(slack_texts(http_receiver)) == 2)
    assert "health sweeps resumed" in slack_texts(http_receiver)[1]
    wait_for(
        "the cleared row",
        lambda: WatchAlert.objects.filter(key=SWEEP_MISSED, raised_at__isnull=True).exists(),
    )

    # when beat stops again
    stack.stop("beat")
    # then it is raised again: the watch was re-armed
    wait_for(
        "the second trigger", lambda: events(http_receiver) == ["trigger", "resolve", "trigger"]
    )
