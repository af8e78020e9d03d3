"""Injected failures and call counts of the IdP's Okta API, for the tests.

A test (in another process) writes ``api-faults.json`` in the IdP's data directory, e.g.
``{"groups.users.add": {"status": 503, "count": 1}}``: the next ``count`` calls of that
endpoint answer ``status`` with Okta's error body instead of doing anything. Every call is
counted in ``api-calls.json``. Both files are read and written under an exclusive lock, so
the threads of the server and the test never lose an update.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FAULTS_FILE = "api-faults.json"
CALLS_FILE = "api-calls.json"
LOCK_FILE = "api-faults.lock"


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    with (data_dir / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def fault_set(data_dir: Path, endpoint: str, *, status: int, count: int = 1) -> None:
    """The next ``count`` calls of ``endpoint`` answer ``status``."""
    with _locked(data_dir):
        faults = _read(data_dir / FAULTS_FILE)
        faults[endpoint] = {"status": status, "count": count}
        (data_dir / FAULTS_FILE).write_text(json.dumps(faults))


def faults_reset(data_dir: Path) -> None:
    with _locked(data_dir):
        (data_dir / FAULTS_FILE).write_text("{}")
        (data_dir / CALLS_FILE).write_text("{}")


def calls(data_dir: Path, endpoint: str) -> int:
    with _locked(data_dir):
        return int(_read(data_dir / CALLS_FILE).get(endpoint, 0))


def call_take_fault(data_dir: Path, endpoint: str) -> int | None:
    """Count a call of ``endpoint``; the status to fail it with, if a fault is armed."""
    with _locked(data_dir):
        counted = _read(data_dir / CALLS_FILE)
        counted[endpoint] = int(counted.get(endpoint, 0)) + 1
        (data_dir / CALLS_FILE).write_text(json.dumps(counted))
        faults = _read(data_dir / FAULTS_FILE)
        fault = faults.get(endpoint)
        if not fault or int(fault.get("count", 0)) <= 0:
            return None
        fault["count"] = int(fault["count"]) - 1
        (data_dir / FAULTS_FILE).write_text(json.dumps(faults))
        return int(fault["status"])
