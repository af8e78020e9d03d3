"""A small fleet for rollouts: the test instances (v1.0 ``dev`` and ``demo``, v1.1
``rctest``), two trials and three production instances, all on 6.9.1, with 6.10.0 out."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.client import FleetSimClient
from instances.choices import Architecture, LifecycleState
from instances.models import Customer, Instance, Release

FROM, TO = "6.9.1", "6.10.0"
# slug -> (kind, architecture)
FLEET = {
    "dev": ("internal", Architecture.V1_0),
    "demo": ("internal", Architecture.V1_0),
    "rctest": ("internal", Architecture.V1_1),
    "trial-a": ("trial", Architecture.V1_0),
    "trial-b": ("trial", Architecture.V1_0),
    "prod-a": ("production", Architecture.V1_0),
    "prod-b": ("production", Architecture.V1_0),
    "prod-c": ("production", Architecture.V1_0),
}


def make_releases() -> Release:
    for i, version in enumerate(["6.8.0", FROM, TO]):
        # 2026-03-05 is a Thursday: 6.10.0's version-SLA deadline is 2026-03-12 12:00.
        Release.objects.get_or_create(
            version=version, defaults={"released_at": f"2026-0{i + 1}-05T12:00:00Z"}
        )
    return Release.objects.get(version=TO)


def make_fleet_extra(sim: FleetSimClient, slugs: list[str]) -> list[Instance]:
    """More v1.0 production instances, created after a rollout was planned (not in it)."""
    fleet = dict.fromkeys(slugs, ("production", str(Architecture.V1_0)))
    return list(make_fleet(sim, fleet=fleet).values())


def make_fleet(
    sim: FleetSimClient | None,
    fleet: dict[str, tuple[str, str]] | None = None,
    **health: str,
) -> dict[str, Instance]:
    """The fleet above, registered in the simulator when one is given; ``health`` sets a
    simulator health mode per slug (e.g. ``prod_a="bad_release"``)."""
    customer, _ = Customer.objects.get_or_create(slug="acme", defaults={"name": "Acme"})
    made, vms = {}, []
    for slug, (kind, architecture) in (fleet or FLEET).items():
        made[slug] = Instance.objects.create(
            customer=customer,
            slug=slug,
            url=sim.instance_url(slug) if sim else f"https://{slug}.example.com",
            kind=kind,
            architecture=architecture,
            state=LifecycleState.ACTIVE,
            gcp_project=f"sourcegraph-managed-{slug}",
            vm_name="default-red-instance",
            data_disk="default-red-data-disk",
            observed_version=FROM,
            vm_version=FROM,
        )
        vm: dict[str, Any] = {
            "slug": slug,
            "project": f"sourcegraph-managed-{slug}",
            "name": "default-red-instance",
            "version": FROM,
            "reconcile_delay": 0.2,
            "health_mode": health.get(slug.replace("-", "_"), "ok"),
        }
        vms.append(vm)
    if sim is not None:
        sim.upsert_instances(vms)
    return made


@pytest.fixture
def release(db: None) -> Release:
    return make_releases()
