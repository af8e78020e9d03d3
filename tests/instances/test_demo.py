"""The demo fleet in the fleet simulator: a restart loads what each VM last ran."""

from __future__ import annotations

import pytest

from instances.demo import demo_fleet_load_simulator
from tests.instances.factories import make_instance

pytestmark = pytest.mark.django_db


def test_restart_loads_the_version_each_vm_last_reported(fleetsim):
    # given an instance that reported 6.8.0 while 6.9.1 is wanted (no upgrade ran), and a
    # freshly seeded one that never reported anything
    make_instance(
        "acme-prod", desired_version="6.9.1", observed_version="6.8.0", vm_version="6.8.0"
    )
    make_instance("globex-prod", desired_version="6.9.0")
    # when the demo restarts and loads the simulator
    demo_fleet_load_simulator(sim=fleetsim)
    # then the VM runs what it last reported; the seed's version only stands in for a new one
    assert fleetsim.get_instance("acme-prod")["version"] == "6.8.0"
    assert fleetsim.get_instance("globex-prod")["version"] == "6.9.0"
