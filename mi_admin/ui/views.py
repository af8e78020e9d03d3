"""The landing page and the liveness endpoint."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mi_admin.accounts.rules import any_role, public
from mi_admin.ui.extensions import DASHBOARD, widgets_for


@any_role
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The blocks apps registered for the dashboard, those this person may see."""
    return render(request, "ui/dashboard.html", {"widgets": widgets_for(DASHBOARD, request)})


@public
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the load balancer: the process answers and the database does too."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
