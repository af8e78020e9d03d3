"""The adapter's Cloud SQL Admin API v1 calls: on-demand backups of a v1.1 instance's database.

The client is google-api-python-client's ``sqladmin`` v1, built from the discovery document
the package ships (``static_discovery=True``: no network fetch at build time), on the same
endpoint and credentials as the Compute clients (``GCP_COMPUTE_ENDPOINT`` = the simulator,
whose routes serve both APIs; "" = Google's ``sqladmin.googleapis.com`` with Application
Default Credentials). httplib2 connections are not thread-safe and Celery runs upgrades on
threads, so each thread builds its own service object (once).

Cloud SQL has no ``requestId``: ``backupRuns.insert`` twice makes two backups. So the
insert is sent once and never retried here; a caller that must not back up twice looks for
its earlier run first (``sql_backup_run_list``, e.g. by a marker in its description). Reads
retry transient errors like every other read of the adapter; waits poll with a growing pause
up to ``GCP_OPERATION_TIMEOUT`` and raise ``GcpTimeout`` (transient) past it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import google.auth
import google_auth_httplib2
import httplib2
from django.conf import settings
from googleapiclient import discovery

from instances.gcp.calls import read, request_timeout, reraise, setting_float
from instances.gcp.errors import GcpBadResponse, GcpTimeout, error_for_status
from instances.gcp.models import (
    BackupRun,
    SqlOperation,
    backup_run_from_api,
    sql_operation_from_api,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

SQLADMIN_SCOPE = "https://www.googleapis.com/auth/sqlservice.admin"
# The backup runs a v1.1 instance keeps (automated daily ones plus on-demand) fit in a few
# pages; a bound keeps a misbehaving pager from looping.
_MAX_PAGES = 20
# A backup run's status once it will not change any more.
BACKUP_RUN_FINAL = frozenset({"SUCCESSFUL", "FAILED", "SKIPPED", "DELETED", "DELETION_FAILED"})
# Cloud SQL operation error codes that mean "try again later", as the HTTP status they stand
# for (the operation carries only the code).
_CODE_STATUS = {
    "UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
    "DEADLINE_EXCEEDED": 504,
    "RATE_LIMIT_EXCEEDED": 429,
    "PERMISSION_DENIED": 403,
    "RESOURCE_NOT_FOUND": 404,
    "INVALID_ARGUMENT": 400,
}

_local = threading.local()


def _http(anonymous: bool) -> Any:
    http = httplib2.Http(timeout=request_timeout())
    if anonymous:
        return http
    credentials, _project = google.auth.default(scopes=[SQLADMIN_SCOPE])
    return google_auth_httplib2.AuthorizedHttp(credentials, http=http)


def _service() -> Any:
    """This thread's ``sqladmin`` v1 service for the current settings."""
    endpoint = str(getattr(settings, "GCP_COMPUTE_ENDPOINT", "") or "").rstrip("/")
    anonymous = bool(getattr(settings, "GCP_ANONYMOUS_CREDENTIALS", False))
    key = (endpoint, anonymous, request_timeout())
    cached = getattr(_local, "services", None)
    if cached is None:
        cached = _local.services = {}
    service = cached.get(key)
    if service is None:
        service = discovery.build(
            "sqladmin",
            "v1",
            http=_http(anonymous),
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": endpoint} if endpoint else None,
        )
        cached[key] = service
        logger.info("built the Cloud SQL Admin client for %s", endpoint or "Google's endpoint")
    return service


def clear_sqladmin_cache() -> None:
    """Forget this thread's clients (other threads build theirs again on a new key)."""
    _local.services = {}


def _execute(request: Any) -> dict[str, Any]:
    # num_retries=0: the adapter's own policy (read retries; mutations once) is the only one.
    result = request.execute(num_retries=0)
    if not isinstance(result, dict):
        # The client hands back an answer that is not JSON as it came (a string).
        raise GcpBadResponse(
            f"Cloud SQL answered something that is not a JSON object: {result!r:.200}"
        )
    return result


