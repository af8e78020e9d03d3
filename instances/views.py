"""The fleet dashboard: the instance list and its export, one instance, operations.

Lists follow NetBox's pattern: one view answers with the whole page, or with the results
partial alone when htmx asks (a filter changed, the 30-second refresh, a page link).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST

from health.selectors import COMPACT_BAR_DAYS, health_for_instances
from instances import exports, selectors
from instances.choices import TERMINAL_OPERATION_STATES, OperationKind
from instances.filtersets import InstanceFilterSet, OperationFilterSet
from instances.forms import OperationRequestForm
from instances.models import Instance, Operation
from instances.services.operations import OperationConflict, operation_create
from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires

PAGE_SIZE = 50


def _wants_partial(request: HttpRequest) -> bool:
    # A history restore after a cache miss needs the whole page, though htmx sent it.
    htmx = request.htmx  # type: ignore[attr-defined]
    return bool(htmx) and not htmx.history_restore_request


def _render_list(
    request: HttpRequest,
    filterset: Any,
    page_template: str,
    partial_template: str,
    extra: dict[str, Any] | None = None,
    for_page: Callable[[list[Any]], dict[str, Any]] | None = None,
) -> HttpResponse:
    """The filtered, paginated list; invalid filters show why instead of a wrong list."""
    valid = filterset.is_valid()
    rows: QuerySet[Any] = filterset.qs if valid else filterset.queryset.none()
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filterset": filterset, "page": page, "query": query.urlencode(), **(extra or {})}
    if for_page is not None:
        context.update(for_page(list(page.object_list)))
    partial = _wants_partial(request)
    # htmx does not swap 4xx answers, so a partial carries its error message with a 200.
    status = 400 if not valid and not partial else 200
    response = render(
        request, partial_template if partial else page_template, context, status=status
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_list(request: HttpRequest) -> HttpResponse:
    filterset = InstanceFilterSet(request.GET, queryset=selectors.instance_list())
    extra = {"release_order": selectors.release_order(), "sync_form": OperationRequestForm.fresh()}
    return _render_list(
        request,
        filterset,
        "instances/instance_list.html",
        "instances/_instance_results.html",
        extra,
        for_page=_health_of_page,
    )


def _health_of_page(rows: list[Instance]) -> dict[str, Any]:
    # Two queries for the whole page, however many rows it has.
    ids = [row.pk for row in rows]
    return {"health_rows": health_for_instances(ids, bar_days=COMPACT_BAR_DAYS)}


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    filterset = InstanceFilterSet(request.GET, queryset=selectors.instance_list())
    if not filterset.is_valid():
        return HttpResponse(
            f"Invalid filter: {filterset.errors.as_text()}", status=400, content_type="text/plain"
        )
    response = StreamingHttpResponse(
        exports.csv_rows(filterset.qs, selectors.release_order()), content_type="text/csv"
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="fleet-{stamp}.csv"'
    return response


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_detail(request: HttpRequest, slug: str) -> HttpResponse:
    detail = selectors.instance_detail(slug=slug)
    if detail is None:
        raise Http404(f"No instance {slug}.")
    context = {
        "detail": detail,
        "instance": detail.instance,
        "sync_form": OperationRequestForm.fresh(),
        "health_row": health_for_instances([detail.instance.pk])[detail.instance.pk],
    }
    return render(request, "instances/instance_detail.html", context)


def _request_sync(request: HttpRequest, instance: Instance | None) -> HttpResponse:
    form = OperationRequestForm(request.POST)
    if not form.is_valid():
        return HttpResponse(
            f"Invalid request: {form.errors.as_text()}", status=400, content_type="text/plain"
        )
    target = instance.slug if instance else "fleet"
    try:
        operation, created = operation_create(
            kind=OperationKind.SYNC,
            actor=request.user,  # type: ignore[arg-type]  # the middleware let only people in
            instance=instance,
            idempotency_key=form.key_for(f"sync:{target}"),
        )
    except OperationConflict as exc:
        return HttpResponse(f"Refused: {exc}", status=409, content_type="text/plain")
    messages.add_message(request, *_sync_message(operation, created=created, target=target))
    return redirect("instances:operation_detail", pk=operation.pk)


def _sync_message(operation: Operation, *, created: bool, target: str) -> tuple[int, str]:
    if created and operation.dispatched_at is None:
        # The broker was unreachable; the row is kept and the dispatcher sends it later.
        return messages.WARNING, (
            f"Inventory sync of {target} recorded (operation #{operation.pk}) and queued; "
            "it will start when the job queue is back."
        )
    if created:
        return messages.SUCCESS, (f"Inventory sync of {target} queued (operation #{operation.pk}).")
    if operation.state in TERMINAL_OPERATION_STATES:
        return messages.INFO, (
            f"This inventory sync of {target} was already requested and has finished "
            f"({operation.get_state_display().lower()})."
        )
    return messages.INFO, f"An inventory sync of {target} is already under way."


@requires(Perm.SYNC_INVENTORY)
@require_POST
def instance_sync(request: HttpRequest, slug: str) -> HttpResponse:
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    return _request_sync(request, instance)


@requires(Perm.SYNC_INVENTORY)
@require_POST
def fleet_sync(request: HttpRequest) -> HttpResponse:
    return _request_sync(request, None)


@requires(Perm.VIEW_FLEET)
@require_GET
def operation_list(request: HttpRequest) -> HttpResponse:
    filterset = OperationFilterSet(request.GET, queryset=selectors.operation_list())
    return _render_list(
        request, filterset, "instances/operation_list.html", "instances/_operation_results.html"
    )


@requires(Perm.VIEW_FLEET)
@require_GET
def operation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    operation = selectors.operation_detail(pk=pk)
    if operation is None:
        raise Http404(f"No operation #{pk}.")
    context = {"operation": operation, "live": operation.state not in TERMINAL_OPERATION_STATES}
    # The live block polls this URL every second until the operation is over.
    template = (
        "instances/_operation_live.html"
        if _wants_partial(request)
        else "instances/operation_detail.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response
