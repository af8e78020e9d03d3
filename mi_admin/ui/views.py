"""The landing page. (The probes, /healthz and /readyz, are in probes.py.)"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mi_admin.accounts.rules import any_role
from mi_admin.ui.extensions import DASHBOARD, widgets_for


@any_role
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The blocks apps registered for the dashboard, those this person may see."""
    return render(request, "ui/dashboard.html", {"widgets": widgets_for(DASHBOARD, request)})
