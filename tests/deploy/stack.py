"""The production shape on loopback: ``scripts/entrypoint.py``'s processes, as the image runs
them, against a Redis server of the test's own (a free port, no persistence) and PostgreSQL.

Each process is spawned through the entrypoint (its exec leaves the pid unchanged, so the
test signals gunicorn or Celery directly) in a session of its own, logging to
``artifacts/deploy/<name>.log`` (or ``log_dir``); ``stop()`` sends SIGTERM and returns the
exit code.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from fleetsim.process import free_port

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "scripts" / "entrypoint.py"
LOGS = ROOT / "artifacts" / "deploy"


def wait_for(what: str, check: Callable[[], Any], seconds: float = 60, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


class RedisServer:
    """``redis-server`` on a free port, without persistence, in ``workdir``."""

    def __init__(self, workdir: Path, log_dir: Path = LOGS) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make services)"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.workdir)]
        log = (self.log_dir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        client = self.client()

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for("the test's Redis to answer", answers, seconds=10)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class EntrypointStack:
    """Processes started with ``scripts/entrypoint.py <subcommand>``, sharing one env."""

    env: dict[str, str]
    redis: RedisServer | None = None
    log_dir: Path = LOGS
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def run(self, subcommand: str, *args: str, timeout: float = 300, expect: int = 0) -> None:
        """A one-shot subcommand (``migrate``, ``healthcheck``): run to the end; fail with its
        output unless it exits ``expect``."""
        done = subprocess.run(
            [sys.executable, str(ENTRYPOINT), subcommand, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == expect, f"{subcommand} exited {done.returncode}:\n{done.stderr}"

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = self.log_dir / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(
                [sys.executable, str(ENTRYPOINT), *args],
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self, name: str) -> bool:
        process = self.processes[name]
        assert process.poll() is None, f"{name} exited {process.returncode}: {self.log(name)}"
        return True

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def wait_web(self, url: str) -> None:
        def ready() -> bool:
            self.alive("web")
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the web to answer /readyz", ready, seconds=90, every=0.3)

    def stop(self, name: str, timeout: float = 60) -> int:
        """SIGTERM, as Docker sends it; the process's exit code once it has stopped."""
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                raise AssertionError(f"{name} did not stop within {timeout:.0f} s") from None
        try:
            # Its process group still has members: children (gunicorn or prefork workers,
            # or a process it started instead of exec'ing) outlived it.
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return process.returncode
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError(f"{name} exited but left processes behind")

    def kill_all(self) -> None:
        """Teardown after a failure: nothing left running, whatever the test reached."""
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()
