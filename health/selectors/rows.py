"""Health rows for a page of instances: what the fleet list's health columns and the instance
page's health panel show, two queries whatever the page size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from health.choices import HealthState
from health.selectors.states import NOT_MONITORED, STATE_LEVELS, effective_state
from health.selectors.uptime import (
    BAR_DAYS,
    UPTIME_FIELDS,
    DayCell,
    Uptime,
    instances_with_uptime,
    status_bars,
    uptime_from,
)


@dataclass(frozen=True)
class InstanceHealthRow:
    """Everything the fleet list and the instance page show about one instance's health."""

    instance_id: int
    slug: str
    state: str  # a HealthState value, or "not_monitored" (requested / provisioning / torn down)
    last_probe_at: datetime | None
    last_latency_ms: int | None
    last_error: str
    uptime: Uptime
    bar: list[DayCell] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        if self.state == NOT_MONITORED:
            return "not monitored"
        return str(HealthState(self.state).label)

    @property
    def level(self) -> str:
        return STATE_LEVELS.get(self.state, "idle")  # type: ignore[call-overload]


def health_for_instances(
    instance_ids: Iterable[int],
    *,
    now: datetime | None = None,
    bar_days: int = BAR_DAYS,
    day_details: bool = False,
) -> dict[int, InstanceHealthRow]:
    """Health rows for a page of instances: two queries whatever the page size (instances
    with health and uptime; then the status bar rollups), two more with ``day_details``
    (each day cell's incidents and maintenance, for a bar whose cells explain themselves)."""
    now = now or timezone.now()
    ids = list(instance_ids)
    rows = list(
        instances_with_uptime(ids, now).values(
            "pk",
            "slug",
            "state",
            "health__state",
            "health__last_probe_at",
            "health__last_latency_ms",
            "health__last_error",
            *UPTIME_FIELDS,
        )
    )
    bars = status_bars(ids, days=bar_days, now=now, details=day_details) if rows else {}
    result: dict[int, InstanceHealthRow] = {}
    for row in rows:
        state = effective_state(
            lifecycle=row["state"],
            stored=row["health__state"],
            last_probe_at=row["health__last_probe_at"],
            now=now,
        )
        result[row["pk"]] = InstanceHealthRow(
            instance_id=row["pk"],
            slug=row["slug"],
            state=state,
            last_probe_at=row["health__last_probe_at"],
            last_latency_ms=row["health__last_latency_ms"],
            last_error=row["health__last_error"] or "",
            uptime=uptime_from(row, now),
            bar=bars.get(row["pk"], []),
        )
    return result
