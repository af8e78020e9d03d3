"""The fault-test stack: real processes this module starts, stops and kills.

A Redis server of its own on a free port (the broker-stop test stops it; the machine's shared
Redis is never touched), the web app under gunicorn (threads, persistent DB connections named
``mi-admin-faults-web`` so a test can terminate exactly those), Celery workers and beat, all
on the test database and the fleet simulator, with the operation timings shortened (a 3 s
lease, a dispatcher every second). Workers run ``tests.faults.stack_app``: MI Admin's Celery
app plus a runner that stops a VM, so a test can count mutations.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery import Celery
from django.test import Client

from fleetsim.client import FleetSimClient
from fleetsim.process import free_port
from instances.models import Operation
from mi_admin.accounts.models import User
from tests.deploy.stack import RedisServer
from tests.fixtures.celery_worker import _database_url

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "artifacts" / "faults"
WEB_APP_NAME = "mi-admin-faults-web"
LEASE_SECONDS = 3


def wait_for(what: str, check: Callable[[], Any], seconds: float = 30, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@dataclass
class Stack:
    """The running processes and what a test needs to talk to them."""

    redis: RedisServer
    env: dict[str, str]
    web_url: str
    queue: str
    fleetsim: FleetSimClient
    workdir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _control: Celery | None = None

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (LOGS / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, *argv],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def control(self) -> Celery:
        if self._control is None:
            self._control = Celery("faults-control", broker=self.redis.url, set_as_current=False)
        return self._control

    def start(
        self,
        *,
        web: bool = True,
        workers: tuple[str, ...] = (),
        beat: bool = False,
        web_env: dict[str, str] | None = None,
    ) -> dict[int, str]:
        """Start the processes a test needs, all at once, and wait until each answers.

        Returns the workers' pids → names."""
        if web:
            port = int(self.web_url.rsplit(":", 1)[1])
            argv = ["-m", "gunicorn", "mi_admin.wsgi", "-b", f"127.0.0.1:{port}"]
            argv += ["-k", "gthread", "-w", "1", "--threads", "10", "--graceful-timeout", "2"]
            self.spawn("web", argv, web_env)
        for name in workers:
            argv = ["-m", "celery", "-A", "tests.faults.stack_app", "worker"]
            argv += ["-n", f"{name}@faults"]
            argv += ["-l", "INFO"]
            argv += ["--pool", "threads", "--concurrency", "2"]
            # No -Q: a worker consumes every queue of CELERY_TASK_QUEUES (this stack's base).
            argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
            self.spawn(name, argv)
        if beat:
            argv = ["-m", "celery", "-A", "mi_admin", "beat", "-l", "INFO", "--pidfile="]
            argv += ["-S", "celery.beat:PersistentScheduler"]
            argv += ["-s", str(self.workdir / "beat-schedule")]
            self.spawn("beat", argv)
        if web:
            wait_for("the web app to answer", self._web_answers, seconds=60, every=0.25)
        for name in workers:
            wait_for(f"worker {name} to answer", partial(self._worker_answers, name), 60)
        return {self.processes[name].pid: name for name in workers}

    def _web_answers(self) -> bool:
        assert self.processes["web"].poll() is None, f"web exited; see {LOGS}/web.log"
        try:
            return httpx.get(f"{self.web_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _worker_answers(self, name: str) -> bool:
        assert self.processes[name].poll() is None, f"{name} exited; see {LOGS}/{name}.log"
        return bool(self.control().control.ping(destination=[f"{name}@faults"], timeout=0.5))

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, name: str) -> None:
        """Kill a process and its children (gunicorn's worker) by the group it leads: nothing
        in them needs a graceful end, and the database drops their connections."""
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        if self._control is not None:
            self._control.close()


@pytest.fixture
def stack(transactional_db: None, fleetsim: FleetSimClient) -> Iterator[Stack]:
    """A private Redis and the web app; tests start the workers and beat they need."""
    LOGS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mi-faults-"))
    # Stopping it loses every queued message, as a broker crash does.
    server = RedisServer(workdir, log_dir=LOGS)
    server.start()
    database_url = _database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": server.url,
        "CELERY_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
        "GCP_COMPUTE_ENDPOINT": fleetsim.compute_endpoint,
        "GCP_ANONYMOUS_CREDENTIALS": "1",
        "GCP_RETRY_BASE_DELAY": "0.05",
        "FLEETSIM_URL": fleetsim.base_url,
        "OPERATION_LEASE_SECONDS": str(LEASE_SECONDS),
        "OPERATION_DISPATCH_SECONDS": "1",
        "OPERATION_REDISPATCH_SECONDS": "5",
        "OPERATION_RETRY_BASE_SECONDS": "0.2",
        "OPERATION_RETRY_MAX_SECONDS": "1",
        "OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS": "60",
        # Beat runs only the dispatcher within a test's lifetime.
        "INVENTORY_SYNC_SECONDS": "3600",
        "HEALTH_SWEEP_SECONDS": "3600",
    }
    result = Stack(
        redis=server,
        env=env,
        web_url=f"http://127.0.0.1:{free_port()}",
        queue=env["CELERY_QUEUE"],
        fleetsim=fleetsim,
        workdir=workdir,
    )
    try:
        yield result
    finally:
        result.stop_all()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def web_database_url() -> str:
    """The test database, with the connection name the backend-termination test looks for."""
    return f"{_database_url()}?application_name={WEB_APP_NAME}"


class Browser:
    """A logged-in person clicking buttons, over HTTP against the stack's web app."""

    def __init__(self, base_url: str, user: User) -> None:
        client = Client()
        client.force_login(user)
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        for name, morsel in client.cookies.items():
            self.http.cookies.set(name, morsel.value)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def form_key(self, path: str) -> str:
        """The idempotency key the page's Sync-now form carries (one per page load)."""
        page = self.get(path)
        assert page.status_code == 200, page.text[:500]
        match = re.search(r'name="idempotency_key" value="([0-9a-f-]+)"', page.text)
        assert match, "no Sync-now form on the page"
        return match.group(1)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        token = self.http.cookies.get("mi_admin_csrftoken")
        if token is None:
            self.get("/")
            token = self.http.cookies.get("mi_admin_csrftoken")
        assert token
        return self.http.post(path, data={**data, "csrfmiddlewaretoken": token})

    def sync_now(self, slug: str, key: str | None = None) -> httpx.Response:
        key = key or self.form_key(f"/instances/{slug}/")
        return self.post(f"/instances/{slug}/sync/", {"idempotency_key": key})

    def close(self) -> None:
        self.http.close()


def operation_of(response: httpx.Response) -> Operation:
    """The operation a Sync-now answer redirected to."""
    assert response.status_code == 302, f"{response.status_code}: {response.text[:500]}"
    match = re.search(r"/operations/(\d+)/", response.headers["location"])
    assert match, response.headers["location"]
    return Operation.objects.get(pk=int(match.group(1)))
