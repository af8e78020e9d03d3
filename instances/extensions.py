"""What the instances app adds to shared pages (imported by ``InstancesConfig.ready``): the
fleet's counts by lifecycle state and drift on the dashboard; the provisioning checklist
and the owner/trial panel on its own instance page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from instances.models import Instance
from instances.provisioning_selectors import (
    owner_choices,
    provisioning_checklist,
    trial_view,
)
from instances.selectors import fleet_summary, my_customers_exist, my_customers_summary
from mi_admin.accounts.roles import Perm, Role
from mi_admin.ui.extensions import DASHBOARD, INSTANCE_DETAIL, landing, panel, widget


# A CE's work is their customers: `/` (where signing in ends) opens the fleet list with
# "My customers" on. A CE who owns nothing yet stays on the dashboard, not on an empty list.
@landing(Role.CE)
def ce_my_customers(request: HttpRequest) -> str | None:
    if not my_customers_exist(user=request.user):
        return None
    return reverse("instances:instance_list") + "?mine=true"


# First on the dashboard: a CE's day starts with their own customers (empty for others).
@widget(DASHBOARD, "instances/_my_customers.html", perm=Perm.VIEW_FLEET, order=1)
def my_customers(request: HttpRequest) -> dict[str, Any]:
    return {"mine": my_customers_summary(user=request.user)}


@widget(DASHBOARD, "instances/_fleet_summary.html", perm=Perm.VIEW_FLEET, order=20)
def fleet_counts(request: HttpRequest) -> dict[str, Any]:
    return {"fleet": fleet_summary()}


@panel(INSTANCE_DETAIL, "instances/_provisioning_panel.html", order=5)
def provisioning_panel(instance: Instance) -> dict[str, Any]:
    return {"checklist": provisioning_checklist(instance=instance)}


@panel(INSTANCE_DETAIL, "instances/_trial_panel.html", order=6)
def trial_panel(instance: Instance) -> dict[str, Any]:
    # owner_choices is lazy: only the owner form (DevOps, Admins) reads it.
    return {
        "trial": trial_view(instance=instance, today=timezone.localdate()),
        "owner_choices": owner_choices(),
    }
