"""The audit trail's block on the dashboard: the last ten events (registered in
``AuditConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from mi_admin.accounts.roles import Perm
from mi_admin.audit.models import AuditEvent
from mi_admin.ui import extensions

RECENT = 10


def _recent(request: HttpRequest) -> dict[str, Any]:
    return {"recent_events": list(AuditEvent.objects.order_by("-id")[:RECENT])}


def register() -> None:
    extensions.register_widget(
        extensions.DASHBOARD,
        extensions.Widget(
            name="audit",
            template="audit/_recent.html",
            load=_recent,
            perm=Perm.VIEW_AUDIT,
            order=90,
        ),
    )
