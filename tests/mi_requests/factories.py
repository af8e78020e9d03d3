"""A request written directly, for pages that only need one to exist (the authorization
matrix, the query baselines)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from instances.models import Instance
from mi_admin.accounts.models import User
from mi_requests.models import CustomerRequest


def make_request(requester: User, instance: Instance, **fields: Any) -> CustomerRequest:
    """A submitted suspension request of ``instance``."""
    now = timezone.now()
    values: dict[str, Any] = {
        "kind": "suspension",
        "requester": requester,
        "instance": instance,
        "customer": instance.customer,
        "summary": f"Suspension: {instance.slug}",
        "reason": "matrix",
        "submitted_at": now,
        "response_due_at": now + timedelta(hours=24),
    }
    values.update(fields)
    return CustomerRequest.objects.create(**values)
