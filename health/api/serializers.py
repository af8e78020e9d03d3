"""What the health API returns: incidents (the incidents page's rows) and an instance's
uptime figures (the instance page's)."""

from __future__ import annotations

from rest_framework import serializers

from health.models import Incident


class IncidentSerializer(serializers.ModelSerializer):
    instance = serializers.CharField(source="instance.slug", read_only=True)
    customer = serializers.CharField(source="instance.customer.name", read_only=True)
    acknowledged_by = serializers.SerializerMethodField()
    note_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "instance",
            "customer",
            "cause",
            "state",
            "summary",
            "opened_at",
            "resolved_at",
            "acknowledged_at",
            "acknowledged_by",
            "note_count",
        ]

    def get_acknowledged_by(self, obj: Incident) -> str | None:
        return obj.acknowledged_by.username if obj.acknowledged_by else None


class UptimeSerializer(serializers.Serializer):
    instance = serializers.CharField()
    uptime_24h = serializers.FloatField(
        allow_null=True, help_text="percent up over the last 24 h; null: no sample"
    )
    uptime_7d = serializers.FloatField(allow_null=True)
    uptime_30d = serializers.FloatField(allow_null=True)
    days_30d = serializers.IntegerField(
        help_text="how many of the 30 days have data (from the first counted sample)"
    )
    coverage_30d = serializers.CharField(
        allow_blank=True, help_text='"over 3 days" when the 30-day figure rests on fewer days'
    )
