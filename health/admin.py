"""Django admin (Admins only) for health data. The state, samples, transitions, incidents and
deliveries are read-only: only the sweep and the incident service write them. Maintenance
windows are managed from the instance's health page, where they are validated and audited."""

from __future__ import annotations

from django.contrib import admin

from health.models import AlertDelivery, HealthTransition, Incident, InstanceHealth
from instances.admin import ReadOnlyMixin


@admin.register(InstanceHealth)
class InstanceHealthAdmin(ReadOnlyMixin, admin.ModelAdmin[InstanceHealth]):
    list_display = ["instance", "state", "last_probe_at", "last_latency_ms", "observed_version"]
    list_select_related = ["instance"]
    list_filter = ["state"]
    search_fields = ["instance__slug"]


@admin.register(HealthTransition)
class HealthTransitionAdmin(ReadOnlyMixin, admin.ModelAdmin[HealthTransition]):
    list_display = ["at", "instance", "from_state", "to_state", "reason"]
    list_select_related = ["instance"]
    list_filter = ["to_state"]
    search_fields = ["instance__slug"]
    date_hierarchy = "at"


class AlertDeliveryInline(ReadOnlyMixin, admin.TabularInline[AlertDelivery, Incident]):
    model = AlertDelivery
    fields = ["channel", "action", "state", "attempts", "sent_at", "error"]
    extra = 0


@admin.register(Incident)
class IncidentAdmin(ReadOnlyMixin, admin.ModelAdmin[Incident]):
    list_display = ["opened_at", "instance", "cause", "state", "resolved_at", "summary"]
    list_select_related = ["instance"]
    list_filter = ["cause", "state"]
    search_fields = ["instance__slug", "dedup_key"]
    date_hierarchy = "opened_at"
    inlines = [AlertDeliveryInline]
