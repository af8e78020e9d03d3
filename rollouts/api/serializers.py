"""What the rollouts API returns and accepts. A rollout is planned by its release's version
("6.10.0"); its status is its waves, each with its instances' states and counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from rollouts.models import Rollout, RolloutTarget, RolloutWave, TargetState


def _counts(states: list[str]) -> dict[str, int]:
    counted = Counter(states)
    return {state: counted.get(state, 0) for state in TargetState.values}


class RolloutTargetCounts(serializers.Serializer):
    # Documents the shape of ``counts``: one entry per target state.
    pending = serializers.IntegerField()
    upgrading = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()


class RolloutSerializer(serializers.ModelSerializer):
    """A row of the list (the selector annotates the counts)."""

    release = serializers.CharField(source="release.version", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    target_count = serializers.IntegerField(read_only=True)
    done_count = serializers.IntegerField(read_only=True)
    failed_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Rollout
        fields = [
            "id",
            "release",
            "state",
            "paused_reason",
            "failure_budget",
            "hold_seconds",
            "only_in_maintenance_windows",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "target_count",
            "done_count",
            "failed_count",
        ]


class RolloutTargetSerializer(serializers.ModelSerializer):
    instance = serializers.CharField(source="instance.slug", read_only=True)
    operation = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    late = serializers.BooleanField(read_only=True)

    class Meta:
        model = RolloutTarget
        fields = [
            "id",
            "instance",
            "state",
            "skip_reason",
            "error",
            "attempts",
            "operation",
            "sla_deadline",
            "late",
        ]


class RolloutWaveSerializer(serializers.ModelSerializer):
    counts = serializers.SerializerMethodField()
    targets = serializers.SerializerMethodField()

    class Meta:
        model = RolloutWave
        fields = [
            "position",
            "name",
            "earliest_start",
            "hold_seconds",
            "trial_pct",
            "production_pct",
            "started_at",
            "finished_at",
            "counts",
            "targets",
        ]

    @extend_schema_field(RolloutTargetCounts)
    def get_counts(self, obj: RolloutWave) -> dict[str, int]:
        return _counts([t.state for t in obj.targets.all()])

    @extend_schema_field(RolloutTargetSerializer(many=True))
    def get_targets(self, obj: RolloutWave) -> Any:
        return RolloutTargetSerializer(obj.targets.all(), many=True).data


class RolloutDetailSerializer(serializers.ModelSerializer):
    """A rollout's status: its release, state, overall counts and waves (targets loaded by
    ``selectors.rollout_detail``: no query per wave)."""

    release = serializers.CharField(source="release.version", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    superseded_by = serializers.CharField(
        source="superseded_by.version", read_only=True, allow_null=True, default=None
    )
    counts = serializers.SerializerMethodField()
    waves = serializers.SerializerMethodField()

    class Meta:
        model = Rollout
        fields = [
            "id",
            "release",
            "state",
            "paused_reason",
            "failure_budget",
            "hold_seconds",
            "only_in_maintenance_windows",
            "superseded_by",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "counts",
            "waves",
        ]

    @extend_schema_field(RolloutTargetCounts)
    def get_counts(self, obj: Rollout) -> dict[str, int]:
        return _counts([t.state for wave in obj.waves.all() for t in wave.targets.all()])

    @extend_schema_field(RolloutWaveSerializer(many=True))
    def get_waves(self, obj: Rollout) -> Any:
        return RolloutWaveSerializer(obj.waves.all(), many=True).data


class RolloutPlanInput(serializers.Serializer):
    version = serializers.CharField(max_length=64, help_text="the release's version, 6.10.0")
    failure_budget = serializers.IntegerField(
        min_value=0,
        max_value=100,
        default=0,
        help_text="failed instances a wave may have and the next still start",
    )
    hold_seconds = serializers.IntegerField(
        min_value=0, default=0, help_text="how long each wave waits after the previous one"
    )
    only_in_maintenance_windows = serializers.BooleanField(default=False)


class RolloutActionInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="required to pause or abort"
    )
