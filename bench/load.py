"""Load: signed-in people on gunicorn started by the container's entrypoint, on loopback.

Starts the fleet simulator, the local IdP, a Redis of its own, then ``scripts/entrypoint.py``
``migrate`` in a fresh PostgreSQL database, ``manage.py seed_demo`` (the demo fleet), and the
entrypoint's ``web`` (gunicorn, gunicorn.conf.py), ``worker`` and ``beat`` (as
tests/deploy/test_entrypoint.py does). Signs ``--users`` virtual people in through the IdP
over HTTP (the IdP's personas, shared; each virtual person has a cookie jar of its own) and
drives them for ``--seconds``: the fleet list, its htmx refresh (``HX-Request``, filtered
now and then), instance pages, with a think time between clicks; and, ``--ops-per-second``,
a DevOps or Admin person opens an instance page and presses "Sync now" (POST with the CSRF
token), then polls the operation's live partial once. Bounded by ``--seconds`` and
``--max-requests``. Prints requests per second, errors by kind, p50/p95/p99 latency overall
and per page kind, operations requested vs finished (``--drain`` seconds to finish), then
stops every process (also on Ctrl-C). Logs: artifacts/bench-load/.

Run: `.venv/bin/python bench/load.py` (`--seconds 10 --users 5` for a quick run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
from _setup import ROOT, fresh_database  # bench/ is on the path; it adds the root

from fleetsim.process import free_port, running_fleetsim
from idp import DEMO_PASSWORD
from idp.process import running_idp
from tests.deploy.stack import EntrypointStack, RedisServer

LOGS = ROOT / "artifacts" / "bench-load"
DATABASE = os.environ.get("BENCH_LOAD_DATABASE", "mi_admin_bench_load")
# The IdP's personas with a role (``stranger`` has none). Operators may press "Sync now".
OPERATORS = ("devops", "admin")
BROWSERS = ("devops", "admin", "manager", "ce")
# Page kinds a browsing person picks from, with their weights.
BROWSE_MIX = (("fleet list", 3), ("fleet htmx", 4), ("instance", 4))
FILTERS = ("", "", "", "health=down", "version=6.9.1", "q=acme", "lifecycle=active")
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_SYNC_KEY = re.compile(r'name="idempotency_key" value="([0-9a-f-]+)"')
_OPERATION = re.compile(r"/operations/(\d+)/")


class BenchError(RuntimeError):
    pass


@dataclass
class Stats:
    """What the virtual people saw: latencies per page kind, errors by kind."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    sync_posts: int = 0
    operations: set[int] = field(default_factory=set)
    requests: int = 0


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of ``samples`` (the same unit), interpolated between samples."""
    if not samples:
        return (float("nan"),) * 3
    if len(samples) == 1:
        return (samples[0],) * 3
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


@dataclass
class Person:
    """One virtual person: a persona's login in a cookie jar of its own."""

    username: str
    client: httpx.AsyncClient


