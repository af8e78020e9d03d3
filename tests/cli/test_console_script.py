"""The installed ``mi`` console script (``pip install -e .`` in ``make deps``), run as a
real process: its help, and its exit code and message on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MI = Path(sys.executable).with_name("mi")


def _run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MI), *argv], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_console_script_help(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    result = _run("--help", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mi ")
    for command in ("login", "instances", "upgrade", "access", "audit"):
        assert command in result.stdout
    assert _run("upgrade", "--help", env=env).stdout.startswith("usage: mi upgrade")


def test_console_script_exit_code_and_message_when_logged_out(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MI_TOKEN"}
    result = _run("instances", env={**env, "XDG_CONFIG_HOME": str(tmp_path)})
    assert result.returncode == 3
    assert result.stderr == "mi: Not logged in: run `mi login`.\n"
    assert result.stdout == ""


def test_the_cli_loads_without_django(tmp_path):
    # the package stands alone: importing and running it pulls in no part of the project
    code = (
        "import sys; from mi_cli.main import main; main(['--help']);"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'mi_admin', 'instances', 'access', 'health', 'rollouts', 'mi_requests')];"
        "sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
