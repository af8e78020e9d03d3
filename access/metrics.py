"""Access's series on ``/metrics`` (registered in ``AccessConfig.ready()``), read at scrape
time: grants active now, by kind of level (GCP IAM or Okta group)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from access.choices import AccessLevelKind, GrantState
from access.models import AccessGrant
from mi_admin.metrics.registry import scrape_collector


@scrape_collector("access.grants")
def collect_grants() -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "mi_access_grants_active", "Access grants active now, by level kind.", labels=["kind"]
    )
    counts = dict(
        AccessGrant.objects.order_by()
        .filter(state=GrantState.ACTIVE)
        .values_list("level__kind")
        .annotate(n=Count("pk"))
        .values_list("level__kind", "n")
    )
    for kind in AccessLevelKind:
        family.add_metric([kind.value], float(counts.get(kind.value, 0)))
    yield family
