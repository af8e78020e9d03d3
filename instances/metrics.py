"""The fleet's series on ``/metrics`` (registered in ``InstancesConfig.ready()``), read from
the database at scrape time: instances by lifecycle state and by version-SLA status, and
operations by kind and outcome with their durations.

Operation counts and the duration histogram are cumulative over the Operation rows (never
deleted), so they behave as Prometheus counters whichever process ran the operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from instances.choices import TERMINAL_OPERATION_STATES, LifecycleState, OperationState
from instances.models import Instance, Operation
from instances.versions import (
    CURRENT,
    DUE,
    HELD_STATES,
    OVERDUE,
    ReleaseHistory,
    fleet_versions,
    sla_q,
    with_version,
)
from mi_admin.metrics.registry import scrape_collector

# Seconds; an operation runs from a sync's second to a teardown's hour.
OPERATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@scrape_collector("instances.fleet")
def collect_fleet() -> Iterator[Metric]:
    now = timezone.now()
    lifecycle = GaugeMetricFamily("mi_instances", "Instances by lifecycle state.", labels=["state"])
    counts = dict(
        Instance.objects.order_by()
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    for state in LifecycleState:
        lifecycle.add_metric([state.value], float(counts.get(state.value, 0)))
    yield lifecycle

    version_sla = GaugeMetricFamily(
        "mi_instances_version_sla",
        "Instances held to the version SLA (active ones), by status: current, due, overdue,"
        " or no_release while no release is known.",
        labels=["status"],
    )
    history = ReleaseHistory.load()
    if history.latest is None:
        held = Instance.objects.filter(state__in=HELD_STATES).count()
        version_sla.add_metric(["no_release"], float(held))
    else:
        seen = fleet_versions()
        totals = with_version(Instance.objects.order_by()).aggregate(
            **{
                status: Count("pk", filter=sla_q(status, history, now, seen))
                for status in (CURRENT, DUE, OVERDUE)
            }
        )
        for status in (CURRENT, DUE, OVERDUE):
            version_sla.add_metric([status], float(totals[status]))
    yield version_sla


@scrape_collector("instances.operations")
def collect_operations() -> Iterator[Metric]:
    in_flight = GaugeMetricFamily(
        "mi_operations_in_flight",
        "Operations pending or running, by kind.",
        labels=["kind", "state"],
    )
    for kind, state, n in (
        Operation.objects.order_by()
        .filter(state__in=[OperationState.PENDING, OperationState.RUNNING])
        .values_list("kind", "state")
        .annotate(n=Count("pk"))
    ):
        in_flight.add_metric([kind, state], float(n))
    yield in_flight

    finished = CounterMetricFamily(
        "mi_operations_finished",
        "Operations finished, by kind and outcome (succeeded, failed, cancelled).",
        labels=["kind", "outcome"],
    )
    for kind, state, n in (
        Operation.objects.order_by()
        .filter(state__in=TERMINAL_OPERATION_STATES)
        .values_list("kind", "state")
        .annotate(n=Count("pk"))
    ):
        finished.add_metric([kind, state], float(n))
    yield finished

    yield _operation_durations()


def _operation_durations() -> Metric:
    """One query: per kind and outcome, how many finished within each bucket, and the sum."""
    family = HistogramMetricFamily(
        "mi_operation_duration_seconds",
        "From an operation's start to its end, by kind and outcome.",
        labels=["kind", "outcome"],
    )
    timed = (
        Operation.objects.order_by()
        .filter(
            state__in=TERMINAL_OPERATION_STATES, started_at__isnull=False, finished_at__isnull=False
        )
        .alias(
            duration=ExpressionWrapper(
                F("finished_at") - F("started_at"), output_field=DurationField()
            )
        )
    )
    buckets = {
        f"le_{i}": Count("pk", filter=Q(duration__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(OPERATION_BUCKETS)
    }
    rows = timed.values("kind", "state").annotate(total=Count("pk"), sum=Sum("duration"), **buckets)
    for row in rows:
        cumulative = [
            (_bound(bound), float(row[f"le_{i}"])) for i, bound in enumerate(OPERATION_BUCKETS)
        ]
        cumulative.append(("+Inf", float(row["total"])))
        seconds = row["sum"].total_seconds() if row["sum"] is not None else 0.0
        family.add_metric([row["kind"], row["state"]], cumulative, sum_value=seconds)
    return family


def _bound(value: float) -> str:
    return f"{value:g}" if value != int(value) else f"{value:.1f}"
