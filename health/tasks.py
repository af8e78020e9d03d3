"""Celery tasks of the health app: thin wrappers around the services.

Every task is safe to run twice: the sweep holds a cache lock (an overlapping beat is
skipped) and also skips when a sweep finished moments ago (a redelivered message); a
delivery skips every channel already sent; the version check and the prune are idempotent.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from celery import shared_task
from celery.app.task import Task
from django.core.cache import cache
from django.utils import timezone

from health.conf import health_settings
from health.models import HealthSample
from health.selectors.deliveries import deliveries_pending
from health.services import deliveries, version_sla
from health.services.sweep import instance_health_refresh, samples_prune, sweep_run

logger = logging.getLogger(__name__)

SWEEP_LOCK = "lock:health_sweep"
MAX_DELIVERY_RETRIES = 5


def _backoff(retries: int) -> float:
    return float(min(300, 2 ** (retries + 1)) + random.uniform(0, 1))  # noqa: S311 (jitter)


def _swept_recently(min_interval: float) -> bool:
    newest = HealthSample.objects.order_by("-probed_at").values_list("probed_at", flat=True)
    last = newest.first()
    return last is not None and timezone.now() - last < timedelta(seconds=min_interval)


@shared_task(acks_late=True)
def health_sweep() -> dict[str, object]:
    """The periodic sweep (beat, every ``HEALTH_SWEEP_SECONDS``)."""
    conf = health_settings()
    lock_seconds = max(120, 3 * conf.sweep_seconds)
    if not cache.add(SWEEP_LOCK, "1", timeout=lock_seconds):
        logger.info("health sweep already running; skipping this beat")
        return {}
    try:
        # A redelivered or doubled message: the last sweep's samples are still fresh.
        if _swept_recently(conf.sweep_seconds / 2):
            logger.info("health sweep ran less than %ss ago; skipping", conf.sweep_seconds / 2)
            return {}
        return sweep_run(conf=conf).as_dict()
    finally:
        cache.delete(SWEEP_LOCK)


@shared_task(acks_late=True)
def health_instance_refresh(instance_id: int) -> str:
    """One instance's health right after a suspend / resume / teardown (see the service)."""
    return instance_health_refresh(instance_id=instance_id)


@shared_task(acks_late=True)
def health_version_sla_check() -> dict[str, int]:
    """Hourly: open or resolve version SLA incidents."""
    changes = version_sla.version_slas_check()
    return {"opened": len(changes.opened), "resolved": len(changes.resolved)}


@shared_task(acks_late=True)
def health_prune_samples() -> int:
    """Daily: drop raw samples past their retention (the daily rollups stay)."""
    return samples_prune()


@shared_task(bind=True, acks_late=True, max_retries=MAX_DELIVERY_RETRIES)
def incident_deliver(self: Task, incident_id: int, action: str) -> dict[str, object]:
    """Send one incident's trigger or resolve to every channel not sent yet."""
    report = deliveries.incident_alerts_send(incident_id=incident_id, action=action)
    if report.retry and self.request.retries < MAX_DELIVERY_RETRIES:
        logger.warning("incident %s %s: retrying %s", incident_id, action, sorted(report.failed))
        raise self.retry(countdown=_backoff(self.request.retries))
    return {"sent": report.sent, "skipped": report.skipped, "failed": report.failed}


@shared_task(acks_late=True)
def incident_redeliver() -> int:
    """Every few minutes: queue again the alert deliveries that failed or never went out
    (a broker outage when the incident opened, a channel down past the task's retries)."""
    pending = deliveries_pending(now=timezone.now())
    for incident_id, action in pending:
        incident_deliver.delay(incident_id, action)
    return len(pending)
