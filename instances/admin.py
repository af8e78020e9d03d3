"""Django admin (Admins only) for the fleet's reference data. Every change made here is
copied into the audit trail (mi_admin.audit.admin_site); operations are read-only because only
the services may write them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from instances.models import Customer, Instance, Operation, OperationStep, Release


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ["name", "slug", "region", "owner_ce", "created_at"]
    list_select_related = ["owner_ce"]
    list_filter = ["region"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin[Instance]):
    list_display = [
        "slug",
        "customer",
        "kind",
        "architecture",
        "state",
        "observed_version",
        "drift",
        "last_synced_at",
    ]
    list_select_related = ["customer"]
    list_filter = ["kind", "architecture", "state", "upgrade_ring", "drift"]
    search_fields = ["slug", "customer__name", "customer__slug", "url", "gcp_project"]
    autocomplete_fields = ["customer"]
    readonly_fields = [
        "vm_status",
        "vm_machine_type",
        "vm_internal_ip",
        "vm_external_ip",
        "vm_version",
        "last_synced_at",
        "drift",
        "drift_detail",
        "created_at",
        "updated_at",
    ]


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin[Release]):
    list_display = ["version", "kind", "released_at"]
    list_filter = ["kind"]
    search_fields = ["version"]
    date_hierarchy = "released_at"


class ReadOnlyMixin:
    """Operations and their steps are written by the services and runners only."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OperationStepInline(ReadOnlyMixin, admin.TabularInline[OperationStep, Operation]):
    model = OperationStep
    fields = ("position", "name", "state", "detail", "started_at", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Operation)
class OperationAdmin(ReadOnlyMixin, admin.ModelAdmin[Operation]):
    list_display = ["pk", "kind", "instance", "state", "actor", "created_at", "finished_at"]
    list_select_related = ["instance", "actor"]
    list_filter = ["kind", "state"]
    search_fields = ["instance__slug", "idempotency_key", "celery_task_id"]
    date_hierarchy = "created_at"
    inlines = [OperationStepInline]
