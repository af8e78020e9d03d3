"""Django admin for accounts: break-glass authenticators are listed, never shown.

allauth registers an admin for ``Authenticator`` that displays its ``data``: the TOTP
secret (encrypted now, but still nothing anyone should read). Ours lists whose
authenticator it is and when it was used, and is read-only: authenticators are made by
``manage.py breakglass_create``, where the secret is shown once.
"""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.http import HttpRequest

from mi_admin.accounts.models import User

if admin.site.is_registered(Authenticator):
    admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin[Authenticator]):
    list_display = ["user", "type", "created_at", "last_used_at"]
    list_filter = ["type"]
    list_select_related = ["user"]
    fields = ["user", "type", "created_at", "last_used_at"]
    readonly_fields = ["user", "type", "created_at", "last_used_at"]
    search_fields = ["user__username"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin[User]):
    """People come from Okta (roles synced at login); here only the Slack member id that
    Slack's Approve/Deny buttons act as is set by hand."""

    list_display = ["username", "email", "display_name", "slack_user_id", "is_active"]
    search_fields = ["username", "email", "display_name", "slack_user_id"]
    fields = ["username", "email", "display_name", "is_active", "slack_user_id"]
    readonly_fields = ["username", "email", "display_name", "is_active"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return False
