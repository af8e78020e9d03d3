"""The approvals API: what waits for the caller, and one request. Reviews go through the
subject's own endpoint (e.g. /api/v1/access/grants/{id}/review/), which calls the engine."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from mi_admin.accounts.rules import Rule
from mi_admin.api.pagination import ApiCursorPagination
from mi_admin.api.views import ApiView, ApiViewMixin
from mi_admin.approvals.api.serializers import ApprovalDetailSerializer, ApprovalSerializer
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.selectors import approval_inbox, approval_request_detail


class OldestFirst(ApiCursorPagination):
    ordering = "pk"  # filed in order: oldest first


class ApprovalList(ApiViewMixin, generics.ListAPIView):
    """Pending requests the caller may review (their inbox), oldest first."""

    rules = {"GET": Rule.ANY_ROLE}
    serializer_class = ApprovalSerializer
    pagination_class = OldestFirst

    def get_queryset(self) -> QuerySet[ApprovalRequest]:
        return approval_inbox(user=self.request.user)


class ApprovalDetail(ApiView):
    """One request with its steps and reviews, and whether the caller may review it."""

    rules = {"GET": Rule.ANY_ROLE}

    @extend_schema(responses=ApprovalDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        detail = approval_request_detail(pk=pk, viewer=request.user)
        if detail is None:
            raise Http404(f"No approval request #{pk}.")
        context = {"request": request, "detail": detail}
        return Response(ApprovalDetailSerializer(detail.request, context=context).data)
