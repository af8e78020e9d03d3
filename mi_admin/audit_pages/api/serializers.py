"""An audit event as the API returns it: the columns of the CSV export."""

from __future__ import annotations

from rest_framework import serializers

from mi_admin.audit.models import AuditEvent
from mi_admin.audit_pages.exports import COLUMNS


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = COLUMNS
