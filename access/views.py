"""The access pages: request access on an instance, "My access", a grant's page with
"I'm done" and Revoke. Thin: forms parse, services decide (and refuse with the reason)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from access import exports
from access.choices import GrantState
from access.filtersets import GrantFilterSet, MyAccessFilterSet
from access.forms import AccessRequestForm, ExtendForm, RevokeForm
from access.models import AccessGrant
from access.selectors import (
    access_grant_detail,
    access_grant_list,
    access_grants_of,
    access_review_context,
)
from access.services import (
    AccessError,
    access_grant_end,
    access_grant_extend_request,
    access_grant_request,
)
from access.timeline import access_grant_timeline
from instances.models import Instance
from mi_admin.accounts.roles import Perm
from mi_admin.accounts.rules import any_role, requires, signed_in_user
from mi_admin.ui.lists import export_response, invalid_filters, render_list


@any_role
@require_GET
def my_access(request: HttpRequest) -> HttpResponse:
    filterset = MyAccessFilterSet(
        request.GET, queryset=access_grants_of(user=signed_in_user(request))
    )
    return render_list(request, filterset, "access/mine.html", "access/_mine_results.html")


@requires(Perm.VIEW_FLEET)
@require_GET
def grant_list(request: HttpRequest) -> HttpResponse:
    filterset = GrantFilterSet(request.GET, queryset=access_grant_list())
    return render_list(request, filterset, "access/grants.html", "access/_grants_results.html")


@requires(Perm.VIEW_AUDIT)
@require_GET
def grant_export(request: HttpRequest, fmt: str) -> HttpResponse | StreamingHttpResponse:
    """The access-review evidence over the filtered period, as CSV or JSON."""
    if fmt not in ("csv", "json"):
        raise Http404("Exports are .csv or .json.")
    filterset = GrantFilterSet(request.GET, queryset=access_grant_list())
    refused = invalid_filters(filterset)
    if refused is not None:
        return refused
    chunks: Iterable[str]
    if fmt == "csv":
        chunks, content_type = exports.csv_rows(filterset.qs), "text/csv"
    else:
        chunks, content_type = exports.json_chunks(filterset.qs), "application/json"
    return export_response(chunks, name="access-grants", extension=fmt, content_type=content_type)


@requires(Perm.OPERATE_INSTANCE)
@require_http_methods(["GET", "POST"])
def request_access(request: HttpRequest, slug: str) -> HttpResponse:
    instance = get_object_or_404(Instance.objects.select_related("customer"), slug=slug)
    form = AccessRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                grant = access_grant_request(
                    requester=signed_in_user(request),
                    instance=instance,
                    level=data["level"],
                    justification=data["justification"],
                    duration=data["duration"],
                    ticket_url=data["ticket_url"] or "",
                    consent_ref=data["consent_ref"] or "",
                    start=data.get("start"),
                )
            except AccessError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Access requested (#{grant.pk}); a manager reviews it.")
                return redirect("access:grant", pk=grant.pk)
    context = {"instance": instance, "form": form}
    return render(request, "access/request.html", context, status=status)


def _grant_page(
    request: HttpRequest, pk: int, form: RevokeForm | None = None, status: int = 200
) -> HttpResponse:
    grant = access_grant_detail(pk=pk)
    if grant is None:
        raise Http404(f"No access grant #{pk}.")
    context = {
        "grant": grant,
        "form": form or RevokeForm(),
        "extend_form": ExtendForm(),
        "is_holder": grant.requester_id == signed_in_user(request).pk,
        "live": grant.state in (GrantState.APPROVED, GrantState.ACTIVE),
        "open": grant.state in (GrantState.PENDING, GrantState.APPROVED, GrantState.ACTIVE),
        **access_review_context(grant=grant),
        "timeline": access_grant_timeline(grant=grant),
    }
    return render(request, "access/grant.html", context, status=status)


@requires(Perm.VIEW_FLEET)
@require_GET
def grant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _grant_page(request, pk)


@any_role
@require_POST
def grant_done(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(AccessGrant, pk=pk)
    try:
        access_grant_end(grant=grant, actor=signed_in_user(request), state=GrantState.ENDED_EARLY)
    except AccessError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Grant #{pk} ended; its binding is being removed.")
    return redirect("access:grant", pk=pk)


@requires(Perm.APPROVE)
@require_POST
def grant_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    grant = get_object_or_404(AccessGrant, pk=pk)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            access_grant_end(
                grant=grant,
                actor=signed_in_user(request),
                state=GrantState.REVOKED,
                reason=form.cleaned_data["reason"],
            )
        except AccessError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Grant #{pk} revoked; its binding is being removed.")
            return redirect("access:grant", pk=pk)
    return _grant_page(request, pk, form=form, status=400)


@any_role
@require_POST
def grant_extend(request: HttpRequest, pk: int) -> HttpResponse:
    """The holder asks for more time; the same approval as the grant decides."""
    grant = get_object_or_404(AccessGrant, pk=pk)
    form = ExtendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say how many more minutes and why.")
        return redirect("access:grant", pk=pk)
    try:
        access_grant_extend_request(
            grant=grant,
            requester=signed_in_user(request),
            extra=timedelta(minutes=form.cleaned_data["minutes"]),
            justification=form.cleaned_data["justification"],
        )
    except AccessError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"More time asked for on grant #{pk}; a manager reviews it.")
    return redirect("access:grant", pk=pk)
