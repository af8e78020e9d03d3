"""The dashboard's "Control plane" block: when a worker last answered, each periodic task's
last run, overdue ones flagged (interval from the beat schedule)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from mi_admin.liveness.services import periodic_run_record, worker_answer_record

pytestmark = pytest.mark.django_db


def row(html: str, entry: str) -> str:
    match = re.search(rf'<tr data-entry="{entry}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {entry}"
    return match.group(1)


def test_the_block_shows_the_worker_and_flags_an_overdue_sweep(client_for, settings):
    # given a worker answered 10 s ago; the sweep (every 60 s) last ran 10 min ago, the
    # operation dispatcher (every 30 s) 5 s ago
    settings.LIVENESS_MISSED_INTERVALS = 3
    now = timezone.now()
    worker_answer_record(hostname="worker-1@host", at=now - timedelta(seconds=10))
    periodic_run_record(task="health.tasks.health_sweep", at=now - timedelta(minutes=10))
    periodic_run_record(
        task="instances.tasks.operation_dispatch_pending", at=now - timedelta(seconds=5)
    )
    # when a CE opens the dashboard
    html = client_for("ce").get("/").content.decode()
    # then the worker is answering, one task is overdue (the sweep), the dispatcher on time
    assert 'data-testid="control-plane"' in html
    assert "Worker answering" in html
    assert "1 periodic task overdue" in html
    assert "overdue" in row(html, "health-sweep")
    assert "10\xa0minutes ago" in row(html, "health-sweep")
    assert "on time" in row(html, "operation-dispatch")
    assert "not yet" in row(html, "health-prune-samples")


def test_a_silent_worker_is_flagged(client_for, settings):
    # given the last answer is older than 3 check intervals
    settings.LIVENESS_CHECK_SECONDS = 30
    worker_answer_record(hostname="w@h", at=timezone.now() - timedelta(seconds=91))
    # when the dashboard is opened
    html = client_for("devops").get("/").content.decode()
    # then the worker is shown silent
    assert "Worker silent" in html


def test_no_worker_ever_answered(client_for):
    html = client_for("admin").get("/").content.decode()
    assert "No worker has answered" in html
