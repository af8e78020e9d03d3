"""The health state a page shows: the stored state, unless suspended, not monitored or stale;
in Python for a row and in SQL for the filters and the summary."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from health.choices import HealthState
from health.conf import health_settings
from instances.choices import MONITORED_STATES, LifecycleState
from instances.models import Instance

NOT_MONITORED = "not_monitored"
STATE_LEVELS = {
    HealthState.HEALTHY: "ok",
    HealthState.DEGRADED: "warn",
    HealthState.DOWN: "bad",
    HealthState.UNKNOWN: "idle",
    HealthState.SUSPENDED: "idle",
}
HEALTH_FILTER_CHOICES = [(s.value, s.label) for s in HealthState]


def _stale_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=health_settings().stale_seconds)


def effective_state(
    *, lifecycle: str, stored: str | None, last_probe_at: datetime | None, now: datetime
) -> str:
    """The state to show: stored state, unless suspended (lifecycle), not monitored, or stale."""
    if lifecycle == LifecycleState.SUSPENDED:
        return HealthState.SUSPENDED
    if lifecycle not in MONITORED_STATES:
        return NOT_MONITORED
    if stored is None or last_probe_at is None or last_probe_at < _stale_cutoff(now):
        return HealthState.UNKNOWN
    if stored == HealthState.SUSPENDED:  # resumed, not probed yet
        return HealthState.UNKNOWN
    return stored


def health_state_q(state: str, *, now: datetime | None = None) -> Q:
    """An Instance filter matching :func:`effective_state` == ``state``."""
    cutoff = _stale_cutoff(now or timezone.now())
    if state == HealthState.SUSPENDED:
        return Q(state=LifecycleState.SUSPENDED)
    active = Q(state__in=MONITORED_STATES)
    if state == HealthState.UNKNOWN:
        return active & (
            Q(health__isnull=True)
            | Q(health__last_probe_at__isnull=True)
            | Q(health__last_probe_at__lt=cutoff)
            | Q(health__state__in=[HealthState.UNKNOWN, HealthState.SUSPENDED])
        )
    if state in (HealthState.HEALTHY, HealthState.DEGRADED, HealthState.DOWN):
        return active & Q(health__state=state, health__last_probe_at__gte=cutoff)
    raise ValueError(f"unknown health state {state!r}")


def filter_health(queryset: QuerySet[Instance], value: str) -> QuerySet[Instance]:
    """FilterSet helper: instances whose shown health is ``value`` (blank: all)."""
    if not value:
        return queryset
    return queryset.filter(health_state_q(value))


# The fleet list's "sort by health": the worst first, as someone looking for trouble reads it.
SORT_RANK = (
    HealthState.DOWN,
    HealthState.DEGRADED,
    HealthState.UNKNOWN,
    HealthState.HEALTHY,
    HealthState.SUSPENDED,
)


def health_order(*, now: datetime | None = None) -> Case:
    """SQL: the rank of an instance's shown health (:data:`SORT_RANK`; not monitored last),
    from the same conditions as the filter, so sorting and filtering agree."""
    now = now or timezone.now()
    whens = [
        When(health_state_q(state, now=now), then=Value(rank))
        for rank, state in enumerate(SORT_RANK)
    ]
    return Case(*whens, default=Value(len(SORT_RANK)), output_field=IntegerField())
