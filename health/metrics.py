"""Health's series on ``/metrics`` (registered in ``HealthConfig.ready()``).

Read from the database at scrape time: instances by shown health state (the dashboard's
counts), alert deliveries whose last attempt failed. Observed in the worker as events: each
probe's latency and each sweep's duration (with ``PROMETHEUS_MULTIPROC_DIR`` shared by web and
worker, a scrape of any web process sees them; see ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client import Counter, Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from health.choices import DeliveryState, HealthState
from health.models import AlertDelivery
from health.selectors.summary import health_summary
from mi_admin.metrics.registry import scrape_collector

PROBE_LATENCY = Histogram(
    "mi_health_probe_latency_seconds",
    "Time an instance's /healthz took to answer, for probes that got an answer.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
)
PROBES = Counter("mi_health_probes", "Health probes, by outcome (ok, failed).", ["outcome"])
SWEEP_DURATION = Histogram(
    "mi_health_sweep_duration_seconds",
    "A whole health sweep: probing the fleet and recording the results.",
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0),
)


@scrape_collector("health.states")
def collect_health() -> Iterator[Metric]:
    summary = health_summary()
    states = GaugeMetricFamily(
        "mi_instances_health", "Instances by shown health state.", labels=["state"]
    )
    for state in HealthState:
        states.add_metric([state.value], float(getattr(summary, state.value)))
    yield states

    failed = GaugeMetricFamily(
        "mi_alert_deliveries_failed",
        "Alert deliveries (trigger, acknowledge, resolve) whose last attempt failed, by channel.",
        labels=["channel"],
    )
    for channel, n in (
        AlertDelivery.objects.order_by()
        .filter(state=DeliveryState.FAILED)
        .values_list("channel")
        .annotate(n=Count("pk"))
    ):
        failed.add_metric([channel], float(n))
    yield failed
