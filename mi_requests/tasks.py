"""Celery tasks of the requests app: thin wrappers around the services.

``requests_tick`` (beat, every minute) applies finished operations whose hook was lost,
links operations started for a request elsewhere, records the SLA alert levels reached and
sends unsent alerts. Safe to run twice, even at once: the request row lock decides each
transition, the unique (request, level) index records each alert once, and each unsent
alert row is sent under its own lock taken with ``skip_locked``.
"""

from __future__ import annotations

import logging

from celery import shared_task

from mi_requests.services.execution import requests_sweep
from mi_requests.services.sla import request_sla_alerts_record, request_sla_alerts_send

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def requests_tick() -> dict[str, object]:
    swept = requests_sweep()
    recorded = request_sla_alerts_record()
    report = request_sla_alerts_send()
    if recorded or report.failed:
        logger.info(
            "requests tick: %s alert(s) recorded, %s sent, %s failed",
            len(recorded),
            len(report.sent),
            len(report.failed),
        )
    return {**swept, "alerts_recorded": len(recorded), "alerts_sent": len(report.sent)}
