"""Django's model permissions (used by Django admin) derived from roles: Admins hold them all,
nobody else any. Keeps roles.py the one source of who may do what."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from mi_admin.accounts.roles import Role, user_roles


class RolePermissionBackend(BaseBackend):
    def has_perm(
        self, user_obj: AbstractBaseUser | AnonymousUser, perm: str, obj: Any = None
    ) -> bool:
        return Role.ADMIN in user_roles(user_obj)

    def has_module_perms(self, user_obj: AbstractBaseUser | AnonymousUser, app_label: str) -> bool:
        return Role.ADMIN in user_roles(user_obj)
