"""The beat task on a real Celery worker: it sweeps, and a doubled message does no harm."""

from __future__ import annotations

import time

import pytest

from health.choices import HealthState
from health.models import HealthSample, InstanceHealth
from health.tasks import health_sweep


def wait_for(condition, seconds: float = 30.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_sweep_task_runs_on_the_worker_once(celery_worker, fleetsim, sim_instance):
    # given two simulated instances
    acme = sim_instance("acme-prod", version="5.9.1")
    globex = sim_instance("globex-prod")
    # when the beat message arrives twice at once (a redelivery, an overlapping beat)
    health_sweep.delay()
    health_sweep.delay()
    # then the worker sweeps: both instances are healthy, acme reports 5.9.1
    wait_for(lambda: InstanceHealth.objects.filter(state=HealthState.HEALTHY).count() == 2)
    acme.refresh_from_db()
    assert acme.observed_version == "5.9.1"
    # and the second message was skipped (lock or fresh samples): one sample each
    time.sleep(1.0)  # leave the second message time to run, had it not been skipped
    assert HealthSample.objects.filter(instance=acme).count() == 1
    assert HealthSample.objects.filter(instance=globex).count() == 1
    assert fleetsim.stats()["health_by_slug"] == {"acme-prod": 2, "globex-prod": 2}
