"""Django admin (Admins only) for the fleet's reference data. Every change made here is
copied into the audit trail (mi_admin.audit.admin_site).

Nothing that GCP must reflect is editable here: an edit would change a row and nothing in GCP
while looking as if it had. An instance's lifecycle state and versions belong to operations
(upgrade, suspend, resume, teardown), its ``vm_*`` facts and drift to the inventory sync, and
where it lives (project, zone, VM, disk, size, network access) is fixed once it exists; so
they are read-only, and an instance is never deleted here (teardown is an operation).
Operations and their steps are read-only because only the services may write them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest

from instances.models import (
    Customer,
    DeletedResource,
    DeletionRecord,
    Instance,
    Operation,
    OperationStep,
    Release,
)
from instances.services.releases import ReleaseError, release_validate


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
    # Django 6 defaults a typed URL to https; say so now (and silence the deprecation).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    # Owned by operations and the inventory sync: never edited here.
    owned_by_operations = (
        "state",
        "desired_version",
        "observed_version",
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
        # Set by going live; moved on the instance page with a reason (services/trials.py).
        "went_live_at",
        "trial_ends_on",
        # A network setting chosen when it is provisioned, like the inbound access.
        "code_host_access",
    )
    # Where the instance lives: set when it is added, changed only by an operation after.
    fixed_once_created = (
        "slug",
        "architecture",
        "size",
        "machine_type",
        "network_access",
        "allowed_cidrs",
        "gcp_project",
        "gcp_zone",
        "vm_name",
        "data_disk",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Instance | None = None) -> list[str]:
        if obj is None:
            return list(self.owned_by_operations)
        return [*self.owned_by_operations, *self.fixed_once_created]

    def has_delete_permission(self, request: HttpRequest, obj: Instance | None = None) -> bool:
        return False


class ReleaseAdminForm(forms.ModelForm[Release]):
    """Parses the fields; whether the release may be recorded is the service's call
    (:func:`release_validate`, the same rules and messages as ``manage.py add_release``)."""

    class Meta:
        model = Release
        fields = ["version", "kind", "released_at", "notes"]

    def clean(self) -> dict[str, Any]:
        # Not super().clean(): that turns on Django's own unique check, which would repeat
        # release_validate's "already recorded" in other words.
        cleaned = self.cleaned_data
        if not self.errors:
            try:
                release_validate(
                    version=cleaned["version"],
                    kind=cleaned["kind"],
                    released_at=cleaned["released_at"],
                    release_id=self.instance.pk,
                )
            except ReleaseError as exc:
                raise ValidationError(str(exc)) from exc
        return cleaned


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin[Release]):
    form = ReleaseAdminForm
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


class DeletedResourceInline(ReadOnlyMixin, admin.TabularInline[DeletedResource, DeletionRecord]):
    model = DeletedResource
    fields = ("kind", "name", "gcp_id", "self_link", "deleted_with", "deleted_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(DeletionRecord)
class DeletionRecordAdmin(ReadOnlyMixin, admin.ModelAdmin[DeletionRecord]):
    """Evidence kept for good: read-only, never deleted (the database refuses it too)."""

    list_display = ["pk", "instance_slug", "customer_name", "requested_by_label", "created_at"]
    search_fields = ["instance_slug", "customer_name", "reference"]
    date_hierarchy = "created_at"
    inlines = [DeletedResourceInline]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # No bulk "delete selected" either.
        return {}
