"""The navigation: which sections a person sees, by permission."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from mi_admin.accounts.roles import Perm, user_perms


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    perm: Perm | None


NAV: tuple[NavItem, ...] = (
    NavItem("Dashboard", "ui:dashboard", None),
    NavItem("Fleet", "instances:instance_list", Perm.VIEW_FLEET),
    NavItem("Operations", "instances:operation_list", Perm.VIEW_FLEET),
    NavItem("Provisioning", "instances:provisioning_list", Perm.VIEW_FLEET),
    NavItem("Incidents", "health:incident_list", Perm.VIEW_FLEET),
    NavItem("Rollouts", "rollouts:rollout_list", Perm.VIEW_FLEET),
    NavItem("Requests", "mi_requests:list", Perm.FILE_REQUEST),
    NavItem("Approvals", "approvals:inbox", Perm.APPROVE),
    NavItem("My access", "access:mine", Perm.OPERATE_INSTANCE),
    NavItem("Access grants", "access:grant_list", Perm.APPROVE),
    NavItem("Audit trail", "audit:event_list", Perm.VIEW_AUDIT),
    NavItem("Settings", "admin:index", Perm.MANAGE_SETTINGS),
)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    active: bool


def nav_links(request: HttpRequest) -> list[NavLink]:
    perms = user_perms(request.user)
    if not perms:
        return []  # no role: nothing here is theirs to open
    links = []
    for item in NAV:
        if item.perm is not None and item.perm not in perms:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue  # a section whose app is not wired in this deployment
        active = request.path == url if url == "/" else request.path.startswith(url)
        # "/" shows the dashboard to everyone without a landing page of their own.
        active = active or (item.url_name == "ui:dashboard" and request.path == "/")
        links.append(NavLink(item.label, url, active))
    return links
