"""Health states the sweep sets without a probe: ``suspended`` for suspended instances,
``unknown`` for active instances left without a recent probe; and the transition rows that
record every state change."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from health.choices import HealthState
from health.conf import HealthSettings, health_settings
from health.models import HealthTransition, InstanceHealth
from instances.choices import MONITORED_STATES, LifecycleState


def transition_to(
    health: InstanceHealth, *, new_state: str, at: datetime, reason: str
) -> HealthTransition:
    """Move ``health`` to ``new_state`` (unsaved) and return the transition row to store."""
    transition = HealthTransition(
        instance_id=health.instance_id,
        from_state=health.state,
        to_state=new_state,
        at=at,
        reason=reason[:255],
    )
    health.state = new_state
    health.state_changed_at = at
    return transition


def health_mark_suspended(*, now: datetime | None = None) -> int:
    """Suspended instances are not probed: their health shows ``suspended``."""
    now = now or timezone.now()
    with transaction.atomic():
        healths = list(
            InstanceHealth.objects.select_for_update()
            .filter(instance__state=LifecycleState.SUSPENDED)
            .exclude(state=HealthState.SUSPENDED)
        )
        transitions = [
            transition_to(h, new_state=HealthState.SUSPENDED, at=now, reason="instance suspended")
            for h in healths
        ]
        for health in healths:
            health.consecutive_failures = health.consecutive_successes = 0
            health.recent_results = ""
        InstanceHealth.objects.bulk_update(
            healths,
            [
                "state",
                "state_changed_at",
                "consecutive_failures",
                "consecutive_successes",
                "recent_results",
            ],
        )
        HealthTransition.objects.bulk_create(transitions)
    return len(healths)


def health_mark_stale(*, now: datetime | None = None, conf: HealthSettings | None = None) -> int:
    """Active instances without a probe for ``HEALTH_STALE_SECONDS`` become ``unknown``."""
    now = now or timezone.now()
    conf = conf or health_settings()
    cutoff = now - timedelta(seconds=conf.stale_seconds)
    with transaction.atomic():
        healths = list(
            InstanceHealth.objects.select_for_update()
            .filter(instance__state__in=MONITORED_STATES)
            .exclude(state=HealthState.UNKNOWN)
            .filter(Q(last_probe_at__lt=cutoff) | Q(last_probe_at__isnull=True))
        )
        reason = f"no probe for over {conf.stale_seconds} s"
        transitions = [
            transition_to(h, new_state=HealthState.UNKNOWN, at=now, reason=reason) for h in healths
        ]
        InstanceHealth.objects.bulk_update(healths, ["state", "state_changed_at"])
        HealthTransition.objects.bulk_create(transitions)
    return len(healths)
