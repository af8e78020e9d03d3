"""The access API: thin like the pages (authorize by the declared rule, validate, one
service call, serialize). The services decide and refuse with the sentence to show."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from access.api.serializers import EndInput, GrantRequestInput, GrantSerializer, ReviewInput
from access.choices import GrantState
from access.filtersets import ApiGrantFilterSet
from access.models import AccessGrant
from access.selectors import access_grant_detail, access_grants_all, access_level_find
from access.services import AccessError, access_grant_end, access_grant_request
from instances import selectors as instance_selectors
from mi_admin.accounts.roles import Perm, roles_with, user_can
from mi_admin.accounts.rules import Rule
from mi_admin.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from mi_admin.api.pagination import Newest
from mi_admin.api.problems import problem_response
from mi_admin.api.views import ApiView, ApiViewMixin
from mi_admin.api.views import validated as _valid
from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.services import ApprovalError, approval_review_submit


def _grant(pk: int) -> AccessGrant:
    grant = access_grant_detail(pk=pk)
    if grant is None:
        raise Http404(f"No access grant #{pk}.")
    return grant


def _answer(pk: int, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(GrantSerializer(_grant(pk)).data, status=status, headers=headers)


def _refused(exc: Exception) -> Response:
    return problem_response(400, str(exc), code="refused")


class GrantList(ApiViewMixin, generics.ListAPIView):
    """Access grants, newest first (``mine=true``: the caller's own); POST requests one,
    which waits for its approval."""

    rules = {"GET": Perm.VIEW_FLEET, "POST": Perm.OPERATE_INSTANCE}
    serializer_class = GrantSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApiGrantFilterSet
    pagination_class = Newest

    def get_queryset(self) -> QuerySet[AccessGrant]:
        return access_grants_all()

    @extend_schema(
        request=GrantRequestInput,
        responses={201: GrantSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def post(self, request: Request) -> Response:
        data = _valid(GrantRequestInput, request)
        instance = instance_selectors.instance_get(slug=data["instance"])
        if instance is None:
            return problem_response(400, f"No instance {data['instance']}.", code="refused")
        level = access_level_find(name=data["level"])
        if level is None:
            return problem_response(
                400, f"No access level answers to {data['level']!r}.", code="refused"
            )

        def work() -> Response:
            try:
                grant = access_grant_request(
                    requester=request.user,
                    instance=instance,
                    level=level,
                    justification=data["justification"],
                    duration=timedelta(minutes=data["minutes"]),
                    ticket_url=data.get("ticket_url") or "",
                    consent_ref=data.get("consent_ref") or "",
                    start=data.get("start"),
                )
            except AccessError as exc:
                return _refused(exc)
            location = reverse("access_api:grant_detail", kwargs={"pk": grant.pk})
            return _answer(grant.pk, status=201, headers={"Location": location})

        return idempotent(request, work)


class GrantDetail(ApiView):
    """One grant."""

    rules = {"GET": Perm.VIEW_FLEET}

    @extend_schema(responses=GrantSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _answer(pk)


class GrantReview(ApiView):
    """Approve or deny the grant's pending request (or its pending extension) through the
    approval engine: the same eligibility as the approvals page (not your own request, a
    reviewer of the open step, once)."""

    rules = {"POST": Rule.ANY_ROLE}

    @extend_schema(request=ReviewInput, responses={200: GrantSerializer})
    def post(self, request: Request, pk: int) -> Response:
        grant = _grant(pk)
        data = _valid(ReviewInput, request)
        pending = [
            approval
            for approval in (grant.approval_request, grant.extension_approval)
            if approval is not None and approval.state == RequestState.PENDING
        ]
        if not pending:
            return problem_response(
                400, f"Grant #{pk} has no request waiting for a review.", code="refused"
            )

        # Not under Idempotency-Key: its transaction would hold back the engine's decision
        # (run on commit) and the answer would show the grant still pending. A retried
        # review is refused anyway ("nobody reviews twice").
        try:
            approval_review_submit(
                request=pending[0],
                reviewer=request.user,
                decision=data["decision"],
                comment=data.get("comment") or "",
                via="api",
            )
        except ApprovalError as exc:
            return _refused(exc)
        return _answer(pk)


class GrantEnd(ApiView):
    """End a grant: the holder's "I'm done", or a revoke (a manager or an admin, with a
    reason), as on the grant's page."""

    rules = {"POST": Rule.ANY_ROLE}

    @extend_schema(
        request=EndInput, responses={200: GrantSerializer}, parameters=[IDEMPOTENCY_PARAMETER]
    )
    def post(self, request: Request, pk: int) -> Response:
        grant = _grant(pk)
        data = _valid(EndInput, request)
        holder = grant.requester_id == request.user.pk
        if not holder and not user_can(request.user, Perm.APPROVE):
            roles = " or ".join(role.label for role in roles_with(Perm.APPROVE))
            return problem_response(
                403,
                f"Only the holder ends a grant; revoking someone else's needs the role {roles}.",
                code="permission_denied",
            )

        def work() -> Response:
            try:
                access_grant_end(
                    grant=grant,
                    actor=request.user,
                    state=GrantState.ENDED_EARLY if holder else GrantState.REVOKED,
                    reason=data.get("reason") or "",
                )
            except AccessError as exc:
                return _refused(exc)
            return _answer(pk)

        return idempotent(request, work)
