"""``manage.py seed_demo``: the demo fleet in the database and in the fleet simulator."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fleetsim.client import FleetSimClient
from instances.demo import demo_fleet_create, demo_fleet_load_simulator
from instances.models import Instance
from instances.services.inventory import fleet_sync


class Command(BaseCommand):
    help = "Create a realistic demo fleet and load it into the fleet simulator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Only create the fleet if there are no instances yet (make run).",
        )
        parser.add_argument("--fleetsim-url", default=settings.FLEETSIM_URL)

    def handle(self, *args: Any, **options: Any) -> None:
        sim_url: str = options["fleetsim_url"]
        if not sim_url:
            raise CommandError("No fleet simulator: set FLEETSIM_URL or pass --fleetsim-url.")
        if Instance.objects.exists():
            if not options["if_empty"]:
                raise CommandError("The database already has instances; use --if-empty.")
            self.stdout.write("Instances exist; reloading the simulator only.")
        else:
            fleet = demo_fleet_create(base_url=sim_url)
            self.stdout.write(
                f"Created {fleet.customers} customers, {fleet.instances} instances, "
                f"{fleet.releases} releases."
            )
        with FleetSimClient(sim_url) as sim:
            if not sim.ping():
                raise CommandError(f"The fleet simulator at {sim_url} does not answer.")
            loaded = demo_fleet_load_simulator(sim=sim)
        self.stdout.write(f"Loaded {loaded} VMs into the simulator at {sim_url}.")
        report = fleet_sync()
        self.stdout.write(f"Inventory sync: {report.summary()}.")
