"""What the access app adds to shared pages: on the instance page, who holds access now,
the customer's opt-out, and the "Request access" link; on an approval request's page
(when it is about a grant or its extension), the review context. ``instances`` and the
approval engine never import this app."""

from __future__ import annotations

from typing import Any

from access.selectors import (
    access_grant_for_approval,
    access_grants_active_on,
    access_review_context,
)
from access.services import EXTENSION_KIND
from instances.models import Instance
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.ui.extensions import (
    APPROVAL_DETAIL,
    INSTANCE_DETAIL,
    INSTANCE_LIST,
    columns_for,
    panel,
)


@panel(INSTANCE_DETAIL, "access/_panel.html", order=50)
def access_panel(instance: Instance) -> dict[str, Any]:
    return {
        "access_instance": instance,
        "access_active": access_grants_active_on(instance=instance),
    }


@panel(APPROVAL_DETAIL, "access/_review_panel.html", order=10)
def access_review_panel(request: ApprovalRequest) -> dict[str, Any] | None:
    """Requester, instance (customer, kind, and its health through whatever the fleet
    list's columns show: the health app registers those), level and roles, justification,
    ticket, the requester's grants in the last 90 days, who else has access now."""
    grant = access_grant_for_approval(request=request)
    if grant is None:
        return None
    return {
        "review_grant": grant,
        "review_is_extension": request.subject_kind == EXTENSION_KIND,
        "review_instance_columns": columns_for(INSTANCE_LIST, [grant.instance_id]),
        **access_review_context(grant=grant),
    }
