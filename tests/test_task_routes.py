"""Queues by role: every task is routed on purpose, and what is queued follows the routes.

A task missing from ``CELERY_TASK_ROUTES`` would silently share the default queue; this
test makes adding a task mean choosing its queue (settings ``_TASK_ROLES``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.signals import after_task_publish
from django.conf import settings

from mi_admin.celery import app
from mi_admin.queue import task_enqueue

ROOT = Path(__file__).resolve().parents[1]


def _registered() -> set[str]:
    app.loader.import_default_modules()
    # Celery's own (celery.chord_unlock, ...) are never sent by us; tasks that test modules
    # define (collected in the same session) are not the product's.
    return {name for name in app.tasks if not name.startswith(("celery.", "tests."))}


def test_queues_derive_from_the_base_queue():
    base = settings.CELERY_TASK_DEFAULT_QUEUE
    expected = {
        "default": base,
        "probes": f"{base}.probes",
        "operations": f"{base}.operations",
        "alerts": f"{base}.alerts",
    }
    assert expected == settings.MI_QUEUES
    # A worker started without -Q (make run's) consumes every one of them.
    assert set(app.amqp.queues) == set(settings.MI_QUEUES.values())


def test_every_registered_task_has_a_route_to_a_known_queue():
    routes = settings.CELERY_TASK_ROUTES
    registered = _registered()
    assert sorted(registered - set(routes)) == [], "route these tasks in settings._TASK_ROLES"
    assert sorted(set(routes) - registered) == [], "routes for tasks that do not exist"
    queues = set(settings.MI_QUEUES.values())
    assert {route["queue"] for route in routes.values()} <= queues


@pytest.mark.parametrize(
    ("task", "role"),
    [
        ("health.tasks.health_sweep", "probes"),
        ("instances.tasks.operation_run", "operations"),
        ("rollouts.tasks.rollouts_advance", "operations"),
        ("health.tasks.incident_deliver", "alerts"),
        ("instances.tasks.operation_dispatch_pending", "default"),
    ],
)
def test_routes_by_role(task, role):
    assert app.amqp.router.route({}, task)["queue"].name == settings.MI_QUEUES[role]


@pytest.fixture
def published() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def record(sender: str, routing_key: str, headers: dict[str, Any], **_: Any) -> None:
        seen.append({"task": headers["task"], "routing_key": routing_key})

    after_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        after_task_publish.disconnect(record)


@pytest.mark.parametrize(
    ("task", "args", "role"),
    [
        ("instances.tasks.operation_run", (0,), "operations"),
        ("health.tasks.health_instance_refresh", (0,), "probes"),
        ("health.tasks.incident_deliver", (0, "trigger"), "alerts"),
        ("mi_admin.approvals.tasks.approval_requests_expire_task", (), "default"),
    ],
)
def test_task_enqueue_publishes_to_the_routed_queue(published, task, args, role):
    # Really published to the suite's broker; already expired, so no worker runs it.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    task_enqueue(task, *args, expires=past)
    assert published == [{"task": task, "routing_key": settings.MI_QUEUES[role]}]


def _entrypoint() -> Any:
    spec = importlib.util.spec_from_file_location("entrypoint", ROOT / "scripts/entrypoint.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entrypoint_worker_queues_by_role():
    entrypoint = _entrypoint()
    queues = settings.MI_QUEUES
    assert entrypoint.worker_queues("") == list(queues.values())
    assert entrypoint.worker_queues("probes, alerts") == [queues["probes"], queues["alerts"]]
    assert entrypoint.worker_queues(queues["operations"]) == [queues["operations"]]
    with pytest.raises(SystemExit, match="unknown queue 'probe'; roles are default, probes"):
        entrypoint.worker_queues("probe")


def test_gunicorn_sized_from_the_cpus(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setenv("PORT", "9123")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["workers"] == 2 * len(os.sched_getaffinity(0)) + 1
    assert config["bind"] == ["0.0.0.0:9123"]
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:7000")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (config["workers"], config["bind"]) == (3, ["127.0.0.1:7000"])
