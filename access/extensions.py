"""What the access app adds to the instance page: who holds access now, the customer's
opt-out, and the "Request access" link. ``instances`` never imports this app."""

from __future__ import annotations

from typing import Any

from access.selectors import access_grants_active_on
from instances.models import Instance
from mi_admin.ui.extensions import INSTANCE_DETAIL, panel


@panel(INSTANCE_DETAIL, "access/_panel.html", order=50)
def access_panel(instance: Instance) -> dict[str, Any]:
    return {
        "access_instance": instance,
        "access_active": access_grants_active_on(instance=instance),
    }
