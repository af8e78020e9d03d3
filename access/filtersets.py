"""The filter of "My access": by state."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from access.choices import GrantState
from access.models import AccessGrant
from mi_admin.ui.times import DisplayZoneDateTimeFilter


class MyAccessFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=GrantState.choices, label="State")

    class Meta:
        model = AccessGrant
        fields: list[str] = []


class GrantFilterSet(django_filters.FilterSet):
    """The fleet-wide list and the access-review export: by state, by instance or person,
    and by period (a grant counts when it was open at some moment of it)."""

    q = django_filters.CharFilter(method="search", label="Instance or person")
    state = django_filters.ChoiceFilter(choices=GrantState.choices, label="State")
    since = DisplayZoneDateTimeFilter(method="open_since", label="Since")
    until = DisplayZoneDateTimeFilter(field_name="created_at", lookup_expr="lt", label="Until")

    class Meta:
        model = AccessGrant
        fields = ["q", "state", "since", "until"]

    def search(
        self, queryset: QuerySet[AccessGrant], name: str, value: str
    ) -> QuerySet[AccessGrant]:
        return queryset.filter(
            Q(instance__slug__icontains=value)
            | Q(instance__customer__name__icontains=value)
            | Q(requester__username__icontains=value)
            | Q(requester__display_name__icontains=value)
        )

    def open_since(
        self, queryset: QuerySet[AccessGrant], name: str, value: object
    ) -> QuerySet[AccessGrant]:
        return queryset.filter(Q(ended_at__isnull=True) | Q(ended_at__gte=value))


class ApiGrantFilterSet(django_filters.FilterSet):
    """The API's grant list: the caller's own (``mine=true``), by state, by instance slug."""

    mine = django_filters.BooleanFilter(method="only_mine", label="Only my grants")
    state = django_filters.ChoiceFilter(choices=GrantState.choices, label="State")
    instance = django_filters.CharFilter(field_name="instance__slug", label="Instance slug")

    class Meta:
        model = AccessGrant
        fields = ["mine", "state", "instance"]

    def only_mine(
        self, queryset: QuerySet[AccessGrant], name: str, value: bool | None
    ) -> QuerySet[AccessGrant]:
        if not value or self.request is None:
            return queryset
        return queryset.filter(requester_id=self.request.user.pk)
