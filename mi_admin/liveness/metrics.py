"""Each beat entry's last success on ``/metrics``
(``mi_periodic_task_last_success_timestamp_seconds{task="<entry>"}``), read at scrape time
from the same record the dashboard's "Control plane" block shows (two queries)."""

from __future__ import annotations

from datetime import datetime

from mi_admin.liveness.selectors import periodic_runs_list
from mi_admin.metrics.registry import register_periodic_task_last_success


def periodic_last_success() -> dict[str, datetime | None]:
    return {run.name: run.last_success_at for run in periodic_runs_list()}


def register() -> None:
    register_periodic_task_last_success(periodic_last_success)
