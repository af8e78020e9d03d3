"""The instance's health page: its health row, version SLA, transitions, incidents, windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from health.models import HealthTransition, Incident, MaintenanceWindow
from health.selectors.rows import InstanceHealthRow, health_for_instances
from instances.models import Instance
from instances.versions import ReleaseHistory, VersionSla
from mi_admin.sla import work_calendar_from_settings


@dataclass(frozen=True)
class InstanceHealthDetail:
    row: InstanceHealthRow
    version: VersionSla
    transitions: list[HealthTransition]
    incidents: list[Incident]
    windows: list[MaintenanceWindow]
    in_maintenance: bool


def instance_health_detail(
    instance: Instance, *, now: datetime | None = None
) -> InstanceHealthDetail:
    now = now or timezone.now()
    row = health_for_instances([instance.pk], now=now, day_details=True)[instance.pk]
    calendar = work_calendar_from_settings()
    version = ReleaseHistory.load().instance_sla(instance, now=now, calendar=calendar)
    windows = list(
        MaintenanceWindow.objects.filter(instance=instance)
        .select_related("created_by")
        .order_by("retroactive", "kind", "-starts_at", "weekday")
    )
    return InstanceHealthDetail(
        row=row,
        version=version,
        transitions=list(HealthTransition.objects.filter(instance=instance)[:20]),
        incidents=list(
            Incident.objects.filter(instance=instance).prefetch_related("deliveries")[:10]
        ),
        windows=windows,
        in_maintenance=any(w.covers(now) for w in windows if not w.retroactive),
    )
