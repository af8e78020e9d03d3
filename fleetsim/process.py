"""Start the simulator as a subprocess on a free port and wait until it answers.

Used by the test suite and scripts::

    with running_fleetsim() as sim:
        sim.client.upsert_instances([{"slug": "acme"}])
        ...  # point GCP_COMPUTE_ENDPOINT at sim.base_url
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fleetsim.client import FleetSimClient

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
START_ATTEMPTS = 3


class FleetSimStartError(RuntimeError):
    pass


@dataclass
class FleetSimProcess:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    client: FleetSimClient


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _start(
    host: str, port: int, state_file: Path | None, log: Path, timeout: float
) -> FleetSimProcess:
    cmd = [sys.executable, "-m", "fleetsim", "--host", host, "--port", str(port)]
    if state_file is not None:
        cmd += ["--state-file", str(state_file)]
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            cmd, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    base_url = f"http://{host}:{port}"
    client = FleetSimClient(base_url, timeout=2.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            client.close()
            tail = log.read_text(errors="replace")[-2000:]
            raise FleetSimStartError(f"fleetsim exited with {process.returncode}:\n{tail}")
        if client.ping():
            client.close()
            return FleetSimProcess(base_url, port, process, FleetSimClient(base_url))
        time.sleep(0.05)
    client.close()
    _stop(process)
    raise FleetSimStartError(f"fleetsim did not answer on {base_url} within {timeout} s")


@contextmanager
def running_fleetsim(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    state_file: Path | None = None,
    startup_timeout: float = 20.0,
) -> Iterator[FleetSimProcess]:
    """A running simulator; stopped on exit. Without ``port``, picks a free one (retrying
    if another process grabs it between the probe and the bind)."""
    with tempfile.TemporaryDirectory(prefix="fleetsim-") as tmp:
        log = Path(tmp) / "fleetsim.log"
        attempts = 1 if port is not None else START_ATTEMPTS
        sim: FleetSimProcess | None = None
        for attempt in range(1, attempts + 1):
            try:
                sim = _start(host, port or free_port(host), state_file, log, startup_timeout)
                break
            except FleetSimStartError:
                if attempt == attempts:
                    raise
                logger.warning("fleetsim failed to start (attempt %d), retrying", attempt)
        assert sim is not None
        logger.info("fleetsim running on %s (pid %d)", sim.base_url, sim.process.pid)
        try:
            yield sim
        finally:
            sim.client.close()
            _stop(sim.process)
