"""Queues that cannot starve each other: with one worker per queue (the entrypoint's
``worker --queues <role>``), a health sweep completes while the operations queue is full of
slow work. The operations are slow for real: the fleet simulator answers every VM read
after several seconds, and the operations worker runs one at a time.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from celery import Celery
from django.utils import timezone

from fleetsim.client import FleetSimClient
from health.models import HealthSample
from instances.choices import OperationKind, OperationState
from instances.models import Instance, Operation
from instances.services.operations import operation_create
from tests.deploy.stack import LOGS, EntrypointStack, RedisServer, wait_for
from tests.fixtures.celery_worker import _database_url
from tests.instances.factories import make_simulated_instance

ROLES = ("default", "probes", "operations", "alerts")
SLOW_OPERATIONS = 8
VM_READ_SECONDS = 6.0


@pytest.fixture
def queue_stack(transactional_db: None, fleetsim: FleetSimClient) -> Iterator[EntrypointStack]:
    LOGS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mi-queues-"))
    server = RedisServer(workdir)
    server.start()
    stack = EntrypointStack(
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": server.url,
            "CELERY_QUEUE": f"queues-{uuid.uuid4().hex[:8]}",
            "GCP_COMPUTE_ENDPOINT": fleetsim.compute_endpoint,
            "GCP_ANONYMOUS_CREDENTIALS": "1",
            "FLEETSIM_URL": fleetsim.base_url,
            "CELERY_POOL": "threads",
            "CELERY_CONCURRENCY": "1",
            "OPERATION_DISPATCH_SECONDS": "1",
            "HEALTH_SWEEP_SECONDS": "2",
            "INVENTORY_SYNC_SECONDS": "3600",
        }
    )
    stack.redis = server
    try:
        yield stack
    finally:
        stack.kill_all()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _not_this_broker(*_: object) -> None:
    # The test process publishes to the suite's broker, not the stack's: leave the row
    # unsent, for the stack's dispatcher to send through the routes.
    raise ConnectionError("not this broker")


def _answers(stack: EntrypointStack, control: Celery, role: str) -> bool:
    stack.alive(f"worker-{role}")
    # The entrypoint names a worker after its roles: <roles>@<host>.
    return bool(control.control.ping(destination=[f"{role}@{socket.gethostname()}"], timeout=0.5))


def test_sweep_completes_while_operations_queue_is_full(
    queue_stack: EntrypointStack, fleetsim: FleetSimClient
) -> None:
    stack = queue_stack
    server = stack.redis
    assert server is not None
    base = stack.env["CELERY_QUEUE"]
    # given a fleet whose VM reads take seconds, and one sync operation per instance, not
    # sent yet (the dispatcher sends them, through the routes, once beat runs)
    slugs = [f"slow-{n}" for n in range(SLOW_OPERATIONS)]
    fleetsim.upsert_instances(
        [
            {
                "slug": slug,
                "project": f"sourcegraph-managed-{slug}",
                "zone": "us-central1-a",
                "name": "default-red-instance",
                "status": "RUNNING",
                "version": "6.9.1",
            }
            for slug in slugs
        ]
    )
    fleetsim.set_fault("compute.instances.get", latency=VM_READ_SECONDS)
    instances = [
        make_simulated_instance(slug, url=fleetsim.instance_url(slug), gcp_zone="us-central1-a")
        for slug in slugs
    ]
    operations = [
        operation_create(
            kind=OperationKind.SYNC,
            actor=None,
            instance=instance,
            enqueue=_not_this_broker,
        )[0]
        for instance in instances
    ]
    # and one worker per queue, started by the entrypoint, one task at a time each
    control = Celery("queues-control", broker=server.url, set_as_current=False)
    try:
        for role in ROLES:
            stack.spawn(f"worker-{role}", "worker", "--queues", role)
        for role in ROLES:
            wait_for(f"the {role} worker to answer", partial(_answers, stack, control, role))

        # when beat starts: the dispatcher fills the operations queue, the sweep is due
        stack.spawn("beat", "beat")
        ids = [op.pk for op in operations]
        wait_for(
            "the dispatcher to send every operation",
            lambda: (
                stack.alive("beat")
                and Operation.objects.filter(pk__in=ids, dispatched_at__isnull=True).count() == 0
            ),
            seconds=60,
        )
        filled_at = timezone.now()

        # then a sweep probes the whole fleet after that...
        def swept() -> bool:
            stack.alive("worker-probes")
            probed = (
                HealthSample.objects.filter(instance__in=instances, probed_at__gte=filled_at)
                .values("instance")
                .distinct()
                .count()
            )
            return probed == len(instances)

        wait_for("a sweep of the whole fleet", swept, seconds=40, every=0.2)

        # ...while most of the slow operations have not even started
        waiting = Operation.objects.filter(pk__in=ids, started_at__isnull=True).count()
        queued = server.client().llen(f"{base}.operations")
    finally:
        control.close()

    assert waiting >= SLOW_OPERATIONS // 2, f"only {waiting} operations still waiting"
    assert queued >= 1, "the operations queue emptied before the sweep was seen"
    assert Operation.objects.filter(pk__in=ids, state=OperationState.SUCCEEDED).count() < len(ids)
    assert Instance.objects.filter(pk__in=[i.pk for i in instances]).count() == SLOW_OPERATIONS
