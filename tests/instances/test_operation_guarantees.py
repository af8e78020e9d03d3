"""Operation guarantees: idempotency keys, one operation per target in the database, the
outbox dispatcher, leases, the retry budget and what the operation page says meanwhile."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from instances.choices import OperationKind, OperationState, StepState
from instances.models import Instance, Operation
from instances.services import operations as operations_module
from instances.services.operations import (
    LeaseKeeper,
    LeaseLost,
    OperationConflict,
    operation_claim,
    operation_create,
    operation_dispatch_pending,
    operation_finish,
    operation_retry_later,
    register_finished_listener,
    step_run,
)
from mi_admin.audit.models import AuditEvent
from tests.instances.factories import make_instance, make_operation


def _no_queue(*_: object) -> None:
    return None


def _key_of(page: str) -> str:
    match = re.search(r'name="idempotency_key" value="([0-9a-f-]+)"', page)
    assert match
    return match.group(1)


def _sync(client, instance: Instance, key: str):
    return client.post(f"/instances/{instance.slug}/sync/", {"idempotency_key": key})


def _operation_of(response) -> Operation:
    assert response.status_code == 302, response.content[:300]
    match = re.search(r"/operations/(\d+)/", response["Location"])
    assert match
    return Operation.objects.get(pk=int(match.group(1)))


def _messages(client, response) -> str:
    return client.get(response["Location"]).content.decode()


# --- idempotency keys (issue 7) ---------------------------------------------------------------


def test_a_repost_after_the_operation_finished_returns_it(db, client_for):
    # given a sync requested from an instance's page, which then succeeded
    client = client_for("devops")
    instance = make_instance("acme-prod")
    key = _key_of(client.get(f"/instances/{instance.slug}/").content.decode())
    first = _operation_of(_sync(client, instance, key))
    first.state, first.finished_at = OperationState.SUCCEEDED, timezone.now()
    first.save()
    # when the same form is posted again (a browser retry, the back button)
    again = _sync(client, instance, key)
    # then it answers with the first operation, and never says it is "under way"
    assert _operation_of(again).pk == first.pk
    page = _messages(client, again)
    assert "already under way" not in page
    assert "already requested and has finished (succeeded)" in page
    assert Operation.objects.count() == 1


def test_a_key_from_one_instance_page_never_returns_another_instance_operation(db, client_for):
    # given a sync of instance A requested with A's page's key
    client = client_for("devops")
    a, b = make_instance("acme-prod"), make_instance("beta-prod")
    key = _key_of(client.get(f"/instances/{a.slug}/").content.decode())
    on_a = _operation_of(_sync(client, a, key))
    # when the same key is posted to instance B's Sync now
    on_b = _operation_of(_sync(client, b, key))
    # then B gets its own operation
    assert on_b.pk != on_a.pk
    assert on_b.instance_id == b.pk


def test_the_service_refuses_a_key_used_for_another_target(db, devops):
    # given an operation on A created with a key
    a, b = make_instance("acme-prod"), make_instance("beta-prod")
    on_a, _ = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=a, idempotency_key="k1", enqueue=_no_queue
    )
    # when the same key is used for B, then it is refused, never answered with A's operation
    with pytest.raises(OperationConflict):
        operation_create(
            kind=OperationKind.SYNC,
            actor=devops,
            instance=b,
            idempotency_key="k1",
            enqueue=_no_queue,
        )
    assert list(Operation.objects.values_list("pk", flat=True)) == [on_a.pk]


def test_already_under_way_is_said_of_a_running_operation(db, client_for):
    # given a sync of the instance running
    client = client_for("devops")
    instance = make_instance("acme-prod")
    running = make_operation(instance, state=OperationState.RUNNING)
    # when someone clicks Sync now on a fresh page
    key = _key_of(client.get(f"/instances/{instance.slug}/").content.decode())
    response = _sync(client, instance, key)
    # then they are sent to the running one, and told so
    assert _operation_of(response).pk == running.pk
    assert "already under way" in _messages(client, response)


# --- one operation per target, in the database --------------------------------------------------


@pytest.mark.parametrize("target", ["instance", "fleet"])
def test_the_database_refuses_a_second_active_operation_of_a_kind(db, target):
    # given an operation pending on a target (an instance, or the whole fleet)
    instance = make_instance("acme-prod") if target == "instance" else None
    make_operation(instance, state=OperationState.PENDING)
    # when a second one is inserted behind the service's back, then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        make_operation(instance, state=OperationState.RUNNING, idempotency_key="second")
    # and finished ones never hold the target
    make_operation(instance, state=OperationState.SUCCEEDED, idempotency_key="done-1")
    make_operation(instance, state=OperationState.FAILED, idempotency_key="done-2")


def test_the_database_refuses_two_mutating_operations_on_one_instance(db, devops):
    # given an upgrade running on an instance
    instance = make_instance("acme-prod")
    upgrade = make_operation(instance, kind=OperationKind.UPGRADE, state=OperationState.RUNNING)
    # when a suspend is requested, then it is refused, naming the upgrade
    with pytest.raises(OperationConflict) as refused:
        operation_create(
            kind=OperationKind.SUSPEND, actor=devops, instance=instance, enqueue=_no_queue
        )
    assert refused.value.operation == upgrade
    # but a sync (not mutating) may run beside it
    _, created = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=instance, enqueue=_no_queue
    )
    assert created


# --- the outbox ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_broker_down_keeps_the_operation_and_the_dispatcher_sends_it_once(devops):
    # given the broker refusing connections
    instance = make_instance("acme-prod")

    def broker_down(*_: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    # when a sync is requested
    operation, created = operation_create(
        kind=OperationKind.SYNC, actor=devops, instance=instance, enqueue=broker_down
    )
    # then it is recorded and audited, marked as never sent
    operation.refresh_from_db()
    assert created
    assert operation.dispatched_at is None
    assert AuditEvent.objects.filter(action="operation.sync.requested").count() == 1
    # when the dispatcher runs with the broker back, twice
    sent: list[int] = []
    operation_dispatch_pending(enqueue=lambda pk, _task: sent.append(pk))
    operation_dispatch_pending(enqueue=lambda pk, _task: sent.append(pk))
    # then it was sent once
    operation.refresh_from_db()
    assert sent == [operation.pk]
    assert operation.dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_dispatcher_resends_only_what_no_worker_holds(devops, settings):
    settings.OPERATION_REDISPATCH_SECONDS = 120
    now = timezone.now()
    long_ago = now - dt.timedelta(minutes=10)
    instances = [make_instance(f"i{n}") for n in range(6)]
    # given: sent long ago and never claimed; sent just now; running under a live lease;
    # running under a lapsed lease; waiting for a retry not due; finished
    lost = make_operation(instances[0], dispatched_at=long_ago)
    make_operation(instances[1], dispatched_at=now)
    make_operation(
        instances[2],
        state=OperationState.RUNNING,
        lease_owner="w:1:a",
        lease_expires_at=now + dt.timedelta(seconds=30),
        dispatched_at=long_ago,
    )
    lapsed = make_operation(
        instances[3],
        state=OperationState.RUNNING,
        lease_owner="w:2:b",
        lease_expires_at=now - dt.timedelta(seconds=1),
        dispatched_at=long_ago,
    )
    make_operation(
        instances[4],
        state=OperationState.RUNNING,
        next_retry_at=now + dt.timedelta(minutes=1),
        dispatched_at=None,
    )
    make_operation(instances[5], state=OperationState.SUCCEEDED, dispatched_at=None)
    # when the dispatcher runs twice
    sent: list[int] = []
    operation_dispatch_pending(enqueue=lambda pk, _task: sent.append(pk))
    operation_dispatch_pending(enqueue=lambda pk, _task: sent.append(pk))
    # then the lost one and the lapsed one were sent, once each; the lapsed lease was dropped
    assert sorted(sent) == sorted([lost.pk, lapsed.pk])
    lapsed.refresh_from_db()
    assert lapsed.lease_owner == ""
    assert lapsed.lease_expires_at is None


# --- leases -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_claim_wins_and_a_lapsed_owner_cannot_finish(devops):
    # given a pending operation claimed by a worker
    operation = make_operation(make_instance("acme-prod"), actor=devops)
    first = operation_claim(operation_id=operation.pk)
    assert first is not None
    # when another delivery tries to claim it, then it gets nothing
    assert operation_claim(operation_id=operation.pk) is None
    # when the first worker's lease lapses, another worker claims it
    Operation.objects.filter(pk=operation.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    second = operation_claim(operation_id=operation.pk)
    assert second is not None
    assert second.lease_owner != first.lease_owner
    # then the stalled first worker cannot finish it; the one holding it does, once
    operation_finish(operation=first, state=OperationState.FAILED, error="stale")
    operation_finish(operation=second, state=OperationState.SUCCEEDED)
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert operation.attempts == 2
    finished = AuditEvent.objects.filter(action__startswith="operation.sync.")
    assert list(
        finished.exclude(action="operation.sync.requested").values_list("action", flat=True)
    ) == ["operation.sync.succeeded"]


@pytest.mark.django_db(transaction=True)
def test_a_resumed_operation_skips_the_steps_already_done(devops):
    # given an operation whose first step a previous (killed) attempt finished
    operation = make_operation(
        make_instance("acme-prod"),
        state=OperationState.RUNNING,
        steps=[("Stop the VM", StepState.DONE), ("Wait for TERMINATED", StepState.RUNNING)],
    )
    operation.steps.filter(name="Stop the VM").update(output={"gcp_operation": "op-1"})
    calls: list[str] = []

    def work(name: str):
        def run():
            calls.append(name)
            return "done", {"step": name}

        return run

    # when the runner runs again
    stopped = step_run(operation=operation, name="Stop the VM", work=work("stop"))
    step_run(operation=operation, name="Wait for TERMINATED", work=work("wait"))
    # then the done step is not repeated (its output is reused); the running one is finished
    assert calls == ["wait"]
    assert stopped == {"gcp_operation": "op-1"}
    assert list(operation.steps.order_by("position").values_list("name", "state")) == [
        ("Stop the VM", StepState.DONE),
        ("Wait for TERMINATED", StepState.DONE),
    ]


# --- the retry budget ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_transient_errors_wait_within_the_budget_and_the_page_says_so(devops, client_for, settings):
    settings.OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS = 900
    settings.OPERATION_RETRY_BASE_SECONDS = 60
    settings.OPERATION_RETRY_MAX_SECONDS = 120
    operation = make_operation(make_instance("acme-prod"), actor=devops)
    claimed = operation_claim(operation_id=operation.pk)
    assert claimed is not None
    # when GCP answers 503 (the retry is queued with the broker after commit)
    waiting = operation_retry_later(operation=claimed, error="503: backend unavailable")
    # then the operation waits for its retry, holding its target, and the page says when
    assert waiting.state == OperationState.RUNNING
    assert waiting.retry_count == 1
    assert waiting.next_retry_at is not None
    page = client_for("devops").get(f"/operations/{operation.pk}/").content.decode()
    assert "Waiting for GCP, retry 1 at <time" in page
    assert f">{waiting.next_retry_at:%H:%M} UTC</time>" in page
    assert "503: backend unavailable" in page


@pytest.mark.django_db(transaction=True)
def test_transient_errors_past_the_budget_fail_the_operation(devops, settings):
    settings.OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS = 900
    operation = make_operation(
        make_instance("acme-prod"),
        actor=devops,
        retry_count=12,
        retrying_since=timezone.now() - dt.timedelta(seconds=899),
    )
    claimed = operation_claim(operation_id=operation.pk)
    assert claimed is not None
    # when GCP still answers 503 at the end of the budget
    failed = operation_retry_later(operation=claimed, error="503: backend unavailable")
    # then the operation fails, saying for how long GCP failed
    assert failed.state == OperationState.FAILED
    assert "GCP kept failing for" in failed.error
    assert "503: backend unavailable" in failed.error


@pytest.mark.django_db(transaction=True)
def test_more_retries_than_the_old_five_still_wait_within_the_budget(devops, settings):
    settings.OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS = 900
    settings.OPERATION_RETRY_MAX_SECONDS = 120
    operation = make_operation(
        make_instance("acme-prod"),
        actor=devops,
        retry_count=8,
        retrying_since=timezone.now() - dt.timedelta(seconds=300),
    )
    claimed = operation_claim(operation_id=operation.pk)
    assert claimed is not None
    # when GCP answers 503 a ninth time, five minutes into a fifteen-minute budget
    waiting = operation_retry_later(operation=claimed, error="503: backend unavailable")
    # then it waits again, the backoff capped
    assert waiting.state == OperationState.RUNNING
    assert waiting.retry_count == 9
    assert waiting.next_retry_at is not None
    assert waiting.next_retry_at <= timezone.now() + dt.timedelta(seconds=133)


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_the_runner_works_and_not_after(devops, settings):
    settings.OPERATION_LEASE_SECONDS = 0.3
    operation = make_operation(make_instance("acme-prod"), actor=devops)
    claimed = operation_claim(operation_id=operation.pk)
    assert claimed is not None
    first_expiry = claimed.lease_expires_at
    assert first_expiry is not None

    def expiry() -> dt.datetime | None:
        return Operation.objects.values_list("lease_expires_at", flat=True).get(pk=operation.pk)

    # when the runner works longer than the lease
    with LeaseKeeper(claimed) as keeper:
        deadline = time.monotonic() + 10
        while (expiry() or first_expiry) <= first_expiry and time.monotonic() < deadline:
            time.sleep(0.05)
        renewed = expiry()
    # then the lease was pushed forward meanwhile, and the keeper stopped with the block
    assert renewed is not None
    assert renewed > first_expiry
    assert not keeper.lost.is_set()
    assert not keeper._thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_lost_its_lease_starts_no_further_step(devops):
    # given a worker that claimed an operation and stalled past its lease
    operation = make_operation(make_instance("acme-prod"), actor=devops)
    stalled = operation_claim(operation_id=operation.pk)
    assert stalled is not None
    Operation.objects.filter(pk=operation.pk).update(
        lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    # and another worker took it over
    assert operation_claim(operation_id=operation.pk) is not None
    calls: list[str] = []

    def stop():
        calls.append("stop")
        return "done", {}

    # when the stalled worker comes to its next step, then it stops before doing it
    with pytest.raises(LeaseLost):
        step_run(operation=stalled, name="Stop the VM", work=stop)
    assert calls == []
    assert not stalled.steps.exists()


# --- finished listeners ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_finished_listeners_hear_each_outcome_once_after_commit_and_a_failing_one_is_contained(
    devops,
):
    # given two listeners, the first of which raises
    heard: list[tuple[int, str, bool]] = []

    def broken(_: Operation) -> None:
        raise RuntimeError("listener bug")

    def listener(operation: Operation) -> None:
        # the outcome is already committed when the listener runs
        stored = Operation.objects.get(pk=operation.pk).state
        heard.append((operation.pk, stored, transaction.get_connection().in_atomic_block))

    saved_listeners = list(operations_module._FINISHED_LISTENERS)
    operations_module._FINISHED_LISTENERS[:] = []
    register_finished_listener(broken)
    register_finished_listener(listener)
    register_finished_listener(listener)  # registering twice hears once
    try:
        operation = make_operation(make_instance("acme-prod"), actor=devops)
        first = operation_claim(operation_id=operation.pk)
        assert first is not None
        Operation.objects.filter(pk=operation.pk).update(
            lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
        second = operation_claim(operation_id=operation.pk)
        assert second is not None
        # when the stalled worker fails to finish it and the holder finishes it
        operation_finish(operation=first, state=OperationState.FAILED, error="stale")
        operation_finish(operation=second, state=OperationState.SUCCEEDED)
        # then the listener heard the one real outcome, outside the transaction
        assert heard == [(operation.pk, OperationState.SUCCEEDED, False)]
        # and the raising listener changed nothing
        operation.refresh_from_db()
        assert operation.state == OperationState.SUCCEEDED
    finally:
        operations_module._FINISHED_LISTENERS[:] = saved_listeners
