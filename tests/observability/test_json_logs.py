"""JSON log lines: the web's carry the request id and the person, and a task the web request
queued logs, on the real session worker, under the same request id with its task name, task
id and operation id."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from instances.choices import OperationKind, OperationState
from instances.models import Operation
from mi_admin.logs import LogContextFilter
from tests.celery.test_request_id import _instance
from tests.fixtures.celery_worker import ROOT

WORKER_LOG = ROOT / "artifacts" / "celery-worker.log"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (LOGGING, LOG_FORMAT=json) writes, meanwhile."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, LogContextFilter) for f in h.filters)
    )
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_request_logs_json_with_its_request_id_and_user(console, client_for, settings):
    # given our proxy's request id (believed from a trusted proxy)
    settings.TRUSTED_PROXY_COUNT = 1
    request_id = f"req-{uuid.uuid4().hex}"
    # when a person without a role is refused a page (the middleware logs the refusal)
    response = client_for("stranger").get("/", HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 403
    # then every line is one JSON object, and the refusal carries the request id and user
    lines = json_lines(console.getvalue())
    refusal = next(line for line in lines if "no MI Admin role" in str(line["message"]))
    assert refusal["request_id"] == request_id
    assert refusal["user"] == "stranger"
    assert refusal["level"] == "INFO"
    assert refusal["logger"] == "mi_admin.accounts.middleware"
    assert str(refusal["timestamp"]).endswith("+00:00")


def _worker_lines(request_id: str, seconds: float = 30) -> list[dict[str, object]]:
    """The worker's JSON lines naming the request id, once Celery logged the task's end
    (its last line, after the operation's own)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = Path(WORKER_LOG).read_text(errors="replace")
        mine = [line for line in text.splitlines() if request_id in line]
        if any('"logger": "celery.app.trace"' in line for line in mine):
            return [json.loads(line) for line in mine]
        time.sleep(0.2)
    raise AssertionError(f"no worker log line for {request_id} after {seconds} s")


@pytest.mark.django_db(transaction=True)
def test_a_task_logs_under_the_request_id_that_queued_it(
    celery_worker, fleetsim, client_for, settings
):
    # given devops behind our proxy, with a known request id
    settings.TRUSTED_PROXY_COUNT = 1
    instance = _instance(fleetsim, "acme-prod")
    request_id = f"req-{uuid.uuid4().hex}"
    # when they ask for a sync, which the session worker runs
    response = client_for("devops").post(
        f"/instances/{instance.slug}/sync/",
        {"idempotency_key": str(uuid.uuid4())},
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 302
    operation = Operation.objects.get(kind=OperationKind.SYNC, instance=instance)
    # then the worker's lines for that task are JSON carrying the same request id, the task
    # and the operation
    lines = _worker_lines(request_id)
    run = [line for line in lines if line["task_name"] == "instances.tasks.operation_run"]
    assert run
    for line in run:
        assert line["request_id"] == request_id
        assert line["task_id"]
        assert {"timestamp", "level", "logger", "message"} <= line.keys()
    # the operation's own lines (Celery's "succeeded" line comes after the run, without it)
    ours = [line for line in run if not str(line["logger"]).startswith("celery.")]
    assert any(line["logger"] == "instances.services.operations" for line in ours)
    assert {line["operation_id"] for line in ours} == {str(operation.pk)}
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
