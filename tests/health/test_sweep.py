"""The sweep against the fleet simulator: timeouts, slowness, staleness, suspension,
versions, and what it stores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health.choices import HealthState
from health.models import HealthDaily, HealthSample, HealthTransition, InstanceHealth
from health.probes import ProbeTarget, run_probes
from health.rollups import day_of
from health.services.states import health_mark_stale
from instances.choices import LifecycleState
from tests.health.conftest import health_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_alert_channels")]


def test_hung_instance_does_not_hold_the_sweep(fleetsim, sim_instance, run_sweep, settings):
    # given one instance that hangs for 30 s and five that answer in 100 ms
    settings.HEALTH_PROBE_TIMEOUT = 1.0
    hung = sim_instance("hung-prod", health_mode="hang")
    fleetsim.set_health("hung-prod", hang_seconds=30)
    others = [sim_instance(f"ok{n}-prod", health_mode="slow", latency=0.1) for n in range(5)]
    # when a sweep runs with a 1 s probe timeout
    report = run_sweep()
    # then the hung probe was cut at the timeout (not answered after 30 s) and every other
    # instance was probed fine (the time it takes is measured by bench/probe_timeouts.py)
    assert report.probed == 6
    assert report.ok == 5
    assert all(health_of(i).state == HealthState.HEALTHY for i in others)
    sample = HealthSample.objects.get(instance=hung)
    assert not sample.ok
    assert sample.error == "timed out after 1s"


def test_probes_respect_the_concurrency_bound(fleetsim):
    # given 20 instances answering in 200 ms
    fleetsim.upsert_instances(
        [{"slug": f"s{n}", "health_mode": "slow", "health_latency": 0.2} for n in range(20)]
    )
    targets = [ProbeTarget(n, fleetsim.instance_url(f"s{n}")) for n in range(20)]
    fleetsim.reset_stats()
    # (hung requests of earlier tests may still sleep in the simulator; they stay counted)
    lingering = fleetsim.stats()["methods"].get("frontend.healthz", {}).get("in_flight", 0)
    # when probed 5 at a time
    results = run_probes(targets, concurrency=5, timeout=2.0)
    # then exactly 5 instances were in flight at the peak, and every one was probed
    assert fleetsim.peak_concurrency("frontend.healthz") - lingering == 5
    assert [r.instance_id for r in results] == list(range(20))
    assert all(r.ok and r.version == "5.0.0" for r in results)


def test_hung_instances_cost_one_timeout_each_slot(fleetsim):
    # given 2 instances that hang and 8 that answer at once, probed 2 at a time
    fleetsim.upsert_instances(
        [{"slug": f"h{n}", "health_mode": "hang"} for n in range(2)]
        + [{"slug": f"ok{n}"} for n in range(8)]
    )
    targets = [ProbeTarget(n, fleetsim.instance_url(f"h{n}")) for n in range(2)]
    targets += [ProbeTarget(10 + n, fleetsim.instance_url(f"ok{n}")) for n in range(8)]
    # when probed with a 1 s timeout
    results = run_probes(targets, concurrency=2, timeout=1.0)
    # then both slots were freed by the timeout (the hangs were cut, not waited out), and
    # the rest were probed through them
    assert [r.ok for r in results] == [False, False] + [True] * 8
    assert {r.error for r in results[:2]} == {"timed out after 1s"}


def test_slow_instance_is_degraded(fleetsim, sim_instance, run_sweep, settings):
    # given an instance answering in 300 ms and a slow threshold of 100 ms
    settings.HEALTH_SLOW_MS = 100
    slow = sim_instance("slow-prod", health_mode="slow", latency=0.3)
    # when a sweep runs
    run_sweep()
    # then it is degraded, and the transition says why
    health = health_of(slow)
    assert health.state == HealthState.DEGRADED
    assert (health.last_latency_ms or 0) >= 300
    transition = HealthTransition.objects.get(instance=slow)
    assert (transition.from_state, transition.to_state) == ("unknown", "degraded")
    assert transition.reason.startswith("slow:")


def test_instance_without_recent_probe_becomes_unknown(fleetsim, sim_instance, run_sweep):
    # given a healthy instance whose last probe is now 10 minutes old (stale after 5)
    acme = sim_instance("acme-prod")
    run_sweep()
    InstanceHealth.objects.filter(instance=acme).update(
        last_probe_at=timezone.now() - timedelta(minutes=10)
    )
    # when the stale check runs
    marked = health_mark_stale()
    # then it is unknown, with a transition
    assert marked == 1
    assert health_of(acme).state == HealthState.UNKNOWN
    assert HealthTransition.objects.filter(instance=acme, to_state="unknown").exists()


def test_suspended_instances_are_not_probed(fleetsim, sim_instance, run_sweep):
    # given an instance that was healthy, then got suspended, and one torn down
    acme = sim_instance("acme-prod")
    gone = sim_instance("gone-prod", state=LifecycleState.TORN_DOWN)
    run_sweep()
    acme.state = LifecycleState.SUSPENDED
    acme.save(update_fields=["state"])
    fleetsim.reset_stats()
    # when a sweep runs
    report = run_sweep()
    # then neither is probed; the suspended one shows suspended
    assert report.probed == 0
    assert fleetsim.stats()["health_by_slug"] == {}
    assert health_of(acme).state == HealthState.SUSPENDED
    assert not InstanceHealth.objects.filter(instance=gone).exists()
    assert HealthSample.objects.filter(instance=acme).count() == 1


def test_sweep_stores_samples_rollups_and_versions(fleetsim, sim_instance, run_sweep):
    # given two instances, one reporting 5.9.1
    acme = sim_instance("acme-prod", version="5.9.1", observed_version="5.8.0")
    globex = sim_instance("globex-prod")
    # when three sweeps run
    for _ in range(3):
        run_sweep()
    # then each has three samples, today's rollup counts them, and versions are copied
    assert HealthSample.objects.filter(instance=acme).count() == 3
    daily = HealthDaily.objects.get(instance=globex)
    assert (daily.day, daily.samples, daily.ok_samples, daily.excluded_samples) == (
        day_of(timezone.now()),
        3,
        3,
        0,
    )
    acme.refresh_from_db()
    assert acme.observed_version == "5.9.1"
    assert health_of(acme).observed_version == "5.9.1"


def test_sweep_queries_do_not_grow_with_the_fleet(fleetsim, sim_instance, run_sweep):
    # given 2 instances, then 12
    def queries_for_sweep() -> int:
        with CaptureQueriesContext(connection) as captured:
            run_sweep()
        return len(captured)

    for n in range(2):
        sim_instance(f"a{n}-prod")
    run_sweep()  # first sweep creates the health rows
    small = queries_for_sweep()
    for n in range(10):
        sim_instance(f"b{n}-prod")
    run_sweep()
    # when a sweep runs on each
    large = queries_for_sweep()
    # then the number of queries is the same
    assert large == small


def test_prune_keeps_rollups(health_settings):
    # given samples from 40 days ago and from today, with their rollups
    from health.probes import ProbeResult
    from health.services.sweep import probe_results_record, samples_prune
    from tests.instances.factories import make_instance

    acme = make_instance("acme-prod")
    now = timezone.now()
    old, new = now - timedelta(days=40), now - timedelta(minutes=1)
    probe_results_record(
        results=[ProbeResult(acme.pk, old, ok=True), ProbeResult(acme.pk, new, ok=True)]
    )
    # when samples past the 35-day retention are pruned
    deleted = samples_prune()
    # then only the old sample is gone; both days' rollups stay
    assert deleted == 1
    assert list(HealthSample.objects.values_list("probed_at", flat=True)) == [new]
    assert HealthDaily.objects.filter(instance=acme).count() == 2
