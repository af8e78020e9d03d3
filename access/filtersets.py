"""The filter of "My access": by state."""

from __future__ import annotations

import django_filters

from access.choices import GrantState
from access.models import AccessGrant


class MyAccessFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=GrantState.choices, label="State")

    class Meta:
        model = AccessGrant
        fields: list[str] = []
