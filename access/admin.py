"""Admins manage access levels; grants are evidence, shown read-only (services own them)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from access.models import AccessGrant, AccessLevel


@admin.register(AccessLevel)
class AccessLevelAdmin(admin.ModelAdmin[AccessLevel]):
    list_display = [
        "name",
        "kind",
        "okta_group",
        "max_duration",
        "approval_policy",
        "ticket_required",
    ]


@admin.register(AccessGrant)
class AccessGrantAdmin(admin.ModelAdmin[AccessGrant]):
    list_display = ["pk", "requester", "instance", "level", "state", "expires_at"]
    list_filter = ["state", "level"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccessGrant | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AccessGrant | None = None) -> bool:
        return False
