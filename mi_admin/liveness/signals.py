"""Celery signals: after each run of a task in the beat schedule, upsert its record; after
each run of the watched task (the health sweep), ping the heartbeat URL (``/fail`` when it
raised).

Connected in ``LivenessConfig.ready``, so they run in every worker. A signal handler that
raises would only be logged by Celery, but it would skip the ping: each step is contained.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery.signals import task_failure, task_success
from django.conf import settings
from django.utils import timezone

from mi_admin.liveness.schedule import beat_entries
from mi_admin.liveness.services import heartbeat_ping, periodic_run_record

logger = logging.getLogger(__name__)

# The scheduled task names, read again at most every this many seconds (an Admin may add an
# entry in django-celery-beat's admin).
NAMES_TTL = 60.0
_names: tuple[float, frozenset[str]] = (0.0, frozenset())
_names_lock = threading.Lock()


def scheduled_task_names() -> frozenset[str]:
    global _names
    with _names_lock:
        read_at, names = _names
        if time.monotonic() - read_at > NAMES_TTL or not names:
            names = frozenset(entry.task for entry in beat_entries())
            _names = (time.monotonic(), names)
        return names


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", "") or "")


def _after_run(name: str, error: str) -> None:
    try:
        if name in scheduled_task_names():
            periodic_run_record(task=name, at=timezone.now(), error=error)
    except Exception:
        logger.exception("liveness: could not record the run of %s", name)
    if name == settings.LIVENESS_WATCHED_TASK:
        heartbeat_ping(failed=bool(error), note=error or f"{name} ok")


@task_success.connect(weak=False)
def periodic_task_succeeded(sender: Any = None, **_: Any) -> None:
    _after_run(_task_name(sender), "")


@task_failure.connect(weak=False)
def periodic_task_failed(
    sender: Any = None, exception: BaseException | None = None, **_: Any
) -> None:
    _after_run(_task_name(sender), f"{type(exception).__name__}: {exception}"[:255] or "failed")
