"""What the fleet's API returns and accepts. Values that belong to other apps (health) are
the fields they register with :func:`mi_admin.api.extensions.api_fields`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from instances.models import Instance, Operation, OperationStep, Release
from mi_admin.api.extensions import fields_for

INSTANCE = "instance"


class PositionSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="current, behind, ahead or unknown")
    version = serializers.CharField()
    latest = serializers.CharField()
    behind = serializers.IntegerField(allow_null=True, help_text="releases newer than it")


class VersionSlaSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="current, due, overdue, not_held or no_release")
    text = serializers.CharField()
    deadline = serializers.DateTimeField(allow_null=True)
    deadline_release = serializers.CharField()


@extend_schema_field(OpenApiTypes.OBJECT)
class ExtensionField(serializers.Field):
    """A value another app contributes, loaded for the whole page (context "extensions")."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        self.extension = name
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return self.context.get("extensions", {}).get(value.pk, {}).get(self.extension)


class InstanceSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.name", read_only=True)
    version = serializers.CharField(read_only=True, help_text="running version (observed)")
    version_position = serializers.SerializerMethodField()
    version_sla = serializers.SerializerMethodField()

    class Meta:
        model = Instance
        fields = [
            "slug",
            "customer",
            "url",
            "kind",
            "architecture",
            "size",
            "state",
            "version",
            "desired_version",
            "drift",
            "last_synced_at",
            "version_position",
            "version_sla",
        ]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields_for(INSTANCE):
            fields[field.name] = ExtensionField(field.name, help_text=field.description)
        return fields

    def _view(self, obj: Instance) -> Any:
        return self.context["version_views"][obj.pk]

    @extend_schema_field(PositionSerializer)
    def get_version_position(self, obj: Instance) -> dict[str, Any]:
        return PositionSerializer(self._view(obj).position).data

    @extend_schema_field(VersionSlaSerializer)
    def get_version_sla(self, obj: Instance) -> dict[str, Any]:
        return VersionSlaSerializer(self._view(obj).sla).data


class OperationSummarySerializer(serializers.ModelSerializer):
    instance = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    actor = serializers.CharField(source="actor.username", read_only=True, allow_null=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "kind",
            "state",
            "instance",
            "actor",
            "created_at",
            "started_at",
            "finished_at",
            "error",
        ]


class InstanceDetailSerializer(InstanceSerializer):
    recent_operations = serializers.SerializerMethodField()

    class Meta(InstanceSerializer.Meta):
        fields = [*InstanceSerializer.Meta.fields, "gcp_project", "gcp_zone", "recent_operations"]

    @extend_schema_field(OperationSummarySerializer(many=True))
    def get_recent_operations(self, obj: Instance) -> Any:
        return OperationSummarySerializer(self.context["recent_operations"], many=True).data


class ReleaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["version", "kind", "released_at", "notes"]


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = OperationStep
        fields = ["position", "name", "state", "detail", "started_at", "finished_at"]


class OperationSerializer(OperationSummarySerializer):
    steps = StepSerializer(many=True, read_only=True)

    class Meta(OperationSummarySerializer.Meta):
        fields = [*OperationSummarySerializer.Meta.fields, "params", "result", "steps"]


class UpgradeInput(serializers.Serializer):
    target = serializers.CharField(max_length=32, help_text="a registered release's version")


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class TeardownInput(serializers.Serializer):
    reference = serializers.CharField(
        max_length=100, help_text="the reference of the approved teardown request"
    )
    typed_name = serializers.CharField(max_length=63, help_text="the instance's slug, typed")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
