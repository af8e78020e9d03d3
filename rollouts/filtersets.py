"""The rollout list's one FilterSet."""

from __future__ import annotations

import django_filters

from rollouts.models import Rollout, RolloutState


class RolloutFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=RolloutState.choices, empty_label="All")
    release = django_filters.CharFilter(field_name="release__version", label="Release")

    class Meta:
        model = Rollout
        fields = ["state", "release"]
