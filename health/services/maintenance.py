"""Maintenance windows: adding and removing them, and marking past downtime as maintenance
(which re-flags samples and rebuilds the affected rollups). Which moments windows cover is a
read: :mod:`health.selectors.maintenance`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from health import rollups
from health.choices import WindowKind
from health.conf import health_settings
from health.models import MAX_WINDOW_MINUTES, HealthSample, MaintenanceWindow
from instances.models import Instance
from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else "?"


class MaintenanceError(ValueError):
    """A request the maintenance rules refuse; the message is meant for the person."""


def _snapshot(window: MaintenanceWindow) -> dict[str, object]:
    # The audit trail keeps UTC (ISO 8601), whatever zone str(window) shows people.
    return {
        "kind": window.kind,
        "window": str(window)
        if window.kind == WindowKind.WEEKLY
        else f"{_iso(window.starts_at)} to {_iso(window.ends_at)}",
        "reason": window.reason,
        "retroactive": window.retroactive,
    }


def window_create_weekly(
    *,
    instance: Instance,
    weekday: int,
    start_time: time,
    duration_minutes: int,
    reason: str,
    actor: User,
) -> MaintenanceWindow:
    """A weekly window (UTC) of 1 minute to 7 days, effective for probes from now on."""
    if weekday not in range(7):
        raise MaintenanceError("The weekday must be 0 (Monday) to 6 (Sunday).")
    if not 1 <= duration_minutes <= MAX_WINDOW_MINUTES:
        raise MaintenanceError(
            f"A weekly window lasts 1 to {MAX_WINDOW_MINUTES} minutes (7 days); "
            f"this one would last {duration_minutes} minutes."
        )
    return _create(
        MaintenanceWindow(
            instance=instance,
            kind=WindowKind.WEEKLY,
            weekday=weekday,
            start_time=start_time,
            duration_minutes=duration_minutes,
            reason=reason,
            created_by=actor,
        )
    )


def window_create_one_off(
    *, instance: Instance, starts_at: datetime, ends_at: datetime, reason: str, actor: User
) -> MaintenanceWindow:
    """A one-off window, effective for probes from now on: it must end in the future and
    last at most ``MAINTENANCE_WINDOW_MAX_DAYS`` (a window mutes the instance's alerts, so an
    unbounded one would silence it for years). Past downtime is marked after the fact with
    :func:`mark_past_maintenance` (Admins), not with a window."""
    if ends_at <= starts_at:
        raise MaintenanceError("The window must end after it starts.")
    if ends_at <= timezone.now():
        raise MaintenanceError(
            "This window is entirely in the past. To exclude past downtime from uptime, "
            "an Admin can mark it as maintenance."
        )
    max_days = health_settings().maintenance_window_max_days
    if ends_at - starts_at > timedelta(days=max_days):
        raise MaintenanceError(
            f"A maintenance window can last at most {max_days} days "
            f"(MAINTENANCE_WINDOW_MAX_DAYS); this one lasts {_length(ends_at - starts_at)}. "
            "Add a new window when the work goes on."
        )
    return _create(
        MaintenanceWindow(
            instance=instance,
            kind=WindowKind.ONE_OFF,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            created_by=actor,
        )
    )


def _length(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} hours"


def _create(window: MaintenanceWindow) -> MaintenanceWindow:
    with transaction.atomic():
        window.full_clean()
        window.save()
        audit_record(
            action="health.maintenance_window.created",
            actor=window.created_by,
            obj=window.instance,
            after=_snapshot(window),
        )
    logger.info("maintenance window %s added to %s", window, window.instance)
    return window


def window_delete(*, window: MaintenanceWindow, actor: User) -> None:
    """Remove a planned window. Past downtime marked as maintenance stays: it is history."""
    if window.retroactive:
        raise MaintenanceError("Past downtime marked as maintenance cannot be removed.")
    with transaction.atomic():
        before = _snapshot(window)
        instance = window.instance
        window.delete()
        audit_record(
            action="health.maintenance_window.deleted", actor=actor, obj=instance, before=before
        )
    logger.info("maintenance window removed from %s", instance)


@dataclass(frozen=True)
class MarkedMaintenance:
    window: MaintenanceWindow
    samples_flagged: int
    days_rebuilt: int
    before: dict[str, float | None]
    after: dict[str, float | None]


def maintenance_mark_past(
    *,
    instance: Instance,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor: User,
    retention_days: int,
) -> MarkedMaintenance:
    """Declare ``[starts_at, ends_at)`` maintenance after the fact (Admins only).

    Flags the samples in the range, rebuilds the rollups of the days it touches and
    records the uptime figures before and after in the audit trail.
    """
    # Imported at call time: selectors import the models and rollups this module writes.
    from health.selectors import uptime_for_instances

    now = timezone.now()
    if ends_at <= starts_at:
        raise MaintenanceError("The end must be after the start.")
    if ends_at > now:
        raise MaintenanceError(
            "The range must be in the past; for upcoming work add a maintenance window."
        )
    if now - starts_at >= timedelta(days=retention_days):
        raise MaintenanceError(
            f"Samples are kept {retention_days} days; the range must start within them."
        )
    with transaction.atomic():
        before = uptime_for_instances([instance.pk], now=now)[instance.pk].as_dict()
        window = MaintenanceWindow(
            instance=instance,
            kind=WindowKind.ONE_OFF,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason,
            retroactive=True,
            created_by=actor,
        )
        window.full_clean()
        window.save()
        flagged = HealthSample.objects.filter(
            instance=instance,
            probed_at__gte=starts_at,
            probed_at__lt=ends_at,
            in_maintenance=False,
        ).update(in_maintenance=True)
        days = rollups.days_between(starts_at, ends_at)
        rollups.rollups_rebuild(instance_id=instance.pk, days=days)
        after = uptime_for_instances([instance.pk], now=now)[instance.pk].as_dict()
        audit_record(
            action="health.downtime_marked_as_maintenance",
            actor=actor,
            obj=instance,
            before={"uptime": before},
            after={
                "uptime": after,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "reason": reason,
                "samples_flagged": flagged,
            },
        )
    logger.info("%s: %s samples marked as maintenance", instance, flagged)
    return MarkedMaintenance(window, flagged, len(days), before, after)
