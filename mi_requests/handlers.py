"""What the requests app registers with the platform at start-up: its approval subject
kinds (the request, its appeal), its listener for finished lifecycle operations, and the
answer to lifecycle's "which approved teardown does this reference name"."""

from __future__ import annotations

from django.urls import reverse

from instances.services.lifecycle import TeardownApproval, register_teardown_approval_resolver
from instances.services.operations import register_finished_listener
from mi_admin.approvals.registry import register_subject, register_subject_url
from mi_requests.choices import RequestKind, RequestState
from mi_requests.models import CustomerRequest
from mi_requests.selectors import request_approvers
from mi_requests.services.execution import request_operation_finished_listener, request_pk_from
from mi_requests.services.requests import (
    APPEAL_SUBJECT_KIND,
    SUBJECT_KIND,
    request_approval_decided,
)


def teardown_approval(reference: str) -> TeardownApproval | None:
    """An approved teardown request named ``request:<pk>``, for lifecycle's confirmation."""
    pk = request_pk_from(reference)
    if pk is None:
        return None
    request = (
        CustomerRequest.objects.select_related("instance")
        .filter(pk=pk, kind=RequestKind.TEARDOWN, state=RequestState.APPROVED)
        .first()
    )
    if request is None or request.instance is None:
        return None
    return TeardownApproval(
        reference=reference,
        instance_slug=request.instance.slug,
        approved_by=tuple(request_approvers(request=request)),
        reason=request.reason,
    )


def _request_url(subject_id: str) -> str:
    return reverse("mi_requests:detail", kwargs={"pk": int(subject_id)})


def register() -> None:
    register_subject(SUBJECT_KIND, label="Request", on_decided=request_approval_decided)
    register_subject(
        APPEAL_SUBJECT_KIND, label="Request appeal", on_decided=request_approval_decided
    )
    for kind in (SUBJECT_KIND, APPEAL_SUBJECT_KIND):
        register_subject_url(kind, _request_url)
    register_finished_listener(request_operation_finished_listener)
    register_teardown_approval_resolver(teardown_approval)
