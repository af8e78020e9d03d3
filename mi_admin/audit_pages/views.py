"""Browsing and exporting the audit trail (DevOps and Admins)."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires
from mi_admin.audit.selectors import audit_event_list
from mi_admin.audit_pages import exports
from mi_admin.audit_pages.filtersets import AuditEventFilterSet
from mi_admin.ui.lists import export_response, invalid_filters, render_list


@requires(Perm.VIEW_AUDIT)
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    filterset = AuditEventFilterSet(request.GET, queryset=audit_event_list())
    return render_list(request, filterset, "audit/event_list.html", "audit/_event_results.html")


@requires(Perm.VIEW_AUDIT)
@require_GET
def event_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    filterset = AuditEventFilterSet(request.GET, queryset=audit_event_list())
    refused = invalid_filters(filterset)
    if refused is not None:
        return refused
    chunks: Iterable[str]
    if fmt == "csv":
        chunks, content_type = exports.csv_rows(filterset.qs), "text/csv"
    else:
        chunks, content_type = exports.json_chunks(filterset.qs), "application/json"
    return export_response(chunks, name="audit", extension=fmt, content_type=content_type)
