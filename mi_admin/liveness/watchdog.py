"""The watchdog loop a worker runs in a thread of its own (started by ``bootstep``).

Every ``LIVENESS_CHECK_SECONDS`` it queues the liveness ping and runs the missed-sweep
check. It lives in the worker, not in beat, because beat dying is what it must notice; and
not in the web process, which has no thread of its own to run it from (gunicorn workers
come and go per request load).
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection
from django.utils import timezone

from mi_admin.liveness.services import sweep_watch_check
from mi_admin.liveness.tasks import PING_TASK
from mi_admin.queue import task_enqueue

logger = logging.getLogger(__name__)


def watch(stopping: threading.Event) -> None:
    """Loop until ``stopping`` is set. Each step is contained: a database or broker outage
    is logged and tried again at the next tick."""
    since = timezone.now()
    interval = float(settings.LIVENESS_CHECK_SECONDS)
    while not stopping.wait(interval):
        try:
            # Expires after one tick: a ping queued while every worker is busy for long is
            # dropped instead of piling up.
            task_enqueue(PING_TASK, expires=interval)
        except Exception as exc:
            logger.warning("liveness: could not queue the ping: %s", type(exc).__name__)
        try:
            outcome = sweep_watch_check(now=timezone.now(), since=since)
            if outcome.raised or outcome.cleared:
                logger.warning(
                    "liveness: missed-sweep alert %s (sent to %s, failed %s)",
                    "raised" if outcome.raised else "cleared",
                    outcome.sent,
                    sorted(outcome.failed),
                )
        except Exception:
            logger.exception("liveness: the missed-sweep check failed")
        finally:
            # A thread's connection outlives no tick: a restarted database is met afresh.
            connection.close()
