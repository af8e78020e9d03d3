"""What the approvals API returns: a request, and in detail its steps, reviews and whether
the caller may review it (and if not, why)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mi_admin.approvals.models import ApprovalRequest, Review


class ApprovalSerializer(serializers.ModelSerializer):
    requester = serializers.CharField(source="requester.username", read_only=True)
    policy = serializers.CharField(source="policy_name", read_only=True)
    step_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "state",
            "subject_kind",
            "subject_id",
            "subject_summary",
            "requester",
            "policy",
            "current_step",
            "step_count",
            "created_at",
            "expires_at",
            "decided_at",
        ]


class ApprovalReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = Review
        fields = ["step", "reviewer", "decision", "comment", "created_at"]


class ApprovalStepSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    reviewers = serializers.CharField(help_text='who may review it, e.g. "Manager or Admin"')
    quorum = serializers.IntegerField()
    status = serializers.CharField(help_text="approved, open, waiting, denied or closed")
    reviews = ApprovalReviewSerializer(many=True)


class ApprovalDetailSerializer(ApprovalSerializer):
    steps = serializers.SerializerMethodField()
    can_review = serializers.SerializerMethodField()
    refusal = serializers.SerializerMethodField(help_text="why the caller may not review it")
    can_withdraw = serializers.SerializerMethodField()

    class Meta(ApprovalSerializer.Meta):
        fields = [*ApprovalSerializer.Meta.fields, "steps", "can_review", "refusal", "can_withdraw"]

    @extend_schema_field(ApprovalStepSerializer(many=True))
    def get_steps(self, obj: ApprovalRequest) -> Any:
        return ApprovalStepSerializer(self.context["detail"].steps, many=True).data

    def get_can_review(self, obj: ApprovalRequest) -> bool:
        return self.context["detail"].refusal is None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_refusal(self, obj: ApprovalRequest) -> str | None:
        refusal: str | None = self.context["detail"].refusal
        return refusal

    def get_can_withdraw(self, obj: ApprovalRequest) -> bool:
        return bool(self.context["detail"].can_withdraw)
