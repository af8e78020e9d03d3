"""`make run` starts and stops quietly: no WARNING, ERROR or traceback lines on start or Ctrl-C.

Runs scripts/devstack.py itself (fleet simulator, IdP, web, worker, beat on SQLite and the
filesystem broker) in a temporary directory on free ports, as a person would, and reads what
it prints.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOISE = re.compile(r"\bWARNING\b|\bERROR\b|Traceback")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_devstack_starts_and_stops_without_warnings_or_errors(tmp_path: Path) -> None:
    # Only what a shell would have: the suite's own settings (PostgreSQL, Redis, test
    # queue) must not leak into the demo.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    env |= {
        "MI_VAR_DIR": str(tmp_path / "var"),
        "MI_WEB_PORT": str(_free_port()),
        "MI_IDP_PORT": str(_free_port()),
        "MI_FLEETSIM_PORT": str(_free_port()),
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "devstack.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    up = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "MI Admin is up" in line:
                up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert up.wait(timeout=180), "devstack did not come up:\n" + "".join(lines[-40:])
        time.sleep(5)  # the worker and beat connect and run their first ticks
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    reader.join(timeout=5)
    output = "".join(lines)
    assert "ready." in output, output[-3000:]  # the worker did start
    assert "Warm shutdown" in output  # and was stopped the gentle way
    assert "MI Admin stopped." in output
    noise = [line for line in lines if NOISE.search(line)]
    assert noise == [], "".join(noise)
    # The filesystem broker keeps its control folder under var/, not in the working directory.
    assert not (tmp_path / "control").exists()
    assert any((tmp_path / "var" / "broker" / "control").iterdir())
