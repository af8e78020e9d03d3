"""The IdP's own pages: sign-in (listing the demo personas) and a small home page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from idp.personas import PASSWORD, PERSONAS


def persona_rows() -> list[dict[str, Any]]:
    """Personas as they are now in the database (groups may have been edited)."""
    users = User.objects.filter(username__in=[p.username for p in PERSONAS]).prefetch_related(
        "groups"
    )
    by_name = {user.username: user for user in users}
    rows = []
    for persona in PERSONAS:
        user = by_name.get(persona.username)
        if user is None:
            continue
        rows.append(
            {
                "username": user.username,
                "name": user.get_full_name(),
                "email": user.email,
                "groups": sorted(group.name for group in user.groups.all()),
            }
        )
    return rows


class IdpLoginView(LoginView):
    """Django's login form, with the personas listed beside it."""

    template_name = "idp/login.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update({"personas": persona_rows(), "demo_password": PASSWORD})
        return context


def home(request: HttpRequest) -> HttpResponse:
    """Who is signed in at the IdP, and the personas."""
    return render(request, "idp/home.html", {"personas": persona_rows()})
