"""The inbox's filter: a search over what is asked and who asked."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from mi_admin.approvals.models import ApprovalRequest


class InboxFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = ApprovalRequest
        fields: list[str] = []

    def search(
        self, queryset: QuerySet[ApprovalRequest], name: str, value: str
    ) -> QuerySet[ApprovalRequest]:
        return queryset.filter(
            Q(subject_summary__icontains=value)
            | Q(requester__username__icontains=value)
            | Q(requester__display_name__icontains=value)
            | Q(policy_name__icontains=value)
        )
