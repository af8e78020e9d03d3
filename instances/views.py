"""The fleet pages: the instance list and its export, one instance, operations.

Lists render through :mod:`mi_admin.ui.lists` (NetBox's pattern: one view answers with the
whole page, or the results partial when htmx asks). Other apps add columns, filters and
panels to the list and the instance page through :mod:`mi_admin.ui.extensions`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances import exports, selectors
from instances.choices import TERMINAL_OPERATION_STATES, OperationKind
from instances.filtersets import InstanceFilterSet, OperationFilterSet
from instances.forms import (
    CancelForm,
    LifecycleForm,
    MaintenanceWindowForm,
    OperationRequestForm,
    RollbackForm,
    TeardownConfirmForm,
    UpgradeForm,
)
from instances.models import Instance, Operation
from instances.services.lifecycle import (
    instance_resume,
    instance_suspend,
    instance_teardown_cancel,
    instance_teardown_schedule,
    teardown_approval_for,
    teardown_cancellable,
    teardown_countdown,
)
from instances.services.operations import OperationConflict, operation_create
from instances.services.upgrades import (
    UpgradeRefused,
    rollback_request,
    upgrade_refusal_for_page,
    upgrade_request,
)
from instances.services.windows import instance_maintenance_window_set
from instances.tables import FLEET_TABLE
from instances.versions import effective_version
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
from mi_admin.ui.table_views import table_configure
from mi_admin.ui.tables import table_columns_shown


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_list(request: HttpRequest) -> HttpResponse:
    filterset = InstanceFilterSet(request.GET, queryset=selectors.instance_list(), request=request)
    # The person's columns: one query for the page, whatever the number of rows.
    shown = table_columns_shown(table=FLEET_TABLE, user=request.user)

    def for_page(rows: list[Instance]) -> dict[str, Any]:
        # A fixed number of queries for the page, whatever its size: the release history
        # (already read by the filters) and the own query of each registered column set
        # with a column shown.
        loaded = columns_for(INSTANCE_LIST, [row.pk for row in rows], shown=shown.names)
        return {
            "version_views": selectors.instance_version_views(rows, filterset.releases),
            "extra_rows": {entry.columns.name: entry.rows for entry in loaded},
        }

    extra = {
        "sync_form": OperationRequestForm.fresh(),
        "table_columns": shown.columns,
    }
    return render_list(
        request,
        filterset,
        "instances/instance_list.html",
        "instances/_instance_results.html",
        extra,
        for_page=for_page,
    )


@requires(Perm.VIEW_FLEET)
@require_http_methods(["GET", "POST"])
def instance_list_columns(request: HttpRequest) -> HttpResponse:
    """The fleet table's "Configure table": this person's columns and their order."""
    return table_configure(
        request,
        table=FLEET_TABLE,
        action=reverse("instances:instance_list_columns"),
        list_url=reverse("instances:instance_list"),
    )


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    filterset = InstanceFilterSet(request.GET, queryset=selectors.instance_list(), request=request)
    refused = invalid_filters(filterset)
    if refused is not None:
        return refused
    chunks = exports.csv_rows(filterset.qs, filterset.releases)
    return export_response(chunks, name="fleet", extension="csv", content_type="text/csv")


@requires(Perm.VIEW_FLEET)
@require_GET
def instance_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _instance_page(request, slug)


def _instance_page(
    request: HttpRequest,
    slug: str,
    *,
    status: int = 200,
    upgrade_form: UpgradeForm | None = None,
    rollback_form: RollbackForm | None = None,
    window_form: MaintenanceWindowForm | None = None,
    lifecycle_form: LifecycleForm | None = None,
    action_error: str = "",
    lifecycle_error: str = "",
) -> HttpResponse:
    """The instance page; after a refused upgrade or rollback, with the person's input and
    the reason, so nothing typed is lost."""
    detail = selectors.instance_detail(slug=slug)
    if detail is None:
        raise Http404(f"No instance {slug}.")
    instance = detail.instance
    version = effective_version(instance.observed_version, instance.vm_version)
    context = {
        "detail": detail,
        "instance": instance,
        "version_view": selectors.instance_version_views([instance], detail.releases)[instance.pk],
        "sync_form": OperationRequestForm.fresh(),
        "upgrade_form": upgrade_form or UpgradeForm(initial=OperationRequestForm.fresh().initial),
        "rollback_form": rollback_form
        or RollbackForm(initial=OperationRequestForm.fresh().initial),
        "upgrade_targets": detail.releases.newer_than(version) or (),
        "upgrade_refusal": upgrade_refusal_for_page(instance=instance),
        "window_form": window_form or MaintenanceWindowForm.for_window(instance.maintenance_window),
        "action_error": action_error,
        "lifecycle": selectors.instance_lifecycle(detail),
        "lifecycle_form": lifecycle_form
        or LifecycleForm(initial=OperationRequestForm.fresh().initial),
        "lifecycle_error": lifecycle_error,
        "panels": panels_for(INSTANCE_DETAIL, instance),
    }
    return render(request, "instances/instance_detail.html", context, status=status)


def _operation_started(request: HttpRequest, operation: Operation, *, created: bool) -> None:
    what = f"{operation.get_kind_display()} of {operation.instance}"
    if not created:
        messages.info(request, f"{what} was already requested (operation #{operation.pk}).")
    elif operation.dispatched_at is None:
        messages.warning(
            request,
            f"{what} recorded (operation #{operation.pk}); it will start when the job queue "
            "is back.",
        )
    else:
        messages.success(request, f"{what} queued (operation #{operation.pk}).")


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def instance_upgrade(request: HttpRequest, slug: str) -> HttpResponse:
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    form = UpgradeForm(request.POST)
    if not form.is_valid():
        return _instance_page(
            request, slug, status=400, upgrade_form=form, action_error="Choose a release."
        )
    try:
        operation, created = upgrade_request(
            instance=instance,
            target=form.cleaned_data["target"],
            actor=request.user,  # type: ignore[arg-type]  # the middleware let only people in
            idempotency_key=form.key_for(f"upgrade:{slug}"),
        )
    except (UpgradeRefused, OperationConflict) as exc:
        status = 409 if isinstance(exc, OperationConflict) else 400
        return _instance_page(
            request, slug, status=status, upgrade_form=form, action_error=str(exc)
        )
    _operation_started(request, operation, created=created)
    return redirect("instances:operation_detail", pk=operation.pk)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def instance_rollback(request: HttpRequest, slug: str) -> HttpResponse:
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    form = RollbackForm(request.POST)
    if not form.is_valid():
        return _instance_page(
            request,
            slug,
            status=400,
            rollback_form=form,
            action_error="Say why the instance is rolled back.",
        )
    try:
        operation, created = rollback_request(
            instance=instance,
            actor=request.user,  # type: ignore[arg-type]  # the middleware let only people in
            reason=form.cleaned_data["reason"],
            idempotency_key=form.key_for(f"rollback:{slug}"),
        )
    except (UpgradeRefused, OperationConflict) as exc:
        status = 409 if isinstance(exc, OperationConflict) else 400
        return _instance_page(
            request, slug, status=status, rollback_form=form, action_error=str(exc)
        )
    _operation_started(request, operation, created=created)
    return redirect("instances:operation_detail", pk=operation.pk)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def instance_maintenance_window(request: HttpRequest, slug: str) -> HttpResponse:
    """Set or remove the instance's weekly maintenance window; a refused window comes back
    with the person's input and the reason (400)."""
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    form = MaintenanceWindowForm(request.POST)
    if not form.is_valid():
        return _instance_page(request, slug, status=400, window_form=form)
    window = form.cleaned_data["window"]
    instance_maintenance_window_set(
        instance=instance,
        window=window,
        actor=request.user,  # type: ignore[arg-type]  # the middleware let only people in
    )
    if window is None:
        messages.success(request, f"{slug} has no maintenance window now.")
    else:
        messages.success(request, f"{slug}'s maintenance window: {window.describe()}.")
    return redirect("instances:instance_detail", slug=slug)


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


