"""Browsing and exporting the audit trail (DevOps and Admins)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires
from mi_admin.audit import exports
from mi_admin.audit.filtersets import AuditEventFilterSet
from mi_admin.audit.selectors import audit_event_list

PAGE_SIZE = 50


@requires(Perm.VIEW_AUDIT)
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    filterset = AuditEventFilterSet(request.GET, queryset=audit_event_list())
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filterset": filterset, "page": page, "query": query.urlencode()}
    # htmx asks for the table alone when a filter changes (NetBox's pattern).
    template = "audit/_event_results.html" if request.htmx else "audit/event_list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@requires(Perm.VIEW_AUDIT)
@require_GET
def event_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    filterset = AuditEventFilterSet(request.GET, queryset=audit_event_list())
    if not filterset.is_valid():
        return HttpResponse(
            f"Invalid filter: {filterset.errors.as_text()}", status=400, content_type="text/plain"
        )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        response: StreamingHttpResponse = StreamingHttpResponse(
            exports.csv_rows(filterset.qs), content_type="text/csv"
        )
    else:
        response = StreamingHttpResponse(
            exports.json_chunks(filterset.qs), content_type="application/json"
        )
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    return response
