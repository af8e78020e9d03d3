"""Requests' series on ``/metrics`` (registered in ``MiRequestsConfig.ready()``), read at
scrape time: open requests by the status of the clock that governs them now: the response
clock until acknowledged, then the resolution clock (``paused`` while waiting on the
requester, ``not_started`` before approval, ``none`` for kinds without one)."""

from __future__ import annotations

from collections.abc import Iterator

from django.utils import timezone
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from mi_admin.metrics.registry import scrape_collector
from mi_requests.choices import OPEN_STATES
from mi_requests.models import CustomerRequest
from mi_requests.selectors import request_clocks

STATUSES = ("on_track", "at_risk", "breached", "paused", "not_started", "none")


@scrape_collector("mi_requests.open")
def collect_open_requests() -> Iterator[Metric]:
    now = timezone.now()
    counts = dict.fromkeys(STATUSES, 0)
    for request in CustomerRequest.objects.filter(state__in=OPEN_STATES).prefetch_related("pauses"):
        response, resolution = request_clocks(request, list(request.pauses.all()), now=now)
        clock = response if request.acknowledged_at is None else resolution
        status = clock.state.replace(" ", "_")
        counts[status] = counts.get(status, 0) + 1
    family = GaugeMetricFamily(
        "mi_requests_open",
        "Open requests by the status of the SLA clock that governs them now.",
        labels=["sla_status"],
    )
    for status, n in counts.items():
        family.add_metric([status], float(n))
    yield family
