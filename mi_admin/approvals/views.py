"""The approvals inbox and a request's page. Thin: the form parses, the services decide.

Any signed-in person with a role may open these pages: who may *review* is the policy's
business (roles or Okta groups), asked through eligibility.review_refusal, which hides the
form and, in the service, refuses the POST anyway.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from mi_admin.accounts.rules import any_role, signed_in_user
from mi_admin.approvals.filtersets import InboxFilterSet
from mi_admin.approvals.forms import ReviewForm
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.selectors import approval_inbox, approval_request_detail
from mi_admin.approvals.services import (
    ApprovalError,
    approval_request_withdraw,
    approval_review_submit,
)
from mi_admin.ui.extensions import APPROVAL_DETAIL, panels_for
from mi_admin.ui.lists import render_list


@any_role
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    filterset = InboxFilterSet(request.GET, queryset=approval_inbox(user=signed_in_user(request)))
    return render_list(request, filterset, "approvals/inbox.html", "approvals/_inbox_results.html")


def _detail_page(
    request: HttpRequest, pk: int, form: ReviewForm | None = None, status: int = 200
) -> HttpResponse:
    detail = approval_request_detail(pk=pk, viewer=signed_in_user(request))
    if detail is None:
        raise Http404(f"No approval request #{pk}.")
    context = {
        "detail": detail,
        "form": form or ReviewForm(),
        # What the subject's app shows a reviewer (e.g. access: the review context).
        "panels": panels_for(APPROVAL_DETAIL, detail.request),
    }
    return render(request, "approvals/request_detail.html", context, status=status)


@any_role
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, pk)


@any_role
@require_POST
def review(request: HttpRequest, pk: int) -> HttpResponse:
    approval = get_object_or_404(ApprovalRequest, pk=pk)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            outcome = approval_review_submit(
                request=approval,
                reviewer=signed_in_user(request),
                decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"],
            )
        except ApprovalError as exc:
            form.add_error(None, str(exc))
        else:
            state = outcome.request.get_state_display().lower()
            messages.success(
                request,
                f"Your review of #{pk} is recorded; the request is {state}."
                if outcome.decided
                else f"Your review of #{pk} is recorded; it waits for more reviews.",
            )
            return redirect("approvals:inbox")
    return _detail_page(request, pk, form=form, status=400)


@any_role
@require_POST
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    approval = get_object_or_404(ApprovalRequest, pk=pk)
    try:
        approval_request_withdraw(request=approval, actor=signed_in_user(request))
    except ApprovalError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{pk} withdrawn.")
    return redirect("approvals:request_detail", pk=pk)
