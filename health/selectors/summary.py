"""The fleet's health in counts, for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from health.choices import HealthState
from health.selectors.states import health_state_q
from instances.models import Instance
from instances.versions import sla_counts


@dataclass(frozen=True)
class HealthSummary:
    """Counts for the dashboard's summary line."""

    healthy: int
    degraded: int
    down: int
    unknown: int
    suspended: int
    overdue: int
    due: int
    latest_version: str


def health_summary(*, now: datetime | None = None) -> HealthSummary:
    """Instances per shown health state (one query), and how many instances held to the
    version SLA are due / overdue (instances.versions, three small queries)."""
    now = now or timezone.now()
    totals = Instance.objects.order_by().aggregate(
        **{state.value: Count("pk", filter=health_state_q(state, now=now)) for state in HealthState}
    )
    versions = sla_counts(now=now)
    return HealthSummary(
        healthy=totals[HealthState.HEALTHY],
        degraded=totals[HealthState.DEGRADED],
        down=totals[HealthState.DOWN],
        unknown=totals[HealthState.UNKNOWN],
        suspended=totals[HealthState.SUSPENDED],
        overdue=versions.overdue,
        due=versions.due,
        latest_version=versions.latest_version,
    )
