"""What the instances app adds to the UI shell's dashboard (imported by
``InstancesConfig.ready``): the fleet's counts by lifecycle state and drift."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from instances.selectors import fleet_summary
from mi_admin.accounts.roles import Perm
from mi_admin.ui.extensions import DASHBOARD, widget


@widget(DASHBOARD, "instances/_fleet_summary.html", perm=Perm.VIEW_FLEET, order=20)
def fleet_counts(request: HttpRequest) -> dict[str, Any]:
    return {"fleet": fleet_summary()}
