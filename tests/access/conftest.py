"""Helpers of the access tests: an instance in the database and its VM in the simulator,
the seeded levels, requests filed as the devops persona, and bounded waits on state."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection

from access.models import AccessGrant, AccessLevel
from access.services import access_grant_request
from fleetsim.client import FleetSimClient
from instances import gcp
from instances.gcp.models import IamBinding
from instances.models import Instance
from mi_admin.accounts.models import User
from tests.instances.factories import make_simulated_instance

SSH = "SSH (OS Login)"
VM_ADMIN = "VM admin"
SITE_ADMIN = "Site admin"


def seed_access_levels() -> None:
    """The data migrations' rows: a transactional test's flush removed them, so they are
    put back the way the migrations made them (the same functions)."""
    for module in (
        "mi_admin.approvals.migrations.0002_default_manager_policy",
        "access.migrations.0002_seed_levels",
        "access.migrations.0005_seed_site_admin_level",
    ):
        importlib.import_module(module).create(apps, connection.schema_editor())


@pytest.fixture(autouse=True)
def seeded_levels(db: None) -> None:
    seed_access_levels()


def make_instance(slug: str = "acme-prod", *, opted_out: bool = False) -> Instance:
    return make_simulated_instance(slug, management_access_opt_out=opted_out)


def sim_vm(sim: FleetSimClient, instance: Instance) -> None:
    sim.upsert_instances(
        [
            {
                "slug": instance.slug,
                "project": instance.gcp_project,
                "zone": instance.gcp_zone,
                "name": instance.vm_name,
            }
        ]
    )


def level(name: str = SSH) -> AccessLevel:
    return AccessLevel.objects.get(name=name)


def request_grant(
    requester: User,
    instance: Instance,
    *,
    level_name: str = SSH,
    duration: timedelta = timedelta(minutes=30),
    justification: str = "Customer ticket: disk full",
    **kwargs: object,
) -> AccessGrant:
    return access_grant_request(
        requester=requester,
        instance=instance,
        level=level(level_name),
        justification=justification,
        duration=duration,
        **kwargs,  # type: ignore[arg-type]
    )


def bindings_of(instance: Instance, grant: AccessGrant) -> list[IamBinding]:
    """The VM policy's bindings naming this grant's member under this grant's condition."""
    policy = gcp.vm_iam_policy_get(
        project=instance.gcp_project, zone=instance.gcp_zone, name=instance.vm_name
    )
    return [
        b
        for b in policy.bindings
        if grant.member in b.members
        and b.condition is not None
        and b.condition.title == grant.condition_title
    ]


def wait_until(condition: Callable[[], bool], *, what: str, seconds: float = 30) -> None:
    """A bounded poll of the database or the simulator (state, not time, is asserted)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached within {seconds:.0f} s: {what}")


def grant_state(grant: AccessGrant) -> str:
    grant.refresh_from_db()
    return grant.state
