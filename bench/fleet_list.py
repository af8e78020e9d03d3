"""Fleet list page vs Django admin's Instance changelist at 50, 500 and 5,000 instances.

Builds each fleet with history (operations with steps, audit events, 90 days of health
rollups per instance) in a dedicated PostgreSQL database, then measures the server time
(median of repeated requests through Django's test client, so no network) and the SQL
query count of the first page of each. Prints one table.
Run: `.venv/bin/python bench/fleet_list.py`.
"""

from __future__ import annotations

from functools import partial

from _setup import setup_django, timed

SIZES = (50, 500, 5000)


class QueryCounter:
    """Counts the SQL statements a request runs (Django's execute_wrapper hook)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)


REPEAT = 15


def add_health_history(instances: list) -> None:
    """90 days of daily uptime rollups and a current health state per instance: what the
    list's health columns read, at its real size (one row per instance per day)."""
    from datetime import timedelta

    from django.utils import timezone

    from health.models import HealthDaily, InstanceHealth

    now = timezone.now()
    today = now.date()
    InstanceHealth.objects.bulk_create(
        [InstanceHealth(instance=i, state="healthy", last_probe_at=now) for i in instances]
    )
    for start in range(0, len(instances), 500):
        HealthDaily.objects.bulk_create(
            [
                HealthDaily(
                    instance=instance,
                    day=today - timedelta(days=d),
                    samples=1440,
                    ok_samples=1440 - (d + instance.pk) % 7,
                )
                for instance in instances[start : start + 500]
                for d in range(90)
            ],
            batch_size=5000,
        )


def main() -> None:
    setup_django()
    from django.db import connection
    from django.test import Client

    from health.models import HealthDaily, InstanceHealth
    from instances.models import Customer, Instance, Operation, OperationStep
    from tests.fixtures.personas import make_persona
    from tests.instances.factories import make_fleet

    devops, admin = make_persona("devops"), make_persona("admin")
    web, staff = Client(), Client()
    web.force_login(devops)
    staff.force_login(admin)
    pages = {
        "fleet list": (web, "/instances/"),
        "admin changelist": (staff, "/admin/instances/instance/"),
    }

    rows = []
    for size in SIZES:
        HealthDaily.objects.all().delete()
        InstanceHealth.objects.all().delete()
        OperationStep.objects.all().delete()
        Operation.objects.all().delete()
        Instance.objects.all().delete()
        Customer.objects.all().delete()
        fleet = make_fleet(size, with_history=True)
        add_health_history(fleet)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        for label, (client, url) in pages.items():
            response = client.get(url)
            assert response.status_code == 200, (label, response.status_code)
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                client.get(url)
            ms = timed(partial(client.get, url), repeat=REPEAT)
            rows.append((size, label, ms, counter.count))

    print(f"{'instances':>9}  {'page':<17} {'median ms':>9}  {'queries':>7}")
    for size, label, ms, count in rows:
        print(f"{size:>9}  {label:<17} {ms:>9.1f}  {count:>7}")
    by = {(size, label): ms for size, label, ms, _ in rows}
    ratio = by[(5000, "fleet list")] / by[(50, "fleet list")]
    vs_admin = by[(5000, "fleet list")] / by[(5000, "admin changelist")]
    print(f"\nfleet list 5,000 / 50: {ratio:.2f}x (goal <= 2x)")
    print(f"fleet list / admin changelist at 5,000: {vs_admin:.2f}x (goal <= 1x)")


if __name__ == "__main__":
    main()