# --- backup runs ---------------------------------------------------------------------------


def sql_backup_run_insert(*, project: str, instance: str, description: str) -> SqlOperation:
    """Ask for an on-demand backup of the Cloud SQL ``instance``; returns its operation at
    once (``sql_operation_wait`` waits for it). Sent once: a second call is a second backup."""
    what = f"sql.backupRuns.insert {project}/{instance}"
    try:
        body = _execute(
            _service()
            .backupRuns()
            .insert(project=project, instance=instance, body={"description": description})
        )
    except Exception as exc:
        reraise(exc, what)
    op = sql_operation_from_api(project, body)
    logger.info("gcp %s: operation %s started (backup %s)", what, op.name, op.backup_id)
    return op


def sql_backup_run_list(*, project: str, instance: str) -> list[BackupRun]:
    """Every backup run of the instance, newest first (as Cloud SQL lists them)."""

    def call() -> list[BackupRun]:
        runs: list[BackupRun] = []
        token = ""
        for _ in range(_MAX_PAGES):
            kwargs: dict[str, Any] = {"project": project, "instance": instance}
            if token:
                kwargs["pageToken"] = token
            page = _execute(_service().backupRuns().list(**kwargs))
            runs += [backup_run_from_api(project, item) for item in page.get("items", [])]
            token = str(page.get("nextPageToken", "") or "")
            if not token:
                break
        return runs

    return read(f"sql.backupRuns.list {project}/{instance}", call)


def sql_backup_run_get(*, project: str, instance: str, backup_id: str) -> BackupRun:
    def call() -> BackupRun:
        body = _execute(
            _service().backupRuns().get(project=project, instance=instance, id=backup_id)
        )
        return backup_run_from_api(project, body)

    return read(f"sql.backupRuns.get {project}/{instance}/{backup_id}", call)


def sql_operation_get(*, project: str, name: str) -> SqlOperation:
    def call() -> SqlOperation:
        body = _execute(_service().operations().get(project=project, operation=name))
        return sql_operation_from_api(project, body)

    return read(f"sql.operations.get {project}/{name}", call)


def _poll(what: str, check: Callable[[], T | None], timeout: float | None) -> T:
    """Call ``check`` until it returns a value, pausing 0.2 s doubling to 2 s; GcpTimeout
    after ``timeout`` (default ``GCP_OPERATION_TIMEOUT``)."""
    limit = timeout if timeout is not None else setting_float("GCP_OPERATION_TIMEOUT", 300.0)
    deadline = time.monotonic() + limit
    pause = 0.2
    while True:
        value = check()
        if value is not None:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise GcpTimeout(f"{what} not done after {limit:g} s")
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 2.0)


def sql_operation_wait(*, project: str, name: str, timeout: float | None = None) -> SqlOperation:
    """Poll the operation until DONE; raise its error, translated, if it ended in one."""

    def check() -> SqlOperation | None:
        op = sql_operation_get(project=project, name=name)
        return op if op.status == "DONE" else None

    op = _poll(f"Cloud SQL operation {name}", check, timeout)
    if op.error_code or op.error_message:
        status = _CODE_STATUS.get(op.error_code)
        raise error_for_status(
            status, f"operation {name} failed: {op.error_message or 'error'}", op.error_code
        )
    return op


def sql_backup_run_wait(
    *, project: str, instance: str, backup_id: str, timeout: float | None = None
) -> BackupRun:
    """Poll the backup run until its status is final (SUCCESSFUL, FAILED...); returns it."""

    def check() -> BackupRun | None:
        run = sql_backup_run_get(project=project, instance=instance, backup_id=backup_id)
        return run if run.status in BACKUP_RUN_FINAL else None

    return _poll(f"Cloud SQL backup {backup_id} of {instance}", check, timeout)
