"""What every page needs: the person, their roles, the navigation, the break-glass flag."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from mi_admin.accounts.roles import user_perms, user_roles
from mi_admin.ui.nav import nav_links


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"mi_perms": frozenset(), "mi_roles": [], "nav": [], "break_glass": False}
    return {
        "mi_perms": {perm.value for perm in user_perms(user)},
        "mi_roles": sorted(role.label for role in user_roles(user)),
        "nav": nav_links(request),
        "break_glass": bool(getattr(request, "session", {}).get("break_glass")),
    }
