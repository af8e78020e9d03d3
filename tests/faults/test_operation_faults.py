"""Real faults under real processes: the broker stopped, a worker SIGKILLed, ten clicks at
once, GCP failing for minutes, database connections dropped. Each test starts what it needs
from ``tests/faults/conftest.py`` and waits on state with bounded polls."""

from __future__ import annotations

import threading

import psycopg
import pytest

from instances.choices import OperationKind, OperationState, StepState
from instances.models import Instance, Operation
from instances.services.operations import operation_create
from mi_admin.audit.models import AuditEvent
from tests.faults.conftest import (
    LEASE_SECONDS,
    WEB_APP_NAME,
    Browser,
    Stack,
    operation_of,
    wait_for,
    web_database_url,
)
from tests.faults.stack_app import CONFIRM_STEP, STAND_IN, STOP_STEP
from tests.fixtures.celery_worker import _database_url
from tests.instances.factories import make_simulated_instance

pytestmark = pytest.mark.faults

GET = "compute.instances.get"


def _instance(stack: Stack, slug: str = "acme-prod") -> Instance:
    instance = make_simulated_instance(slug)
    stack.fleetsim.upsert_instances(
        [
            {
                "slug": slug,
                "project": instance.gcp_project,
                "zone": instance.gcp_zone,
                "name": instance.vm_name,
                "version": "6.9.1",
            }
        ]
    )
    return instance


def _broker_down(*_: object) -> None:
    # The test process publishes to the suite's broker, not the stack's: leave the row
    # unsent, for the stack's dispatcher to send (as after a broker outage).
    raise ConnectionError("not this broker")


def _finished(operation: Operation, seconds: float = 60) -> Operation:
    def done() -> Operation | None:
        operation.refresh_from_db()
        return operation if operation.finished_at is not None else None

    return wait_for(f"operation #{operation.pk} to finish", done, seconds=seconds)


def _audit_count(operation: Operation, action: str) -> int:
    return AuditEvent.objects.filter(action=action, object_id=str(operation.pk)).count()


def test_broker_down_request_is_kept_and_runs_once_when_it_is_back(stack, devops):
    # given the stack running (web, a worker, beat) and then its Redis stopped
    instance = _instance(stack)
    stack.start(workers=("worker-a",), beat=True)
    browser = Browser(stack.web_url, devops)
    key = browser.form_key(f"/instances/{instance.slug}/")
    stack.redis.stop()
    # when devops clicks "Sync now"
    response = browser.sync_now(instance.slug, key)
    # then the request is accepted and recorded, and the page says it waits for the queue
    operation = operation_of(response)
    page = browser.get(response.headers["location"])
    assert page.status_code == 200
    assert "it will start when the job queue is back" in page.text
    assert operation.state == OperationState.PENDING
    assert operation.dispatched_at is None
    assert _audit_count(operation, "operation.sync.requested") == 1
    # when the broker is back
    stack.redis.start()
    # then the dispatcher sends it and it runs exactly once
    operation = _finished(operation)
    assert operation.state == OperationState.SUCCEEDED
    assert operation.attempts == 1
    assert _audit_count(operation, "operation.sync.succeeded") == 1
    assert stack.fleetsim.calls(GET) == 1
    browser.close()


def test_worker_killed_mid_operation_is_resumed_by_one_other_worker(stack, devops):
    # given two workers and beat, and GCP answering the first VM read only after 20 s
    instance = _instance(stack)
    pids = stack.start(workers=("worker-a", "worker-b"), beat=True)
    stack.fleetsim.set_fault(GET, latency=20, count=1)
    browser = Browser(stack.web_url, devops)
    operation = operation_of(browser.sync_now(instance.slug))

    # when the worker running it is SIGKILLed while the read hangs
    def held() -> str:
        operation.refresh_from_db()
        return operation.lease_owner if stack.fleetsim.calls(GET) else ""

    owner = wait_for("a worker to be reading the VM", held)
    killed_pid = int(owner.split(":")[1])
    stack.kill(pids[killed_pid])

    # then within the lease (and a dispatch) the other worker resumes it and finishes it
    operation = _finished(operation, seconds=LEASE_SECONDS + 30)
    assert operation.state == OperationState.SUCCEEDED
    assert operation.attempts == 2
    assert int(operation.lease_owner.split(":")[1]) in set(pids) - {killed_pid}
    assert _audit_count(operation, "operation.sync.succeeded") == 1
    # the step the killed worker began was picked up, not logged twice
    steps = list(operation.steps.order_by("position").values_list("name", "state"))
    assert steps == [
        (f"Read VM {instance.vm_name} in {instance.gcp_project}", StepState.DONE),
        ("Update the inventory", StepState.DONE),
    ]
    # one read by the killed worker, one by the one that resumed: nothing else repeated
    assert stack.fleetsim.calls(GET) == 2
    changed = AuditEvent.objects.filter(action="instance.inventory_changed")
    assert changed.filter(object_id=str(instance.pk)).count() == 1
    browser.close()