def _lifecycle_action(request: HttpRequest, slug: str, *, resume: bool) -> HttpResponse:
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    form = LifecycleForm(request.POST)
    if not form.is_valid():
        return _instance_page(
            request, slug, status=400, lifecycle_form=form, lifecycle_error=form.errors.as_text()
        )
    service = instance_resume if resume else instance_suspend
    try:
        operation = service(
            instance=instance,
            actor=request.user,  # type: ignore[arg-type]  # the middleware let only people in
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as exc:
        return _instance_page(
            request, slug, status=400, lifecycle_form=form, lifecycle_error=" ".join(exc.messages)
        )
    _operation_started(request, operation, created=operation.state == "pending")
    return redirect("instances:operation_detail", pk=operation.pk)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def instance_suspend_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Suspend straight from the instance page (DevOps/Admin, with a reason)."""
    return _lifecycle_action(request, slug, resume=False)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def instance_resume_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Resume straight from the instance page (DevOps/Admin, with a reason)."""
    return _lifecycle_action(request, slug, resume=True)


@requires(Perm.OPERATE_INSTANCE)
@require_http_methods(["GET", "POST"])
def instance_teardown(request: HttpRequest, slug: str) -> HttpResponse:
    """The teardown's confirmation page: opens only with the reference of an approved
    teardown of this instance (an approved request links here); the operator types the
    instance's name, and the countdown starts."""
    instance = selectors.instance_get(slug=slug)
    if instance is None:
        raise Http404(f"No instance {slug}.")
    data = request.POST if request.method == "POST" else request.GET
    reference = str(data.get("reference", "")).strip()
    approval = teardown_approval_for(reference=reference)
    if approval is None or approval.instance_slug != instance.slug:
        raise Http404(
            f"No approved teardown of {slug} has the reference {reference!r}; a teardown "
            "starts from its approved request."
        )
    form = TeardownConfirmForm(data or None, initial={"reference": reference})
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            operation = instance_teardown_schedule(
                instance=instance,
                actor=request.user,  # type: ignore[arg-type]  # only people get here
                reason=form.cleaned_data["reason"] or approval.reason,
                typed_name=form.cleaned_data["typed_name"],
                approved_by=approval.approved_by,
                reference=approval.reference,
            )
        except ValidationError as exc:
            error, status = " ".join(exc.messages), 400
        else:
            messages.warning(
                request,
                f"Teardown of {instance.slug} scheduled (operation #{operation.pk}); nothing "
                "is deleted before the countdown ends, and it can be cancelled until then.",
            )
            return redirect("instances:operation_detail", pk=operation.pk)
    elif request.method == "POST":
        error, status = form.errors.as_text(), 400
    context = {
        "instance": instance,
        "approval": approval,
        "form": form,
        "error": error,
        "countdown": teardown_countdown(),
    }
    return render(request, "instances/teardown_confirm.html", context, status=status)


@requires(Perm.OPERATE_INSTANCE)
@require_POST
def teardown_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a teardown during its countdown (a reason is required); nothing is deleted."""
    operation = selectors.operation_detail(pk=pk)
    if operation is None:
        raise Http404(f"No operation #{pk}.")
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        instance_teardown_cancel(
            operation=operation,
            actor=request.user,  # type: ignore[arg-type]  # the middleware let only people in
            reason=reason,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Teardown #{pk} cancelled; nothing was deleted.")
    return redirect("instances:operation_detail", pk=pk)


@requires(Perm.VIEW_FLEET)
@require_GET
def deletion_record(request: HttpRequest, pk: int) -> HttpResponse:
    """The evidence of a teardown: what was deleted, with GCP ids, when, by whom, approved
    by whom."""
    record = selectors.deletion_record_detail(pk=pk)
    if record is None:
        raise Http404(f"No deletion record #{pk}.")
    return render(request, "instances/deletion_record.html", {"record": record})


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
    context = {
        "operation": operation,
        "live": operation.state not in TERMINAL_OPERATION_STATES,
        "countdown": _countdown(operation),
        "cancel_form": CancelForm(),
    }
    # The live block polls this URL every second until the operation is over.
    return render_page_or_partial(
        request, "instances/operation_detail.html", "instances/_operation_live.html", context
    )


def _countdown(operation: Operation) -> dict[str, Any] | None:
    """A teardown in its countdown: when deleting starts and how long until then."""
    if not teardown_cancellable(operation) or "not_before" not in operation.params:
        return None
    not_before = dt.datetime.fromisoformat(str(operation.params["not_before"]))
    left = max(0, int((not_before - timezone.now()).total_seconds()))
    return {
        "not_before": not_before,
        "seconds_left": left,
        "text": f"{left // 60} min {left % 60:02d} s",
    }
