"""The audit trail's block on the dashboard: the last ten events (imported by
``AuditPagesConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from mi_admin.accounts.roles import Perm
from mi_admin.audit.models import AuditEvent
from mi_admin.ui.extensions import DASHBOARD, widget

RECENT = 10


@widget(DASHBOARD, "audit/_recent.html", perm=Perm.VIEW_AUDIT, order=90)
def recent_events(request: HttpRequest) -> dict[str, Any]:
    return {"recent_events": list(AuditEvent.objects.order_by("-id")[:RECENT])}
