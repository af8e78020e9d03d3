"""Which moments an instance's maintenance windows cover (adding and removing windows is
:mod:`health.services.maintenance`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from health.choices import WindowKind
from health.models import MaintenanceWindow


def windows_by_instance(
    instance_ids: Iterable[int], start: datetime, end: datetime
) -> dict[int, list[MaintenanceWindow]]:
    """Windows of these instances that may cover a moment in ``[start, end]`` (one query)."""
    found: dict[int, list[MaintenanceWindow]] = defaultdict(list)
    relevant = Q(kind=WindowKind.WEEKLY) | Q(
        kind=WindowKind.ONE_OFF, starts_at__lte=end, ends_at__gt=start
    )
    for window in MaintenanceWindow.objects.filter(relevant, instance_id__in=list(instance_ids)):
        found[window.instance_id].append(window)
    return found


def covered(windows: Iterable[MaintenanceWindow], moment: datetime) -> bool:
    return any(window.covers(moment) for window in windows)


def in_maintenance(instance_id: int, moment: datetime | None = None) -> bool:
    """Whether the instance is inside one of its maintenance windows at ``moment`` (now)."""
    moment = moment or timezone.now()
    windows = windows_by_instance([instance_id], moment, moment).get(instance_id, [])
    return covered(windows, moment)
