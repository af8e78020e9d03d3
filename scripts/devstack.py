"""`make run`: the whole MI Admin demo on 127.0.0.1, on embedded defaults.

Starts the fleet simulator (:8790), the local OIDC provider standing in for Okta (:8001),
the web app (:8000), a Celery worker and Celery beat; prefixes their output; stops them all
on Ctrl-C or when one of them dies. SQLite and the filesystem broker under var/ unless
DATABASE_URL / REDIS_URL say otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("MI_VAR_DIR", ROOT / "var"))
PY = sys.executable
WEB_PORT = int(os.environ.get("MI_WEB_PORT", "8000"))
IDP_PORT = int(os.environ.get("MI_IDP_PORT", "8001"))
SIM_PORT = int(os.environ.get("MI_FLEETSIM_PORT", "8790"))
COLORS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m"]
RESET = "\033[0m"


def demo_env() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from idp import rp_env  # the local provider knows its own endpoints

    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("MI_VAR_DIR", str(VAR))
    env.setdefault("GCP_COMPUTE_ENDPOINT", f"http://127.0.0.1:{SIM_PORT}")
    env.setdefault("GCP_ANONYMOUS_CREDENTIALS", "1")
    env.setdefault("FLEETSIM_URL", f"http://127.0.0.1:{SIM_PORT}")
    env.setdefault("SITE_URL", f"http://127.0.0.1:{WEB_PORT}")
    # Upgrades in the demo take seconds, not the production minutes.
    env.setdefault("UPGRADE_STABILITY_SECONDS", "10")
    env.setdefault("UPGRADE_PROGRESS_DEADLINE_SECONDS", "60")
    env.setdefault("UPGRADE_POLL_SECONDS", "1")
    env.setdefault("UPGRADE_SLOT_WAIT_SECONDS", "2")
    for key, value in rp_env(f"http://127.0.0.1:{IDP_PORT}").items():
        env.setdefault(key, value)
    # runserver's "development server" banner is a WARNING line on every start; the demo
    # is the development server by design.
    env.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pump(name: str, color: str, proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(f"{color}{name:>8}{RESET} | {line}")
        sys.stdout.flush()


def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.3)
        else:
            return
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def main() -> int:
    VAR.mkdir(exist_ok=True)
    env = demo_env()
    manage = [PY, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, cwd=ROOT)

    procs: list[tuple[str, subprocess.Popen[str]]] = []
    pumps: list[threading.Thread] = []

    def stop() -> None:
        # Last started stops first (beat, worker, web, idp, fleetsim), each through its own
        # main process: the worker then does a warm shutdown and ends its pool children
        # itself. Signalling the whole group would kill those children under it, which the
        # worker reports as ERROR lines. The group is killed only if one does not stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _name, proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # anything left in its group
            proc.wait()

    def on_sigterm(*_: object) -> None:
        sys.exit(0)  # the finally below stops the processes

    # Both explicitly: a shell starting us in the background makes Python ignore SIGINT.
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)

    def start(name: str, argv: list[str]) -> None:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        color = COLORS[len(procs) % len(COLORS)]
        pumper = threading.Thread(target=pump, args=(name, color, proc), daemon=True)
        pumper.start()
        pumps.append(pumper)
        procs.append((name, proc))

    try:
        launch(start, manage, env)
        print(
            f"\nMI Admin is up: http://127.0.0.1:{WEB_PORT}  (personas: devops, manager, ce, "
            f"admin, stranger; password: demo)\n",
            flush=True,
        )
        while True:
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the demo", flush=True)
                    return 1
            time.sleep(0.5)
    finally:
        stop()
        for pumper in pumps:  # their last lines (shutdown messages) before we exit
            pumper.join(timeout=2)
        print("MI Admin stopped.", flush=True)


def launch(start: Callable[[str, list[str]], None], manage: list[str], env: dict[str, str]) -> None:
    """Start the five processes in order, seeding the demo fleet once the simulator answers."""
    web = f"127.0.0.1:{WEB_PORT}"
    start(
        "fleetsim",
        f"{PY} -m fleetsim --host 127.0.0.1 --port {SIM_PORT}"
        f" --state-file {VAR / 'fleetsim.json'}".split(),
    )
    start(
        "idp",
        f"{PY} -m idp --data-dir {VAR / 'idp'} serve --host 127.0.0.1 --port {IDP_PORT}"
        f" --post-logout-redirect-uri http://{web}/login/?logged_out=1".split(),
    )
    wait_http(f"http://127.0.0.1:{SIM_PORT}/__control/ping")
    subprocess.run([*manage, "seed_demo", "--if-empty"], env=env, check=True, cwd=ROOT)
    start("web", [*manage, "runserver", web, "--noreload"])
    # No -Q: one worker consumes every queue of settings.MI_QUEUES (CELERY_TASK_QUEUES).
    start("worker", f"{PY} -m celery -A mi_admin worker -l INFO --concurrency 4 -n demo@%h".split())
    start("beat", f"{PY} -m celery -A mi_admin beat -l INFO".split())
    wait_http(f"http://127.0.0.1:{IDP_PORT}/")
    wait_http(f"http://127.0.0.1:{WEB_PORT}/healthz")


if __name__ == "__main__":
    sys.exit(main())
