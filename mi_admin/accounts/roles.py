"""Authorization in one place: roles (Django groups mirrored from Okta) and what each may do.

Views declare the permission they need with :func:`mi_admin.accounts.rules.requires`; the
:class:`~mi_admin.accounts.middleware.AuthorizationMiddleware` enforces it. Nothing else in
the code base maps roles to abilities.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(models.TextChoices):
    """The four MI Admin roles; values are the Django group names."""

    DEVOPS = "mi-devops", "DevOps"
    MANAGER = "mi-managers", "Manager"
    CE = "mi-ce", "CE / Sales"
    ADMIN = "mi-admins", "Admin"


class Perm(models.TextChoices):
    """Abilities a view can require."""

    VIEW_FLEET = "view_fleet", "View the fleet and instance status"
    VIEW_AUDIT = "view_audit", "Browse and export the audit trail"
    SYNC_INVENTORY = "sync_inventory", "Sync the inventory from GCP"
    OPERATE_INSTANCE = "operate_instance", "Upgrade, suspend, resume and tear down instances"
    FILE_REQUEST = "file_request", "File requests for customers"
    HANDLE_REQUEST = "handle_request", "Work on requests"
    APPROVE = "approve", "Approve or deny access grants and requests"
    MARK_MAINTENANCE = "mark_maintenance", "Mark past downtime as maintenance"
    MANAGE_SETTINGS = "manage_settings", "Manage releases, policies and integrations"


_EVERYONE: Final = frozenset({Perm.VIEW_FLEET, Perm.FILE_REQUEST})

ROLE_PERMISSIONS: Final[dict[Role, frozenset[Perm]]] = {
    Role.CE: _EVERYONE,
    Role.MANAGER: _EVERYONE | {Perm.APPROVE},
    Role.DEVOPS: _EVERYONE
    | {Perm.VIEW_AUDIT, Perm.SYNC_INVENTORY, Perm.OPERATE_INSTANCE, Perm.HANDLE_REQUEST},
    Role.ADMIN: frozenset(Perm),
}

_CACHE_ATTR = "_mi_roles"


def user_roles(user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    """The user's MI Admin roles, read once per user object (one query per request)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached: frozenset[Role] | None = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        cached = frozenset(role for role in Role if role.value in names)
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_roles(user: AbstractBaseUser | AnonymousUser) -> None:
    """Drop the per-object cache after group membership changed."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def user_perms(user: AbstractBaseUser | AnonymousUser) -> frozenset[Perm]:
    perms: set[Perm] = set()
    for role in user_roles(user):
        perms |= ROLE_PERMISSIONS[role]
    return frozenset(perms)


def user_can(user: AbstractBaseUser | AnonymousUser, perm: Perm) -> bool:
    return perm in user_perms(user)


def roles_with(perm: Perm) -> list[Role]:
    """Roles that grant ``perm``: what the 403 page tells a person to ask for."""
    return [role for role, perms in ROLE_PERMISSIONS.items() if perm in perms]
