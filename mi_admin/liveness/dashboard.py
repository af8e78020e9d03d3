"""The "Control plane" block on the dashboard (imported by ``LivenessConfig.ready``): when a
worker last answered and when each periodic task last ran, overdue ones flagged. Shown to
everyone with a role: whoever reads health states should know when they stopped updating."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from mi_admin.accounts.roles import Perm
from mi_admin.liveness.selectors import periodic_runs_list, workers_answered
from mi_admin.ui.extensions import DASHBOARD, widget


@widget(DASHBOARD, "liveness/_control_plane.html", perm=Perm.VIEW_FLEET, order=80)
def control_plane(request: HttpRequest) -> dict[str, Any]:
    now = timezone.now()
    runs = periodic_runs_list(now=now)
    return {
        "liveness": {
            "workers": workers_answered(now=now),
            "runs": runs,
            "overdue": sum(run.overdue for run in runs),
        }
    }
