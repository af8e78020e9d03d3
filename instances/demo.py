"""A realistic demo fleet: the test instances, ~40 customers, monthly and patch releases.

Used by ``manage.py seed_demo`` (and so by ``make run``). Deterministic (seeded random), with
dates relative to now so that some instances are always behind the newest release. The same
fleet is loaded into the fleet simulator, with a little drift on purpose.
"""

from __future__ import annotations

import logging
import random
import zlib
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from fleetsim.client import FleetSimClient
from idp import subject_for
from instances.choices import (
    Architecture,
    InstanceKind,
    LifecycleState,
    NetworkAccess,
    ReleaseKind,
    Size,
    UpgradeRing,
)
from instances.models import Customer, Instance, Release
from instances.services.provisioning import trial_default_end
from mi_admin.audit.services import audit_record

logger = logging.getLogger(__name__)

# (version, kind, days before now)
RELEASES = [
    ("6.6.0", ReleaseKind.MONTHLY, 104),
    ("6.7.0", ReleaseKind.MONTHLY, 76),
    ("6.8.0", ReleaseKind.MONTHLY, 47),
    ("6.8.1", ReleaseKind.PATCH, 33),
    ("6.9.0", ReleaseKind.MONTHLY, 19),
    ("6.9.1", ReleaseKind.PATCH, 4),
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Wonka",
    "Oscorp",
    "Aperture",
    "Black Mesa",
    "Vandelay",
    "Pied Piper",
    "Massive Dynamic",
    "Gringotts",
    "Monarch",
    "Dunder Mifflin",
    "Prestige",
    "Blue Sun",
    "Nakatomi",
    "Virtucon",
    "Gekko",
    "Sterling Cooper",
    "Bluth",
    "Krusty",
    "Duff",
    "Los Pollos",
    "Paper Street",
    "Weyland",
    "Rekall",
    "Ollivanders",
    "Buy n Large",
    "InGen",
    "Octan",
    "Zorg",
    "Spacely",
    "Cogswell",
]
# The IdP persona who owns a third of the demo customers ("My customers").
DEMO_CE = "ce"
REGIONS = ["AMER", "EMEA", "APAC"]
MACHINE_TYPES = {
    Size.SMALL: "n2-standard-8",
    Size.MEDIUM: "n2-standard-16",
    Size.LARGE: "n2-standard-32",
}


@dataclass(frozen=True)
class DemoFleet:
    customers: int
    instances: int
    releases: int


