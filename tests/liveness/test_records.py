"""What the Celery signals record (real tasks, run in-process through Celery's own
``apply``, which sends the same signals a worker does) and the heartbeat ping after each
health sweep, to a local receiver."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from health.tasks import health_sweep
from idp.process import free_port
from mi_admin.audit.tasks import audit_failures_fold_task
from mi_admin.liveness.models import PeriodicTaskRun, WorkerAnswer
from mi_admin.liveness.selectors import periodic_runs_list
from mi_admin.liveness.services import periodic_run_record
from mi_admin.liveness.tasks import liveness_ping

pytestmark = pytest.mark.django_db

SWEEP = "health.tasks.health_sweep"
FOLD = "mi_admin.audit.tasks.audit_failures_fold_task"


def test_each_run_of_a_scheduled_task_upserts_one_row():
    # when a task in the beat schedule runs twice
    audit_failures_fold_task.apply()
    first = PeriodicTaskRun.objects.get(task=FOLD).last_success_at
    audit_failures_fold_task.apply()
    # then there is one row, holding the later run
    rows = list(PeriodicTaskRun.objects.filter(task=FOLD))
    assert len(rows) == 1
    assert first is not None
    assert rows[0].last_success_at is not None
    assert rows[0].last_success_at > first


def test_the_ping_records_the_worker_and_is_not_a_periodic_task():
    # when the liveness ping runs twice
    liveness_ping.apply()
    liveness_ping.apply()
    # then one row for this node, and no periodic-run row (the ping is not in the schedule)
    assert WorkerAnswer.objects.count() == 1
    assert not PeriodicTaskRun.objects.filter(task__contains="liveness").exists()


@pytest.fixture
def heartbeat(settings, http_receiver):
    settings.HEARTBEAT_URL = f"{http_receiver.url}/ping/5f1e-uuid"
    settings.HEARTBEAT_TIMEOUT = 2.0
    return http_receiver


def test_a_sweep_pings_the_heartbeat_url(heartbeat):
    # when the health sweep runs (an empty fleet)
    result = health_sweep.apply()
    # then it succeeded, was recorded, and the heartbeat URL got one POST
    assert result.successful()
    assert PeriodicTaskRun.objects.get(task=SWEEP).last_success_at is not None
    assert [(r.method, r.path) for r in heartbeat.requests] == [("POST", "/ping/5f1e-uuid")]


def test_a_failed_sweep_pings_fail(heartbeat, settings):
    # given the sweep's lock store (Redis) is unreachable: the sweep raises
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    # when it runs
    result = health_sweep.apply()
    # then it failed, the failure is recorded and the heartbeat got /fail
    assert result.failed()
    run = PeriodicTaskRun.objects.get(task=SWEEP)
    assert run.last_success_at is None
    assert run.last_failure_at is not None
    assert "ConnectionError" in run.last_error
    assert [(r.method, r.path) for r in heartbeat.requests] == [("POST", "/ping/5f1e-uuid/fail")]


@pytest.mark.parametrize("down", ["closed port", "HTTP 500"])
def test_a_heartbeat_service_that_is_down_never_fails_the_sweep(settings, http_receiver, down):
    # given the heartbeat URL refuses the connection or answers 500
    if down == "closed port":
        settings.HEARTBEAT_URL = f"http://127.0.0.1:{free_port()}/ping/x"
    else:
        settings.HEARTBEAT_URL = f"{http_receiver.url}/ping/x"
        http_receiver.script(500)
    # when the sweep runs
    result = health_sweep.apply()
    # then the sweep succeeded and its run is recorded
    assert result.successful()
    assert PeriodicTaskRun.objects.get(task=SWEEP).last_success_at is not None


def test_periodic_runs_list_flags_a_task_missed_for_three_intervals(settings):
    # given the sweep every 60 s, last run 181 s ago; the fold every 60 s, 179 s ago
    settings.LIVENESS_MISSED_INTERVALS = 3
    now = timezone.now()
    periodic_run_record(task=SWEEP, at=now - timedelta(seconds=181))
    periodic_run_record(task=FOLD, at=now - timedelta(seconds=179))
    # when the list is read
    runs = {run.name: run for run in periodic_runs_list(now=now)}
    # then every beat entry is listed with its interval; only the sweep is overdue
    assert set(runs) >= set(settings.CELERY_BEAT_SCHEDULE)
    sweep, fold = runs["health-sweep"], runs["audit-fold-failures"]
    assert (sweep.task, sweep.expected_interval, sweep.overdue) == (SWEEP, 60.0, True)
    assert (fold.overdue, fold.every) == (False, "1 min")
    # and a task that never ran is not flagged (a daily task after a deploy)
    assert runs["health-prune-samples"].last_success_at is None
    assert runs["health-prune-samples"].overdue is False