def test_worker_killed_after_a_change_resumes_without_repeating_it(stack, devops):
    # given two workers and beat, and GCP answering the read that follows the VM's stop
    # only after 20 s
    instance = _instance(stack)
    pids = stack.start(web=False, workers=("worker-a", "worker-b"), beat=True)
    stack.fleetsim.set_fault(GET, latency=20, count=1)
    # when a change (stop the VM, then read it back) is requested; the outbox sends it
    operation, _ = operation_create(
        kind=OperationKind.SUSPEND,
        actor=devops,
        instance=instance,
        params=STAND_IN,
        enqueue=_broker_down,
    )

    # and the worker running it is SIGKILLed after the stop, while the read hangs
    def reading() -> str:
        operation.refresh_from_db()
        confirming = operation.steps.filter(name=CONFIRM_STEP, state=StepState.RUNNING)
        return operation.lease_owner if confirming and stack.fleetsim.calls(GET) else ""

    killed_pid = int(wait_for("a worker to read the VM back", reading).split(":")[1])
    stack.kill(pids[killed_pid])
    # then the other worker resumes it at the read, and the VM was stopped once
    operation = _finished(operation, seconds=LEASE_SECONDS + 30)
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert operation.attempts == 2
    assert int(operation.lease_owner.split(":")[1]) in set(pids) - {killed_pid}
    assert stack.fleetsim.calls("compute.instances.stop") == 1
    assert stack.fleetsim.calls(GET) == 2
    assert list(operation.steps.order_by("position").values_list("name", "state")) == [
        (STOP_STEP, StepState.DONE),
        (CONFIRM_STEP, StepState.DONE),
    ]
    assert operation.result == {"status": "TERMINATED"}
    assert _audit_count(operation, "operation.suspend.succeeded") == 1


def test_ten_simultaneous_clicks_make_one_operation(stack, devops):
    # given ten people's pages, each with its own form key
    instance = _instance(stack)
    stack.start()
    browsers = [Browser(stack.web_url, devops) for _ in range(10)]
    keys = [b.form_key(f"/instances/{instance.slug}/") for b in browsers]
    start = threading.Barrier(len(browsers))
    responses: list = [None] * len(browsers)

    def click(i: int) -> None:
        start.wait()
        responses[i] = browsers[i].sync_now(instance.slug, keys[i])

    # when all ten click "Sync now" at the same moment
    threads = [threading.Thread(target=click, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then there is one operation, and every click was sent to it
    operations = {operation_of(response).pk for response in responses}
    assert len(operations) == 1
    assert Operation.objects.filter(instance=instance, kind=OperationKind.SYNC).count() == 1
    assert AuditEvent.objects.filter(action="operation.sync.requested").count() == 1
    for browser in browsers:
        browser.close()


def test_gcp_failing_longer_than_the_old_budget_is_waited_out(stack, devops):
    # given GCP answering 503 to the next 32 VM reads: 8 attempts of 4 reads each, where the
    # old budget gave up after 5 retries (6 attempts)
    instance = _instance(stack)
    stack.start(workers=("worker-a",), beat=True)
    stack.fleetsim.set_fault(GET, status=503, count=32)
    browser = Browser(stack.web_url, devops)
    # when a sync is requested
    operation = operation_of(browser.sync_now(instance.slug))
    # then the operation page says it is waiting for GCP while it does
    location = f"/operations/{operation.pk}/"
    waiting = wait_for(
        "the page to say it waits for GCP",
        lambda: "Waiting for GCP, retry" in browser.get(location).text,
        seconds=30,
        every=0.05,
    )
    assert waiting
    # and it rides the outage out and succeeds
    operation = _finished(operation, seconds=90)
    assert operation.state == OperationState.SUCCEEDED, operation.error
    assert operation.retry_count >= 6
    assert stack.fleetsim.calls(GET) == 33
    browser.close()


def test_database_connections_terminated_mid_traffic_cost_no_request(stack, devops):
    # given the web app with persistent database connections, serving ten people
    instance = _instance(stack)
    stack.start(web_env={"DATABASE_URL": web_database_url(), "CONN_MAX_AGE": "600"})
    browsers = [Browser(stack.web_url, devops) for _ in range(10)]
    statuses: list[int] = []
    terminated = 0
    with psycopg.connect(_database_url(), autocommit=True) as admin:
        for _ in range(15):
            # when every pooled connection is dropped between two rounds of requests
            round_statuses: list[int] = []

            def visit(browser: Browser, out: list[int] = round_statuses) -> None:
                out.append(browser.get(f"/instances/{instance.slug}/").status_code)

            threads = [threading.Thread(target=visit, args=(b,)) for b in browsers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            statuses += round_statuses
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND state = 'idle' AND pid <> pg_backend_pid()",
                (WEB_APP_NAME,),
            ).fetchall()
            terminated += sum(1 for (ok,) in rows if ok)
    # then connections were really dropped, and no request failed
    assert terminated >= 15
    assert len(statuses) == 150
    assert set(statuses) == {200}
    for browser in browsers:
        browser.close()
