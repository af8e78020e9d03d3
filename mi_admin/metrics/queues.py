"""Celery queue depths, read from the broker at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from django.conf import settings
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from mi_admin.metrics.registry import scrape_collector


def celery_queues() -> dict[str, str]:
    """Role → queue name. ``MI_QUEUES`` once the queue split lands; one default queue before."""
    return dict(getattr(settings, "MI_QUEUES", {"default": settings.CELERY_TASK_DEFAULT_QUEUE}))


@scrape_collector("platform.celery_queues")
def collect_queue_depths() -> Iterator[Metric]:
    broker_url = str(settings.CELERY_BROKER_URL)
    if not broker_url.startswith(("redis://", "rediss://")):
        # The filesystem broker of `make run` keeps files, not lists: no depth to report.
        return
    family = GaugeMetricFamily(
        "mi_celery_queue_depth",
        "Messages waiting in each Celery queue (Redis LLEN), by role and queue name.",
        labels=["role", "queue"],
    )
    client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        with client.pipeline(transaction=False) as pipe:
            queues = sorted(celery_queues().items())
            for _, queue in queues:
                pipe.llen(queue)
            depths = pipe.execute()
    finally:
        client.close()
    for (role, queue), depth in zip(queues, depths, strict=True):
        family.add_metric([role, queue], float(depth))
    yield family
