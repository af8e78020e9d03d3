"""The instance health page, the maintenance actions and the monthly uptime report. Thin:
forms validate, services act, selectors read."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from health.choices import WindowKind
from health.conf import health_settings
from health.exports import monthly_csv
from health.filtersets import IncidentFilterSet
from health.forms import MaintenanceWindowForm, MarkMaintenanceForm
from health.models import Incident, MaintenanceWindow
from health.selectors import instance_health_detail, monthly
from health.selectors.incidents import incident_detail as incident_detail_read
from health.selectors.incidents import incident_list as incident_list_read
from health.services import incidents, maintenance
from instances.models import Instance
from mi_admin.accounts.roles import Perm, user_can
from mi_admin.accounts.rules import requires, signed_in_user
from mi_admin.ui.lists import export_response, render_list


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


def _report_month(request: HttpRequest) -> tuple[date | None, str]:
    try:
        return monthly.parse_month(request.GET.get("month", "").strip(), now=timezone.now()), ""
    except monthly.ReportMonthError as exc:
        return None, str(exc)


@requires(Perm.VIEW_FLEET)
@require_GET
def uptime_report(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """The printable monthly uptime report of the fleet, or of one instance."""
    instance = _instance(slug) if slug else None
    month, error = _report_month(request)
    rows = [] if month is None else monthly.monthly_uptime(month=month, instance=instance)
    context = {
        "instance": instance,
        "month": month,
        "month_value": request.GET.get("month", "") if month is None else f"{month:%Y-%m}",
        "error": error,
        "rows": rows,
        "totals": monthly.fleet_totals(rows),
        "conf": health_settings(),
    }
    status = 400 if error else 200
    return render(request, "health/uptime_report.html", context, status=status)


@requires(Perm.VIEW_FLEET)
@require_GET
def uptime_report_export(
    request: HttpRequest, slug: str | None = None
) -> HttpResponse | StreamingHttpResponse:
    instance = _instance(slug) if slug else None
    month, error = _report_month(request)
    if month is None:
        return HttpResponseBadRequest(error, content_type="text/plain; charset=utf-8")
    rows = monthly.monthly_uptime(month=month, instance=instance)
    name = f"uptime-{month:%Y-%m}-{instance.slug if instance else 'fleet'}"
    return export_response(monthly_csv(rows), name=name, extension="csv", content_type="text/csv")


@requires(Perm.VIEW_FLEET)
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    """Open and recent incidents across the fleet (htmx swaps the results on a filter)."""
    filterset = IncidentFilterSet(request.GET, queryset=incident_list_read())
    extra = {"can_acknowledge": user_can(request.user, Perm.OPERATE_INSTANCE)}
    return render_list(
        request, filterset, "health/incident_list.html", "health/_incident_results.html", extra
    )


def _incident(pk: int) -> Incident:
    return get_object_or_404(
        Incident.objects.select_related("instance", "instance__customer", "acknowledged_by"),
        pk=pk,
    )


@requires(Perm.VIEW_FLEET)
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    context = {
        "incident": incident,
        **incident_detail_read(incident),
        "can_acknowledge": user_can(request.user, Perm.OPERATE_INSTANCE),
    }
    return render(request, "health/incident_detail.html", context)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def incident_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    try:
        done = incidents.incident_acknowledge(incident=incident, actor=signed_in_user(request))
    except incidents.IncidentError as exc:
        messages.error(request, str(exc))
    else:
        if done:
            messages.success(request, "Acknowledged; PagerDuty, Opsgenie and Slack are told.")
        else:
            messages.info(request, "Already acknowledged; nothing was sent again.")
    return redirect("health:incident_detail", pk=incident.pk)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def incident_note_add(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    text = request.POST.get("text", "")
    try:
        incidents.incident_note_add(incident=incident, actor=signed_in_user(request), text=text)
    except incidents.IncidentError as exc:
        # The page again, the text kept, the reason said: nothing typed is lost.
        context = {
            "incident": incident,
            **incident_detail_read(incident),
            "can_acknowledge": True,
            "note_error": str(exc),
            "note_text": text,
        }
        return render(request, "health/incident_detail.html", context, status=400)
    messages.success(request, "Note added.")
    return redirect("health:incident_detail", pk=incident.pk)
