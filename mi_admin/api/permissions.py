"""The API's authorization: the same rules as the UI, from the one role → permission table.

Each :class:`~mi_admin.api.views.ApiView` declares ``rules``: HTTP method → ``Perm`` (or
``Rule.ANY_ROLE`` / ``Rule.PUBLIC``). A method without a rule is refused (default deny, and
``manage.py check`` names it: mi_admin.E010). A bearer token must also carry the scope of
the kind of call: ``API_READ_SCOPE`` to read, ``API_WRITE_SCOPE`` to change anything.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from mi_admin.accounts.roles import Perm, roles_with, user_can, user_roles
from mi_admin.accounts.rules import Rule
from mi_admin.api.tokens import VerifiedToken

logger = logging.getLogger(__name__)

ApiRule = Perm | Rule


def rule_for(view: Any, method: str) -> ApiRule | None:
    rules: dict[str, ApiRule] = getattr(view, "rules", {}) or {}
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return rules.get(method)


class RolePermission(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        method = (request.method or "").lower()
        if method not in ("head", "options") and not hasattr(view, method):
            return True  # the view does not answer it: DRF says 405, revealing nothing
        rule = rule_for(view, request.method or "")
        if rule is None:
            logger.error("API view %s has no rule for %s", type(view).__name__, request.method)
            raise exceptions.PermissionDenied("This method has no authorization rule.")
        if rule is Rule.PUBLIC:
            return True
        user = request.user
        if not user or not user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if isinstance(request.auth, VerifiedToken):
            needed = (
                settings.API_READ_SCOPE
                if request.method in SAFE_METHODS
                else settings.API_WRITE_SCOPE
            )
            if needed not in request.auth.scopes:
                raise exceptions.PermissionDenied(f"The token lacks the scope {needed}.")
        if not user_roles(user):
            raise exceptions.PermissionDenied(
                "You are not in any MI Admin group; ask for one of: "
                + ", ".join(settings.OIDC_ROLE_GROUPS.values())
                + "."
            )
        if isinstance(rule, Perm) and not user_can(user, rule):
            roles = " or ".join(role.label for role in roles_with(rule))
            raise exceptions.PermissionDenied(f"{rule.label} needs the role {roles}.")
        return True