class Load:
    def __init__(self, web: str, slugs: list[str], options: argparse.Namespace) -> None:
        self.web = web
        self.slugs = slugs
        self.options = options
        self.stats = Stats()
        self.deadline = 0.0
        self.elapsed = 0.0
        self.rng = random.Random(14)

    def running(self) -> bool:
        return time.monotonic() < self.deadline and self.stats.requests < self.options.max_requests

    async def request(
        self, person: Person, kind: str, method: str, path: str, expect: int, **kwargs: Any
    ) -> httpx.Response | None:
        """One timed request; anything but ``expect`` counts as an error of its kind."""
        self.stats.requests += 1
        start = time.perf_counter()
        try:
            response = await person.client.request(method, f"{self.web}{path}", **kwargs)
        except httpx.HTTPError as exc:
            self.stats.errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        self.stats.latencies[kind].append((time.perf_counter() - start) * 1000)
        if response.status_code != expect:
            where = urlsplit(response.headers.get("location", "")).path
            self.stats.errors[f"{kind}: HTTP {response.status_code} {where}".rstrip()] += 1
            return None
        return response

    async def browse(self, person: Person) -> None:
        kinds = [kind for kind, _ in BROWSE_MIX]
        weights = [weight for _, weight in BROWSE_MIX]
        # People do not all click in the same second.
        await asyncio.sleep(self.rng.uniform(0, self.options.think))
        while self.running():
            kind = self.rng.choices(kinds, weights)[0]
            if kind == "instance":
                await self.request(
                    person, kind, "GET", f"/instances/{self.rng.choice(self.slugs)}/", 200
                )
            else:
                query = self.rng.choice(FILTERS)
                headers = {"HX-Request": "true"} if kind == "fleet htmx" else {}
                path = f"/instances/?{query}" if query else "/instances/"
                await self.request(person, kind, "GET", path, 200, headers=headers)
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.options.think)

    async def operate(self, operators: list[Person]) -> None:
        """One "Sync now" a second (``--ops-per-second``), each from a random operator."""
        pending: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.options.ops_per_second
        next_at = time.monotonic()
        while self.running():
            task = asyncio.create_task(self.sync_now(self.rng.choice(operators)))
            pending.add(task)
            task.add_done_callback(pending.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if pending:
            await asyncio.gather(*pending)

    async def sync_now(self, person: Person) -> None:
        slug = self.rng.choice(self.slugs)
        page = await self.request(person, "instance", "GET", f"/instances/{slug}/", 200)
        if page is None:
            return
        key = _SYNC_KEY.search(page.text)
        if key is None:
            self.stats.errors["sync: no Sync-now form on the instance page"] += 1
            return
        self.stats.sync_posts += 1
        response = await self.request(
            person,
            "sync POST",
            "POST",
            f"/instances/{slug}/sync/",
            302,
            data={
                "idempotency_key": key.group(1),
                "csrfmiddlewaretoken": person.client.cookies["mi_admin_csrftoken"],
            },
            headers={"Referer": f"{self.web}/instances/{slug}/"},
        )
        if response is None:
            return
        operation = _OPERATION.search(response.headers.get("location", ""))
        if operation is None:
            self.stats.errors["sync POST: redirect not to an operation"] += 1
            return
        self.stats.operations.add(int(operation.group(1)))
        # The operation page's live partial, as htmx polls it.
        await self.request(
            person,
            "operation htmx",
            "GET",
            f"/operations/{operation.group(1)}/",
            200,
            headers={"HX-Request": "true"},
        )

    async def run(self, people: list[Person]) -> None:
        operators = [person for person in people if person.username in OPERATORS]
        started = time.monotonic()
        self.deadline = started + self.options.seconds
        await asyncio.gather(
            *(self.browse(person) for person in people),
            *([self.operate(operators)] if self.options.ops_per_second > 0 else []),
        )
        self.elapsed = time.monotonic() - started


async def sign_in(web: str, idp_url: str, username: str, timeout: float) -> Person:
    """Sign one person in through the IdP's login form, as a browser does (no JavaScript)."""
    client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    try:
        page = await client.get(f"{web}/oidc/authenticate/", follow_redirects=True)
        if not str(page.url).startswith(idp_url) or urlsplit(str(page.url)).path != "/login/":
            raise BenchError(f"{username}: not sent to the IdP's login page: {page.url}")
        csrf = _CSRF_INPUT.search(page.text)
        if csrf is None:
            raise BenchError(f"{username}: no CSRF token on the IdP's login page")
        done = await client.post(
            str(page.url),
            data={
                "csrfmiddlewaretoken": csrf.group(1),
                "username": username,
                "password": DEMO_PASSWORD,
                "next": parse_qs(urlsplit(str(page.url)).query).get("next", [""])[0],
            },
            follow_redirects=True,
        )
        # MI Admin answers a failed login with its login page, a 200 too.
        signed_in = (await client.get(f"{web}/instances/")).status_code == 200
        if done.status_code != 200 or not str(done.url).startswith(web) or not signed_in:
            raise BenchError(f"{username}: sign-in ended at {done.url} ({done.status_code})")
    except BaseException:
        await client.aclose()
        raise
    return Person(username, client)


async def drive(web: str, idp_url: str, slugs: list[str], options: argparse.Namespace) -> Load:
    names = [BROWSERS[i % len(BROWSERS)] for i in range(options.users)]
    # Sign-ins a few at a time: a morning's logins, not a thundering herd.
    gate = asyncio.Semaphore(8)

    async def one(name: str) -> Person:
        async with gate:
            return await sign_in(web, idp_url, name, options.timeout)

    people = await asyncio.gather(*(one(name) for name in names))
    load = Load(web, slugs, options)
    try:
        await load.run(list(people))
    finally:
        await asyncio.gather(*(person.client.aclose() for person in people))
    return load


def _query(database_url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(sql.encode(), params).fetchall()


def wait_operations(database_url: str, ids: set[int], seconds: float) -> Counter[str]:
    """The requested operations' states once all finished, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        rows = _query(
            database_url,
            "SELECT state, finished_at IS NOT NULL FROM instances_operation WHERE id = ANY(%s)",
            list(ids),
        )
        if all(finished for _, finished in rows) or time.monotonic() > deadline:
            return Counter(
                state if finished else f"unfinished ({state})" for state, finished in rows
            )
        time.sleep(0.5)


def report(load: Load, elapsed: float, states: Counter[str], options: argparse.Namespace) -> None:
    stats = load.stats
    every = [ms for samples in stats.latencies.values() for ms in samples]
    errors = sum(stats.errors.values())
    print(
        f"{options.users} users, {elapsed:.1f} s, think {options.think:.1f} s, "
        f"gunicorn {options.web_workers} x {options.web_threads} threads"
    )
    print(f"requests: {stats.requests} ({stats.requests / elapsed:.1f}/s)")
    print(f"errors: {errors}")
    for kind, count in stats.errors.most_common():
        print(f"  {count:6d}  {kind}")
    print(f"{'latency ms':<16}{'count':>7}{'p50':>9}{'p95':>9}{'p99':>9}")
    rows = [("all", every), *sorted(stats.latencies.items())]
    for kind, samples in rows:
        p50, p95, p99 = percentiles(samples)
        print(f"{kind:<16}{len(samples):>7}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}")
    finished = sum(count for state, count in states.items() if not state.startswith("unfinished"))
    print(
        f"operations: {stats.sync_posts} Sync-now POSTs, {len(stats.operations)} operations "
        f"requested, {finished} finished within {options.drain:.0f} s "
        f"({', '.join(f'{state} {count}' for state, count in sorted(states.items())) or '-'})"
    )


@contextmanager
def stack_env(options: argparse.Namespace) -> Iterator[tuple[EntrypointStack, str, str, str]]:
    """Simulator, IdP, Redis and the entrypoint's processes; all stopped on the way out."""
    LOGS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mi-bench-load-"))
    database_url = fresh_database(DATABASE)
    redis = RedisServer(workdir, log_dir=LOGS)
    stack: EntrypointStack | None = None
    # The IdP's data (its log too) under the logs, afresh each run.
    shutil.rmtree(LOGS / "idp", ignore_errors=True)
    with running_fleetsim() as sim, running_idp(data_dir=LOGS / "idp") as idp:
        try:
            redis.start()
            port = free_port()
            web = f"http://127.0.0.1:{port}"
            stack = EntrypointStack(
                env={
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": "tests.settings",
                    "DATABASE_URL": database_url,
                    "REDIS_URL": redis.url,
                    "CELERY_QUEUE": f"bench-load-{uuid.uuid4().hex[:8]}",
                    **idp.rp_env(),
                    "GCP_COMPUTE_ENDPOINT": sim.base_url,
                    "GCP_ANONYMOUS_CREDENTIALS": "1",
                    "FLEETSIM_URL": sim.base_url,
                    "HOST": "127.0.0.1",
                    "PORT": str(port),
                    "WEB_CONCURRENCY": str(options.web_workers),
                    "GUNICORN_THREADS": str(options.web_threads),
                    "LOG_LEVEL": "WARNING",
                    "GUNICORN_ACCESS_LOG": str(LOGS / "access.log"),
                },
                log_dir=LOGS,
            )
            print(f"starting on {web} (logs: {LOGS.relative_to(ROOT)}/)", flush=True)
            stack.run("migrate")
            seeded = stack_manage(stack, "seed_demo")
            print(f"seed_demo: {seeded.strip().splitlines()[0]}", flush=True)
            stack.spawn("web", "web")
            stack.spawn("worker", "worker")
            stack.spawn("beat", "beat")
            stack.wait_web(web)
            yield stack, web, idp.base_url, database_url
        finally:
            if stack is not None:
                stop_all(stack)
            redis.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def stack_manage(stack: EntrypointStack, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def stop_all(stack: EntrypointStack) -> None:
    """SIGTERM each process, last started first, as Docker stops containers."""
    codes = {}
    for name in ("beat", "worker", "web"):
        if name in stack.processes:
            try:
                codes[name] = stack.stop(name)
            except AssertionError as exc:
                codes[name] = -1
                print(f"{name}: {exc}", file=sys.stderr)
    stack.kill_all()
    unclean = {name: code for name, code in codes.items() if code != 0}
    print(f"stopped {', '.join(codes) or 'nothing'}" + (f"; unclean: {unclean}" if unclean else ""))


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--ops-per-second", type=float, default=1.0)
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between clicks")
    parser.add_argument("--drain", type=float, default=60, help="seconds for operations to end")
    parser.add_argument("--timeout", type=float, default=30, help="per request, seconds")
    parser.add_argument(
        "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "0"))
    )
    parser.add_argument(
        "--web-threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", "4"))
    )
    options = parser.parse_args(argv)
    if options.web_workers <= 0:
        # gunicorn.conf.py's own rule, printed with the figures.
        options.web_workers = 2 * len(os.sched_getaffinity(0)) + 1
    # Ctrl-C (even where a shell started this with SIGINT ignored) and SIGTERM end the run
    # the same way: every process is still stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with stack_env(options) as (stack, web, idp_url, database_url):
            slugs = [row[0] for row in _query(database_url, "SELECT slug FROM instances_instance")]
            print(f"{len(slugs)} instances; signing in {options.users} people", flush=True)
            load = asyncio.run(drive(web, idp_url, slugs, options))
            states = wait_operations(database_url, load.stats.operations, options.drain)
            for name in ("web", "worker", "beat"):
                stack.alive(name)
            report(load, load.elapsed, states, options)
            tracebacks = [name for name in ("web", "worker") if "Traceback" in stack.log(name)]
    except KeyboardInterrupt:
        print("interrupted; every process stopped", file=sys.stderr)
        return 130
    if tracebacks:
        print(f"tracebacks in the logs of: {', '.join(tracebacks)}", file=sys.stderr)
    return 1 if load.stats.errors or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