def _slugify(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def _window(slug: str, kind: str) -> dict[str, Any]:
    """Most production instances have a weekly maintenance window (UTC), derived from the
    slug so the seeded fleet stays the same; trials and test instances have none."""
    if kind != InstanceKind.PRODUCTION:
        return {}
    pick = zlib.crc32(slug.encode())
    if pick % 4 == 0:
        return {}
    weekend = pick % 3 == 0
    return {
        # Saturday and Sunday, or one weeknight (bit d = weekday d).
        "maintenance_days": 0b1100000 if weekend else 1 << (pick % 5),
        "maintenance_start": time(hour=(pick >> 4) % 24),
        "maintenance_minutes": 240 if weekend else 120,
    }


def _instance(
    customer: Customer,
    slug: str,
    *,
    kind: str,
    arch: str,
    version: str,
    state: str = LifecycleState.ACTIVE,
    ring: str = UpgradeRing.GENERAL,
    size: str = Size.SMALL,
    base_url: str,
) -> Instance:
    deployment = "red"
    allowlisted = slug.endswith("-prod") and len(slug) % 3 == 0
    # Active trials went live 5-34 days ago: a few ended, some are due for a decision.
    went_live = None
    if kind == InstanceKind.TRIAL and state == LifecycleState.ACTIVE:
        went_live = timezone.now() - timedelta(days=5 + len(slug) * 7 % 30)
    return Instance(
        customer=customer,
        slug=slug,
        url=f"{base_url}/i/{slug}",
        kind=kind,
        architecture=arch,
        size=size,
        state=state,
        upgrade_ring=ring,
        desired_version=version,
        gcp_project=f"sourcegraph-managed-{slug}",
        gcp_zone="us-central1-f",
        vm_name=f"default-{deployment}-instance",
        data_disk=f"default-{deployment}-data-disk" if arch == Architecture.V1_0 else "",
        # A v1.1 deployment keeps its data in Cloud SQL (what its upgrade backs up).
        cloud_sql_instance=f"{slug}-pgsql" if arch == Architecture.V1_1 else "",
        **_window(slug, kind),
        machine_type=MACHINE_TYPES[Size(size)],
        network_access=NetworkAccess.ALLOWLIST if allowlisted else NetworkAccess.PUBLIC_SSO,
        # Documentation ranges (RFC 5737): a corporate VPN egress and an office.
        allowed_cidrs=["198.51.100.0/24", "203.0.113.16/28"] if allowlisted else [],
        went_live_at=went_live,
        trial_ends_on=trial_default_end(went_live_at=went_live) if went_live else None,
    )


def _build_fleet(base_url: str) -> tuple[list[Customer], list[tuple[Customer, dict[str, Any]]]]:
    rng = random.Random(20261124)  # noqa: S311 (demo data, not security)
    versions = [v for v, _k, _d in RELEASES]
    internal = Customer(name="Sourcegraph (internal)", slug="sourcegraph", region="AMER")
    customers = [internal]
    specs: list[tuple[Customer, dict[str, Any]]] = [
        (
            internal,
            {
                "slug": "dev",
                "kind": InstanceKind.INTERNAL,
                "arch": Architecture.V1_0,
                "version": versions[-1],
                "ring": UpgradeRing.TEST,
            },
        ),
        (
            internal,
            {
                "slug": "demo",
                "kind": InstanceKind.INTERNAL,
                "arch": Architecture.V1_0,
                "version": versions[-1],
                "ring": UpgradeRing.TEST,
            },
        ),
        (
            internal,
            {
                "slug": "rctest",
                "kind": InstanceKind.INTERNAL,
                "arch": Architecture.V1_1,
                "version": versions[-1],
                "ring": UpgradeRing.TEST,
            },
        ),
    ]
    for index, company in enumerate(COMPANIES):
        customer = Customer(name=company, slug=_slugify(company), region=REGIONS[index % 3])
        customers.append(customer)
        # Newer customers are on v1.1 (the default since 2022); most are a release behind.
        arch = Architecture.V1_1 if rng.random() < 0.6 else Architecture.V1_0
        version = rng.choices(versions[-4:], weights=[1, 2, 4, 5])[0]
        kinds = [InstanceKind.PRODUCTION] if rng.random() < 0.7 else [InstanceKind.TRIAL]
        if kinds == [InstanceKind.PRODUCTION] and rng.random() < 0.25:
            kinds.append(InstanceKind.TRIAL)
        for kind in kinds:
            suffix = "prod" if kind == InstanceKind.PRODUCTION else "trial"
            state = LifecycleState.ACTIVE
            roll = rng.random()
            if roll < 0.05:
                state = LifecycleState.SUSPENDED
            elif roll < 0.07:
                state = LifecycleState.PROVISIONING
            specs.append(
                (
                    customer,
                    {
                        "slug": f"{customer.slug}-{suffix}",
                        "kind": kind,
                        "arch": arch,
                        "version": version,
                        "state": state,
                        "ring": UpgradeRing.CANARY if index % 10 == 0 else UpgradeRing.GENERAL,
                        "size": rng.choice(list(Size)),
                    },
                )
            )
    return customers, specs


def _demo_ce() -> Any:
    """The IdP's CE persona as MI Admin knows them (matched on the IdP's stable ``sub`` at
    their first login), so the demo's customers can have an owning CE before anyone signs
    in. Their roles still come from the IdP's groups at login."""
    user, _ = get_user_model().objects.get_or_create(
        oidc_sub=subject_for(DEMO_CE),
        defaults={"username": f"{DEMO_CE}@example.com", "email": f"{DEMO_CE}@example.com"},
    )
    return user


@transaction.atomic
def demo_fleet_create(*, base_url: str) -> DemoFleet:
    """Create the demo releases, customers and instances in the database."""
    now = timezone.now()
    Release.objects.bulk_create(
        [Release(version=v, kind=k, released_at=now - timedelta(days=d)) for v, k, d in RELEASES]
    )
    customers, specs = _build_fleet(base_url)
    ce = _demo_ce()
    for index, customer in enumerate(customers):
        if index % 3 == 1:  # a third of the customers, so "My customers" narrows the fleet
            customer.owner_ce = ce
    Customer.objects.bulk_create(customers)
    by_slug = {c.slug: c for c in Customer.objects.all()}
    rows = [
        _instance(by_slug[customer.slug], base_url=base_url, **spec) for customer, spec in specs
    ]
    Instance.objects.bulk_create(rows)
    audit_record(
        action="demo.seeded",
        actor_label="seed_demo",
        after={"customers": len(customers), "instances": len(rows), "releases": len(RELEASES)},
    )
    return DemoFleet(len(customers), len(rows), len(RELEASES))


def _vm_version(instance: Instance) -> str:
    # What the VM last reported (probe, then inventory sync) is what it runs; the desired
    # version only stands in before the first sync of a freshly seeded fleet. So a restart
    # of the demo never "upgrades" a VM to a version nobody ran an upgrade for.
    return instance.observed_version or instance.vm_version or instance.desired_version


def demo_fleet_load_simulator(*, sim: FleetSimClient) -> int:
    """Put every instance that should have a VM into the simulator, running the version it
    last reported, with two deliberate drifts (one VM stopped, one missing) for the
    dashboard to find."""
    specs = []
    instances = Instance.objects.exclude(
        state__in=[LifecycleState.TORN_DOWN, LifecycleState.REQUESTED]
    ).order_by("pk")
    active_customer_prods = [
        i.slug
        for i in instances
        if i.kind == InstanceKind.PRODUCTION and i.state == LifecycleState.ACTIVE
    ]
    stopped = set(active_customer_prods[3:4])
    missing = set(active_customer_prods[7:8])
    for instance in instances:
        if instance.slug in missing:
            continue
        running = instance.state == LifecycleState.ACTIVE and instance.slug not in stopped
        specs.append(
            {
                "slug": instance.slug,
                "project": instance.gcp_project,
                "zone": instance.gcp_zone,
                "name": instance.vm_name,
                "machine_type": instance.machine_type,
                "status": "RUNNING" if running else "TERMINATED",
                "version": _vm_version(instance),
                "data_disk": instance.data_disk or f"{instance.vm_name}-data",
                "sql_instance": instance.cloud_sql_instance,
            }
        )
    sim.upsert_instances(specs)
    logger.info("loaded %s instances into the fleet simulator", len(specs))
    return len(specs)
