"""One FilterSet per list: the request queue (page and partial), the SLA report (page and
CSV)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet

from mi_requests.choices import CLOSED_STATES, OPEN_STATES, RequestKind, RequestState
from mi_requests.models import CustomerRequest


class RequestFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(
        choices=[("open", "Open"), ("closed", "Closed")],
        method="by_status",
        label="Status",
        empty_label="Any",
    )
    state = django_filters.ChoiceFilter(choices=RequestState.choices, label="State")
    kind = django_filters.ChoiceFilter(choices=RequestKind.choices, label="Kind")

    class Meta:
        model = CustomerRequest
        fields = ["q", "status", "state", "kind"]

    def search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        query = Q(summary__icontains=value) | Q(requester__username__icontains=value)
        query |= Q(instance__slug__icontains=value) | Q(customer__name__icontains=value)
        query |= Q(new_customer_name__icontains=value)
        if value.lstrip("#").isdigit():
            query |= Q(pk=int(value.lstrip("#")))
        return queryset.filter(query)

    def by_status(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(state__in=OPEN_STATES if value == "open" else CLOSED_STATES)


class AttainmentFilterSet(django_filters.FilterSet):
    """The SLA report: by kind and by period of submission."""

    kind = django_filters.ChoiceFilter(choices=RequestKind.choices, label="Kind")
    since = django_filters.DateFilter(
        field_name="submitted_at", lookup_expr="date__gte", label="Submitted since (UTC)"
    )
    until = django_filters.DateFilter(
        field_name="submitted_at", lookup_expr="date__lte", label="Submitted until (UTC)"
    )

    class Meta:
        model = CustomerRequest
        fields = ["kind", "since", "until"]


class ApiRequestFilterSet(RequestFilterSet):
    """The API's request list: the queue's filters, and ``mine=true`` for the caller's own."""

    mine = django_filters.BooleanFilter(method="only_mine", label="Only my requests")

    class Meta:
        model = CustomerRequest
        fields = ["q", "status", "state", "kind", "mine"]

    def only_mine(self, queryset: QuerySet[Any], name: str, value: bool | None) -> QuerySet[Any]:
        if not value or self.request is None:
            return queryset
        return queryset.filter(requester_id=self.request.user.pk)
