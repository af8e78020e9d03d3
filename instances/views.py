"""The fleet pages: the instance list and its export, one instance, operations.

Lists render through :mod:`mi_admin.ui.lists` (NetBox's pattern: one view answers with the
whole page, or the results partial when htmx asks). Other apps add columns, filters and
panels to the list and the instance page through :mod:`mi_admin.ui.extensions`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from instances import exports, selectors
from instances.choices import TERMINAL_OPERATION_STATES, OperationKind
from instances.filtersets import InstanceFilterSet, OperationFilterSet
from instances.forms import OperationRequestForm
from instances.models import Instance, Operation
from instances.services.operations import OperationConflict, operation_create
from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires
from mi_admin.ui.extensions import (
    INSTANCE_DETAIL,
    INSTANCE_LIST,
    columns_for,
    panels_for,
)
from mi_admin.ui.lists import (
    export_response,
    invalid_filters,
    render_list,
    render_page_or_partial,
)


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_list(request: HttpRequest) -> HttpResponse:
    filterset = InstanceFilterSet(request.GET, queryset=selectors.instance_list())

    def for_page(rows: list[Instance]) -> dict[str, Any]:
        # A fixed number of queries for the page, whatever its size: the release history
        # (already read by the filters) and each registered column set's own.
        return {
            "version_views": selectors.instance_version_views(rows, filterset.releases),
            "extra_columns": columns_for(INSTANCE_LIST, [row.pk for row in rows]),
        }

    return render_list(
        request,
        filterset,
        "instances/instance_list.html",
        "instances/_instance_results.html",
        {"sync_form": OperationRequestForm.fresh()},
        for_page=for_page,
    )


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    filterset = InstanceFilterSet(request.GET, queryset=selectors.instance_list())
    refused = invalid_filters(filterset)
    if refused is not None:
        return refused
    chunks = exports.csv_rows(filterset.qs, filterset.releases)
    return export_response(chunks, name="fleet", extension="csv", content_type="text/csv")


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_detail(request: HttpRequest, slug: str) -> HttpResponse:
    detail = selectors.instance_detail(slug=slug)
    if detail is None:
        raise Http404(f"No instance {slug}.")
    context = {
        "detail": detail,
        "instance": detail.instance,
        "version_view": selectors.instance_version_views([detail.instance], detail.releases)[
            detail.instance.pk
        ],
        "sync_form": OperationRequestForm.fresh(),
        "panels": panels_for(INSTANCE_DETAIL, detail.instance),
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
    return render_list(
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
    return render_page_or_partial(
        request, "instances/operation_detail.html", "instances/_operation_live.html", context
    )
