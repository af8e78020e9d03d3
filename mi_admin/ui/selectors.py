"""Reads for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from health.selectors import HealthSummary, health_summary
from instances.selectors import FleetSummary, fleet_summary
from mi_admin.accounts.roles import Perm, user_can
from mi_admin.audit.models import AuditEvent


@dataclass(frozen=True)
class DashboardSummary:
    recent_events: list[AuditEvent]
    fleet: FleetSummary | None = None
    health: HealthSummary | None = None


def dashboard_summary(*, user: AbstractBaseUser | AnonymousUser) -> DashboardSummary:
    recent: list[AuditEvent] = []
    if user_can(user, Perm.VIEW_AUDIT):
        recent = list(AuditEvent.objects.order_by("-id")[:10])
    if not user_can(user, Perm.VIEW_FLEET):
        return DashboardSummary(recent_events=recent)
    return DashboardSummary(recent_events=recent, fleet=fleet_summary(), health=health_summary())
