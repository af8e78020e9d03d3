"""Reads of the liveness records: what the dashboard shows and what the metrics read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from mi_admin.liveness.models import PeriodicTaskRun, WorkerAnswer
from mi_admin.liveness.schedule import beat_entries

# Worker nodes that have not answered for this long are left off the dashboard.
WORKER_SHOWN_FOR = timedelta(days=1)


@dataclass(frozen=True)
class PeriodicRun:
    """One beat entry and its task's last runs. ``overdue``: enabled, with a fixed
    interval, and no success for ``LIVENESS_MISSED_INTERVALS`` intervals (a task that
    never succeeded is not flagged: a daily task has not run yet after a deploy)."""

    name: str
    task: str
    expected_interval: float | None  # seconds; None for crontab entries
    enabled: bool
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str
    overdue: bool

    @property
    def failing(self) -> bool:
        """The last run raised."""
        if self.last_failure_at is None:
            return False
        return self.last_success_at is None or self.last_failure_at > self.last_success_at

    @property
    def every(self) -> str:
        """The interval for people: "15 s", "5 min", "1 h", "1 d" ("" for crontabs)."""
        seconds = self.expected_interval
        if not seconds:
            return ""
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size and seconds % size == 0:
                return f"{seconds / size:g} {unit}"
        return f"{seconds:g} s"


def overdue(*, last: datetime | None, interval: float | None, now: datetime) -> bool:
    """No success for more than LIVENESS_MISSED_INTERVALS intervals (the alert's rule too)."""
    if last is None or not interval:
        return False
    return now - last > timedelta(seconds=settings.LIVENESS_MISSED_INTERVALS * interval)


def periodic_runs_list(*, now: datetime | None = None) -> list[PeriodicRun]:
    """Every beat entry with its task's last success, by entry name (two queries)."""
    now = now or timezone.now()
    runs = {run.task: run for run in PeriodicTaskRun.objects.all()}
    result = []
    for entry in beat_entries():
        run = runs.get(entry.task)
        last = run.last_success_at if run else None
        result.append(
            PeriodicRun(
                name=entry.name,
                task=entry.task,
                expected_interval=entry.interval,
                enabled=entry.enabled,
                last_success_at=last,
                last_failure_at=run.last_failure_at if run else None,
                last_error=run.last_error if run else "",
                overdue=entry.enabled and overdue(last=last, interval=entry.interval, now=now),
            )
        )
    return result


@dataclass(frozen=True)
class WorkersAnswered:
    last_answered_at: datetime | None
    stale: bool  # no answer within LIVENESS_MISSED_INTERVALS ping intervals
    nodes: list[WorkerAnswer]


def workers_answered(*, now: datetime | None = None) -> WorkersAnswered:
    """When each worker node last ran the ping, newest first (one query)."""
    now = now or timezone.now()
    nodes = list(WorkerAnswer.objects.filter(answered_at__gte=now - WORKER_SHOWN_FOR))
    last = nodes[0].answered_at if nodes else None
    stale = last is None or overdue(last=last, interval=settings.LIVENESS_CHECK_SECONDS, now=now)
    return WorkersAnswered(last_answered_at=last, stale=stale, nodes=nodes)
