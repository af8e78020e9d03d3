"""Where apps put what ``/metrics`` exposes, so the platform never imports them.

Two kinds of series:

* **Read at scrape time** (gauges and DB-backed counters): an app decorates a function with
  ``@scrape_collector("name")`` in its own ``metrics.py`` (imported in ``AppConfig.ready()``).
  The function returns prometheus_client metric families built from the database, so every
  web process answers the same, whichever process did the work.
* **Events in a process** (HTTP requests, a probe's latency, a sweep's duration): plain
  prometheus_client ``Counter`` / ``Histogram`` objects, defined in the app's ``metrics.py``.
  With ``PROMETHEUS_MULTIPROC_DIR`` set (production: web and worker share it), prometheus_client
  writes them to files there and every scrape merges all processes (see ARCHITECTURE.md).

The periodic-task watcher (another part) plugs in through
:func:`register_periodic_task_last_success`: the platform then exposes
``mi_periodic_task_last_success_timestamp_seconds{task=...}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

ScrapeFunction = Callable[[], Iterable[Metric]]


@dataclass(frozen=True)
class _Entry:
    name: str
    collect: ScrapeFunction


_collectors: dict[str, _Entry] = {}


def scrape_collector(name: str) -> Callable[[ScrapeFunction], ScrapeFunction]:
    """``@scrape_collector("health.states")`` on ``def collect() -> Iterable[Metric]``.

    Registering is idempotent by name (``ready()`` may run twice)."""

    def add(function: ScrapeFunction) -> ScrapeFunction:
        _collectors[name] = _Entry(name, function)
        return function

    return add


def scrape_collectors() -> list[str]:
    return sorted(_collectors)


# --- Hook: each periodic task's last successful run ------------------------------------------
# The watcher that records it is built elsewhere; it registers a function returning
# {schedule entry or task name: aware datetime of its last success}.
PeriodicTaskLastSuccess = Callable[[], Mapping[str, datetime | None]]
_periodic_task_last_success: list[PeriodicTaskLastSuccess] = []


def register_periodic_task_last_success(source: PeriodicTaskLastSuccess) -> None:
    """THE hook for the periodic-task watcher: ``source()`` is read at every scrape."""
    _periodic_task_last_success[:] = [source]


def _periodic_tasks() -> Iterator[Metric]:
    if not _periodic_task_last_success:
        return
    family = GaugeMetricFamily(
        "mi_periodic_task_last_success_timestamp_seconds",
        "When each periodic task last finished successfully (Unix time).",
        labels=["task"],
    )
    for task, at in sorted(_periodic_task_last_success[0]().items()):
        if at is not None:
            family.add_metric([task], at.timestamp())
    yield family


_collectors["platform.periodic_tasks"] = _Entry("platform.periodic_tasks", _periodic_tasks)


class ScrapeTimeCollector(Collector):
    """Runs every registered scrape function. One that fails is left out of this scrape
    (logged, and counted in ``mi_metrics_collector_errors``) instead of failing the scrape."""

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily(
            "mi_metrics_collector_errors",
            "Scrape-time collectors that failed during this scrape (1) or not (0).",
            labels=["collector"],
        )
        for entry in sorted(_collectors.values(), key=lambda e: e.name):
            try:
                families = list(entry.collect())
            except Exception:
                logger.exception("metrics collector %s failed", entry.name)
                errors.add_metric([entry.name], 1)
                continue
            errors.add_metric([entry.name], 0)
            yield from families
        yield errors
