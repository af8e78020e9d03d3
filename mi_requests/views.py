"""The request pages: the queue, the intake forms, a request's page with its timeline and
actions, the SLA attainment report and its CSV. Thin: forms parse, services decide."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances.choices import ACTIVE_OPERATION_STATES
from instances.services.lifecycle import teardown_cancellable
from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import requires, signed_in_user
from mi_admin.ui.lists import export_response, invalid_filters, render_list
from mi_requests import exports, selectors
from mi_requests.actions import DONE_MESSAGES, HANDLER_ACTIONS, REQUESTER_ACTIONS
from mi_requests.choices import OPERATION_KINDS, RequestKind
from mi_requests.filtersets import AttainmentFilterSet, RequestFilterSet
from mi_requests.forms import INTAKE_FORMS, CommentForm, ProvisionForm, TeardownConfirmForm
from mi_requests.models import CustomerRequest
from mi_requests.services import requests as services
from mi_requests.services.requests import RequestError


@requires(Perm.FILE_REQUEST)
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    filterset = RequestFilterSet(request.GET, queryset=selectors.request_queue(user=user))

    def for_page(rows: list[CustomerRequest]) -> dict[str, Any]:
        clocks = selectors.queue_rows(rows)
        return {"rows": [(row, clocks[row.pk]) for row in rows]}

    return render_list(
        request,
        filterset,
        "mi_requests/list.html",
        "mi_requests/_list_results.html",
        {"sees_all": selectors.sees_all_requests(user), "kinds": RequestKind.choices},
        for_page=for_page,
    )


@requires(Perm.FILE_REQUEST)
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    form_class = INTAKE_FORMS.get(kind)
    if form_class is None:
        return render(request, "mi_requests/choose_kind.html", {"kinds": RequestKind.choices})
    status = 200
    if request.method == "POST":
        form = form_class(request.POST)
        status = 400
        if form.is_valid():
            try:
                created = services.request_submit(
                    requester=signed_in_user(request), kind=kind, **form.service_kwargs()
                )
            except RequestError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Request #{created.pk} filed; DevOps acknowledge it within 24 hours.",
                )
                return redirect("mi_requests:detail", pk=created.pk)
    else:
        form = form_class(
            initial={key: value for key, value in request.GET.items() if key != "kind"}
        )
    context = {"form": form, "kind": RequestKind(kind)}
    return render(request, "mi_requests/new.html", context, status=status)


def _detail_page(
    request: HttpRequest,
    pk: int,
    *,
    status: int = 200,
    error: str = "",
    action: str = "",
    comment_form: CommentForm | None = None,
) -> HttpResponse:
    detail = selectors.request_detail(pk=pk, viewer=signed_in_user(request))
    if detail is None:
        raise Http404(f"No request #{pk} that you may see.")
    operation = detail.request.operation
    context = {
        "detail": detail,
        "r": detail.request,
        "is_operation_kind": detail.request.kind in OPERATION_KINDS,
        "operation_running": operation is not None and operation.state in ACTIVE_OPERATION_STATES,
        "cancellable_teardown": detail.can_handle
        and operation is not None
        and teardown_cancellable(operation),
        "error": error,
        "failed_action": action,
        "comment_form": comment_form or CommentForm(),
        "confirm_form": TeardownConfirmForm(),
        "suggested_slug": slugify(
            detail.request.new_customer_name or detail.request.customer_label
        ),
    }
    return render(request, "mi_requests/detail.html", context, status=status)


@requires(Perm.FILE_REQUEST)
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, pk)


def _visible(request: HttpRequest, pk: int) -> CustomerRequest:
    visible = selectors.requests_visible_to(user=signed_in_user(request))
    return get_object_or_404(visible, pk=pk)


def _act(request: HttpRequest, pk: int, actions: dict[str, Any]) -> HttpResponse:
    target = _visible(request, pk)
    action = request.POST.get("action", "")
    form = CommentForm(request.POST)
    form.is_valid()  # every field is optional: the service says what is missing
    confirm = TeardownConfirmForm(request.POST)
    confirm.is_valid()
    provision = ProvisionForm(request.POST)
    provision.is_valid()
    data = {
        "comment": form.cleaned_data.get("comment", ""),
        "typed_name": confirm.cleaned_data.get("typed_name", ""),
        "slug": provision.cleaned_data.get("slug") or request.POST.get("slug", ""),
    }
    if action not in actions:
        return _detail_page(
            request, pk, status=400, error=f"Unknown action {action!r}.", comment_form=form
        )
    try:
        actions[action](target, signed_in_user(request), data)
    except RequestError as exc:
        return _detail_page(
            request, pk, status=400, error=str(exc), action=action, comment_form=form
        )
    messages.success(request, f"Request #{pk}: {DONE_MESSAGES[action]}")
    return redirect("mi_requests:detail", pk=pk)


@requires(Perm.HANDLE_REQUEST)
@require_POST
def request_handle(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, HANDLER_ACTIONS)


@requires(Perm.FILE_REQUEST)
@require_POST
def request_respond(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, REQUESTER_ACTIONS)


@requires(Perm.VIEW_FLEET)
@require_GET
def sla_report(request: HttpRequest) -> HttpResponse:
    filterset = AttainmentFilterSet(request.GET, queryset=selectors.sla_attainment())

    def for_page(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"rows": selectors.attainment_rows(rows)}

    return render_list(
        request,
        filterset,
        "mi_requests/report.html",
        "mi_requests/_report_results.html",
        for_page=for_page,
    )


@requires(Perm.VIEW_FLEET)
@require_GET
def sla_report_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    filterset = AttainmentFilterSet(request.GET, queryset=selectors.sla_attainment())
    refused = invalid_filters(filterset)
    if refused is not None:
        return refused
    return export_response(
        exports.attainment_csv(filterset.qs),
        name="request-sla",
        extension="csv",
        content_type="text/csv",
    )
