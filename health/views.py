"""The instance health page and the maintenance actions. Thin: forms validate, services act."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from health.choices import WindowKind
from health.conf import health_settings
from health.forms import MaintenanceWindowForm, MarkMaintenanceForm
from health.models import MaintenanceWindow
from health.selectors import instance_health_detail
from health.services import maintenance
from instances.models import Instance
from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires, signed_in_user


def _instance(slug: str) -> Instance:
    return get_object_or_404(Instance.objects.select_related("customer"), slug=slug)


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_health(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)
    context = {
        "instance": instance,
        "detail": instance_health_detail(instance),
        "window_form": MaintenanceWindowForm(),
        "mark_form": MarkMaintenanceForm(),
    }
    return render(request, "health/instance_health.html", context)


@requires(Perm.OPERATE_INSTANCE)
@require_http_methods(["GET", "POST"])
def window_add(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)
    form = MaintenanceWindowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["kind"] == WindowKind.WEEKLY:
                window = maintenance.window_create_weekly(
                    instance=instance,
                    weekday=data["weekday"],
                    start_time=data["start_time"],
                    duration_minutes=data["duration_minutes"],
                    reason=data["reason"],
                    actor=signed_in_user(request),
                )
            else:
                window = maintenance.window_create_one_off(
                    instance=instance,
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    reason=data["reason"],
                    actor=signed_in_user(request),
                )
        except maintenance.MaintenanceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Maintenance window added: {window}.")
            return redirect("health:instance_health", slug=instance.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "health/window_form.html", {"instance": instance, "form": form}, status=status
    )


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def window_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    instance = _instance(slug)
    window = get_object_or_404(MaintenanceWindow, pk=pk, instance=instance)
    try:
        maintenance.window_delete(window=window, actor=signed_in_user(request))
    except maintenance.MaintenanceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Maintenance window removed.")
    return redirect("health:instance_health", slug=instance.slug)


@requires(Perm.MARK_MAINTENANCE)
@require_http_methods(["GET", "POST"])
def mark_maintenance(request: HttpRequest, slug: str) -> HttpResponse:
    instance = _instance(slug)
    retention = health_settings().retention_days
    form = MarkMaintenanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            marked = maintenance.maintenance_mark_past(
                instance=instance,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                reason=data["reason"],
                actor=signed_in_user(request),
                retention_days=retention,
            )
        except maintenance.MaintenanceError as exc:
            form.add_error(None, str(exc))
        else:
            before, after = marked.before.get("30d"), marked.after.get("30d")
            messages.success(
                request,
                f"{marked.samples_flagged} samples marked as maintenance; 30-day uptime "
                f"{_pct(before)} → {_pct(after)}.",
            )
            return redirect("health:instance_health", slug=instance.slug)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "health/mark_maintenance.html", {"instance": instance, "form": form}, status=status
    )


def _pct(value: float | None) -> str:
    return "no data" if value is None else f"{value:.3f} %"
