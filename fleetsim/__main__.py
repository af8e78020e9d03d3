"""Run the fleet simulator: ``python -m fleetsim --host 127.0.0.1 --port 8790``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from fleetsim.app import create_app


def _raise_open_files_limit() -> None:
    """Each concurrent connection holds a file descriptor; 1024 is a common soft limit."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fleetsim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="load the fleet from this JSON file at start and save it on every change",
    )
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--backlog", type=int, default=4096, help="listen backlog (bursts of connections)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    _raise_open_files_limit()
    app = create_app(state_file=args.state_file)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        backlog=args.backlog,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
