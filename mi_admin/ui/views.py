"""The landing page. (The probes, /healthz and /readyz, are in probes.py.)"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from mi_admin.accounts.rules import any_role
from mi_admin.ui.extensions import DASHBOARD, landing_for, widgets_for


@any_role
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """``/``, where signing in ends: the person's landing page when their role has one (a CE:
    the fleet list filtered to their customers), else the dashboard."""
    url = landing_for(request)
    if url:
        return redirect(url)
    return dashboard(request)


@any_role
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The blocks apps registered for the dashboard, those this person may see (also at
    /dashboard/, so a person with a landing page can still open it)."""
    return render(request, "ui/dashboard.html", {"widgets": widgets_for(DASHBOARD, request)})
