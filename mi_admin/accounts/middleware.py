"""Enforces each view's declared rule (see :mod:`mi_admin.accounts.rules`): one place where
the answer "may this person use this view" is given."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.template.loader import render_to_string

from mi_admin.accounts.roles import Perm, Role, roles_with, user_can, user_roles
from mi_admin.accounts.rules import Rule, is_delegated, rule_of
from mi_admin.http import same_site_path

logger = logging.getLogger(__name__)


def forbidden(request: HttpRequest, *, perm: Perm | None = None) -> HttpResponse:
    """The 403 page: says why, and whom to ask."""
    has_role = bool(user_roles(request.user))
    context = {
        "has_role": has_role,
        "perm": perm.label if perm else "",
        "roles_needed": [role.label for role in roles_with(perm)] if perm else [],
        "okta_groups": [settings.OIDC_ROLE_GROUPS[role.value] for role in Role],
        "help_contact": settings.ACCESS_HELP_CONTACT,
    }
    return HttpResponseForbidden(render_to_string("403.html", context, request=request))


class AuthorizationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if _is_admin_site(request):
            return _admin_gate(request, view_func)
        if is_delegated(view_func):
            return None
        rule = rule_of(view_func)
        if rule is None:
            # Deny by default: a view nobody gave a rule to is a bug, not an open door.
            logger.error("view %s has no authorization rule", view_func.__qualname__)
            return forbidden(request)
        if rule is Rule.PUBLIC or rule is Rule.API:
            # API views: a bearer token is only read inside the view (DRF), which applies
            # the view's per-method rules with mi_admin.api.permissions.
            return None
        if not user_roles(request.user):
            logger.info("refused %s to %s: no MI Admin role", request.path, request.user)
            return forbidden(request)
        if isinstance(rule, Perm) and not user_can(request.user, rule):
            logger.info("refused %s to %s: lacks %s", request.path, request.user, rule)
            return forbidden(request, perm=rule)
        return None


def _is_admin_site(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and "admin" in match.app_names


def _admin_gate(request: HttpRequest, view_func: Callable[..., Any]) -> HttpResponse | None:
    """Django admin's own gate would show its password form, which no Okta user can pass:
    the anonymous go to our login page, signed-in people the admin site refuses get our 403
    (the admin's logout included: our header's sign-out is the way out)."""
    if not request.user.is_authenticated:
        # Django's LoginRequiredMiddleware sends the anonymous to the admin's login first;
        # from there, on to ours with the page they wanted.
        target = request.get_full_path()
        match = request.resolver_match
        if match is not None and match.url_name == "login":
            wanted = same_site_path(request.GET.get(REDIRECT_FIELD_NAME, ""), request)
            target = wanted or "/admin/"
        return redirect_to_login(target, settings.LOGIN_URL)
    site = getattr(view_func, "admin_site", None) or admin.site
    if not site.has_permission(request):
        logger.info("refused %s to %s: not an admin", request.path, request.user)
        return forbidden(request, perm=Perm.MANAGE_SETTINGS)
    return None
