"""What the access API returns and accepts. The level is named as people say it: its name
("SSH (OS Login)"), its slug ("ssh-os-login") or that slug's first word ("ssh")."""

from __future__ import annotations

from rest_framework import serializers

from access.models import AccessGrant
from mi_admin.approvals.choices import Decision


class GrantSerializer(serializers.ModelSerializer):
    instance = serializers.CharField(source="instance.slug", read_only=True)
    level = serializers.CharField(source="level.name", read_only=True)
    requester = serializers.CharField(source="requester.username", read_only=True)
    duration_minutes = serializers.SerializerMethodField()
    approval_request = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = AccessGrant
        fields = [
            "id",
            "instance",
            "level",
            "state",
            "requester",
            "justification",
            "duration_minutes",
            "requested_start",
            "activated_at",
            "expires_at",
            "ended_at",
            "approval_request",
        ]

    def get_duration_minutes(self, obj: AccessGrant) -> int:
        return int(obj.duration.total_seconds() // 60)


class GrantRequestInput(serializers.Serializer):
    instance = serializers.SlugField(max_length=63, help_text="the instance's slug")
    level = serializers.CharField(
        max_length=80, help_text="the level's name, its slug or the slug's first word (\"ssh\")"
    )
    minutes = serializers.IntegerField(min_value=1, help_text="up to the level's maximum")
    justification = serializers.CharField(max_length=5000)
    ticket_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    consent_ref = serializers.CharField(max_length=200, required=False, allow_blank=True)
    start = serializers.DateTimeField(
        required=False, allow_null=True, help_text="up to 7 days ahead; empty: now"
    )


class ReviewInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class EndInput(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="required to revoke someone else's grant",
    )
