"""Fixtures of the fleet tests."""

from __future__ import annotations

import pytest

from instances.choices import Drift, NetworkAccess
from tests.instances.factories import make_instance, make_releases


@pytest.fixture
def acme(db):
    make_releases()
    return make_instance(
        "acme-prod",
        network_access=NetworkAccess.ALLOWLIST,
        allowed_cidrs=["203.0.113.0/24", "198.51.100.7/32"],
        gcp_project="mi-acme-prod",
        gcp_zone="europe-west1-b",
        vm_name="acme-vm",
        data_disk="acme-data",
        machine_type="n2-standard-16",
        vm_machine_type="n2-standard-8",
        vm_status="TERMINATED",
        vm_internal_ip="10.0.0.5",
        desired_version="5.9.0",
        observed_version="5.8.0",
        vm_version="5.8.0",
        drift=Drift.VM_STOPPED,
        drift_detail="VM is TERMINATED while the instance is active.",
    )
