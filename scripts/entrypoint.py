#!/usr/bin/env python3
"""The container's entrypoint: one image, one process per container, chosen by subcommand.

    entrypoint.py migrate                 apply database migrations, then exit
    entrypoint.py web                     gunicorn (gunicorn.conf.py: sized from the CPUs)
    entrypoint.py worker [--queues R,..]  a Celery worker; all queues unless limited to roles
                                          of settings.MI_QUEUES (or MI_WORKER_QUEUES=...)
    entrypoint.py beat                    Celery beat (one per deployment)
    entrypoint.py healthcheck             exit 0 if the web answers /readyz (Docker HEALTHCHECK)

Each long-running subcommand replaces this process (exec), so SIGTERM from Docker or a test
reaches gunicorn or Celery itself, which shut down gracefully and exit 0. Arguments after
``--`` are passed on to gunicorn or Celery. The tests run this script (tests/deploy/), so
what the image runs is what is tested.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The project's packages (and its settings module) import from the repository root, as
# they do under manage.py, wherever this script is started from.
sys.path.insert(0, str(ROOT))


def _exec(argv: list[str]) -> None:
    os.chdir(ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(PYTHON, [PYTHON, *argv])  # noqa: S606 (our own interpreter, fixed arguments)


def _log_level() -> str:
    return os.environ.get("LOG_LEVEL", "INFO")


def worker_queues(roles: str) -> list[str]:
    """Queue names for a comma-separated list of roles (``probes,alerts``); empty = all.

    Raw queue names are accepted too, so a worker can be pointed at a queue by its name."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mi_admin.settings")
    from django.conf import settings

    queues: dict[str, str] = settings.MI_QUEUES
    wanted = [role.strip() for role in roles.split(",") if role.strip()]
    if not wanted:
        return list(queues.values())
    names = []
    for role in wanted:
        if role in queues:
            names.append(queues[role])
        elif role in queues.values():
            names.append(role)
        else:
            raise SystemExit(
                f"entrypoint: unknown queue {role!r}; roles are {', '.join(queues)} "
                f"(settings.MI_QUEUES)."
            )
    return names


def cmd_migrate(extra: Sequence[str]) -> None:
    _exec(["manage.py", "migrate", "--noinput", *extra])


def cmd_web(extra: Sequence[str]) -> None:
    _exec(["-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), *extra, "mi_admin.wsgi"])


def cmd_worker(roles: str, extra: Sequence[str]) -> None:
    queues = worker_queues(roles)
    label = "-".join(r.strip() for r in roles.split(",") if r.strip()) or "all"
    argv = ["-m", "celery", "-A", "mi_admin", "worker", "-l", _log_level()]
    argv += ["-Q", ",".join(queues)]
    argv += ["-n", os.environ.get("CELERY_WORKER_NAME") or f"{label}@%h"]
    if os.environ.get("CELERY_POOL"):
        argv += ["--pool", os.environ["CELERY_POOL"]]
    if os.environ.get("CELERY_CONCURRENCY"):
        argv += ["--concurrency", os.environ["CELERY_CONCURRENCY"]]
    _exec([*argv, *extra])


def cmd_beat(extra: Sequence[str]) -> None:
    # The schedule lives in the database (django-celery-beat): no schedule file, no pidfile.
    _exec(["-m", "celery", "-A", "mi_admin", "beat", "-l", _log_level(), "--pidfile=", *extra])


def cmd_healthcheck(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (fixed local URL)
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    extra: list[str] = []
    if "--" in args:
        at = args.index("--")
        args, extra = args[:at], args[at + 1 :]
    parser = argparse.ArgumentParser(prog="entrypoint", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("web", help="gunicorn, configured by gunicorn.conf.py")
    worker = sub.add_parser("worker", help="a Celery worker")
    worker.add_argument(
        "--queues",
        default=os.environ.get("MI_WORKER_QUEUES", ""),
        help="roles of settings.MI_QUEUES, comma-separated (default: all; env MI_WORKER_QUEUES)",
    )
    sub.add_parser("beat", help="Celery beat")
    check = sub.add_parser("healthcheck", help="exit 0 when the web's /readyz answers 200")
    check.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/readyz")
    options = parser.parse_args(args)
    if options.command == "migrate":
        cmd_migrate(extra)
    elif options.command == "web":
        cmd_web(extra)
    elif options.command == "worker":
        cmd_worker(options.queues, extra)
    elif options.command == "beat":
        cmd_beat(extra)
    else:
        return cmd_healthcheck(options.url)
    return 0  # not reached: the subcommands above exec


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
