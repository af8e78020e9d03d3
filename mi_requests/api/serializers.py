"""What the requests API returns and accepts. Instances and customers are named by slug;
a request's timeline and SLA clocks come with its detail (its list rows carry the clocks)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mi_requests.actions import HANDLER_ACTIONS, REQUESTER_ACTIONS
from mi_requests.choices import RequestKind
from mi_requests.models import CustomerRequest, RequestEvent


class ClockSerializer(serializers.Serializer):
    label = serializers.CharField()
    due = serializers.DateTimeField(allow_null=True)
    state = serializers.CharField(help_text="an SLA state, or paused / not started / none")
    note = serializers.CharField(allow_blank=True)
    used = serializers.FloatField(allow_null=True, help_text="share of the resolution time")


class RequestSerializer(serializers.ModelSerializer):
    instance = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    customer = serializers.SerializerMethodField()
    requester = serializers.CharField(source="requester.username", read_only=True)
    handler = serializers.SerializerMethodField()
    clocks = serializers.SerializerMethodField()

    class Meta:
        model = CustomerRequest
        fields = [
            "id",
            "kind",
            "state",
            "summary",
            "reason",
            "instance",
            "customer",
            "requester",
            "handler",
            "submitted_at",
            "acknowledged_at",
            "approved_at",
            "closed_at",
            "response_due_at",
            "resolution_due_at",
            "clocks",
        ]

    def get_customer(self, obj: CustomerRequest) -> str:
        return obj.customer.name if obj.customer else obj.new_customer_name

    def get_handler(self, obj: CustomerRequest) -> str | None:
        return obj.handler.username if obj.handler else None

    @extend_schema_field(ClockSerializer(many=True))
    def get_clocks(self, obj: CustomerRequest) -> list[dict[str, Any]]:
        clocks = self.context.get("clocks", {}).get(obj.pk, [])
        return ClockSerializer(clocks, many=True).data


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = RequestEvent
        fields = ["at", "actor", "action", "from_state", "to_state", "comment"]

    def get_actor(self, obj: RequestEvent) -> str | None:
        return obj.actor.username if obj.actor else None


class RequestDetailSerializer(RequestSerializer):
    details = serializers.JSONField(read_only=True)
    events = serializers.SerializerMethodField()
    actions = serializers.SerializerMethodField()

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "details", "events", "actions"]

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, obj: CustomerRequest) -> list[dict[str, Any]]:
        return EventSerializer(self.context["events"], many=True).data

    def get_actions(self, obj: CustomerRequest) -> list[str]:
        """What the caller may do now (``POST .../act/``)."""
        return sorted(self.context["actions"])


class RequestInput(serializers.Serializer):
    """The intake form of ``kind``, as JSON: its fields are validated by the same form as
    the page (``mi_requests/forms.py``), so the API files exactly what the page files."""

    kind = serializers.ChoiceField(choices=RequestKind.choices)
    instance = serializers.SlugField(
        max_length=63, required=False, help_text="the instance's slug (instance kinds)"
    )
    reason = serializers.CharField(max_length=5000, required=False, allow_blank=True)

    class Meta:
        # The kind's other form fields (customer, new_customer_name, size, ...) pass through.
        ref_name = "RequestInput"


ACTIONS = sorted({*HANDLER_ACTIONS, *REQUESTER_ACTIONS})


class ActInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=[(name, name) for name in ACTIONS])
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    typed_name = serializers.CharField(
        max_length=63, required=False, allow_blank=True, help_text="run a teardown: its slug"
    )
    slug = serializers.SlugField(
        max_length=63, required=False, allow_blank=True, help_text="provision: the new slug"
    )
