"""The beat task on a real Celery worker: it sweeps, and a doubled message does no harm."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from health.choices import HealthState
from health.models import HealthSample, InstanceHealth
from health.tasks import health_sweep
from mi_admin.celery import app as celery_app

TASK = health_sweep.name


def wait_for(condition: Callable[[], bool], seconds: float = 30.0, interval: float = 0.1) -> None:
    """Poll ``condition`` until it holds (bounded): waiting on state, never on a guessed time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {seconds} s")


def sweeps_started(worker: str) -> int:
    """How many sweep messages the worker has taken so far (its own counter)."""
    stats: dict[str, Any] = (
        celery_app.control.inspect(destination=[worker], timeout=1.0).stats() or {}
    )
    return int(stats.get(worker, {}).get("total", {}).get(TASK, 0))


def sweeps_running(worker: str) -> int:
    active = celery_app.control.inspect(destination=[worker], timeout=1.0).active() or {}
    return sum(1 for task in active.get(worker, []) if task["name"] == TASK)


@pytest.mark.django_db(transaction=True)
def test_sweep_task_runs_on_the_worker_once(celery_worker, fleetsim, sim_instance):
    # given two simulated instances
    acme = sim_instance("acme-prod", version="5.9.1")
    globex = sim_instance("globex-prod")
    before = sweeps_started(celery_worker)
    # when the beat message arrives twice at once (a redelivery, an overlapping beat)
    health_sweep.delay()
    health_sweep.delay()
    # then the worker sweeps: both instances are healthy, acme reports 5.9.1
    wait_for(lambda: InstanceHealth.objects.filter(state=HealthState.HEALTHY).count() == 2)
    acme.refresh_from_db()
    assert acme.observed_version == "5.9.1"
    # and once the worker has taken both messages and finished them, the second was skipped
    # (lock or fresh samples): one sample each
    wait_for(
        lambda: sweeps_started(celery_worker) - before == 2 and sweeps_running(celery_worker) == 0
    )
    assert HealthSample.objects.filter(instance=acme).count() == 1
    assert HealthSample.objects.filter(instance=globex).count() == 1
    assert fleetsim.stats()["health_by_slug"] == {"acme-prod": 2, "globex-prod": 2}
