"""What the instances app adds to the UI shell's dashboard (registered in
``InstancesConfig.ready``): the fleet's counts by lifecycle state and drift."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from instances.selectors import fleet_summary
from mi_admin.accounts.roles import Perm
from mi_admin.ui import extensions


def _fleet(request: HttpRequest) -> dict[str, Any]:
    return {"fleet": fleet_summary()}


def register() -> None:
    extensions.register_widget(
        extensions.DASHBOARD,
        extensions.Widget(
            name="fleet",
            template="instances/_fleet_summary.html",
            load=_fleet,
            perm=Perm.VIEW_FLEET,
            order=20,
        ),
    )
