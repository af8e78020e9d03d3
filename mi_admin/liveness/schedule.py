"""The beat schedule as it is in force: the settings' ``CELERY_BEAT_SCHEDULE``, overridden
by django-celery-beat's rows of the same name (beat copies the settings there, and Admins
may change an interval or disable an entry in the admin). Crontab entries have no fixed
interval (``None``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django_celery_beat.models import PeriodicTask

_PERIOD_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1, "microseconds": 1e-6}


@dataclass(frozen=True)
class BeatEntry:
    name: str
    task: str
    interval: float | None  # seconds
    enabled: bool = True


def _seconds(schedule: Any) -> float | None:
    if isinstance(schedule, int | float):
        return float(schedule)
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    run_every = getattr(schedule, "run_every", None)  # celery.schedules.schedule
    if isinstance(run_every, timedelta) and not hasattr(schedule, "minute"):
        return run_every.total_seconds()
    return None


def beat_entries() -> list[BeatEntry]:
    """Every entry, by name (one query)."""
    entries = {
        name: BeatEntry(name=name, task=str(entry["task"]), interval=_seconds(entry["schedule"]))
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    }
    rows = PeriodicTask.objects.select_related("interval").exclude(task="celery.backend_cleanup")
    for row in rows:
        interval = None
        if row.interval is not None:
            interval = row.interval.every * _PERIOD_SECONDS.get(row.interval.period, 1)
        entries[row.name] = BeatEntry(
            name=row.name, task=row.task, interval=interval, enabled=row.enabled
        )
    return sorted(entries.values(), key=lambda e: e.name)
