"""Probing instances over HTTP: ``/healthz`` and ``/__version``, many at a time.

Pure asyncio + httpx; nothing here touches Django or the database, so the sweep service
(and the benchmark) can call :func:`run_probes` from synchronous code.

Each instance holds one slot of an :class:`asyncio.Semaphore` (``concurrency`` slots) while
its two requests run in parallel. Every request has its own ``timeout`` and the whole probe
of one instance is cut off by :func:`asyncio.wait_for` at the same ``timeout``, so a hung
instance frees its slot after ``timeout`` seconds and never delays the others longer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

HEALTH_PATH = "/healthz"
VERSION_PATH = "/__version"
DEFAULT_CONCURRENCY = 100
DEFAULT_TIMEOUT = 5.0
VERSION_MAX_LENGTH = 32
ERROR_MAX_LENGTH = 255
_BODY_EXCERPT = 120
_VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]*$")


@dataclass(frozen=True)
class ProbeTarget:
    """One instance to probe: its id and base URL (``/healthz`` is appended)."""

    instance_id: int
    base_url: str


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of probing one instance.

    ``ok`` means ``/healthz`` answered 2xx within the timeout; ``latency_ms`` is the time
    ``/healthz`` took (None when it did not answer); ``version`` comes from ``/__version``
    (or, failing that, a healthy ``/healthz`` body, which carries the same string).
    """

    instance_id: int
    probed_at: datetime
    ok: bool
    http_status: int | None = None
    latency_ms: int | None = None
    version: str = ""
    error: str = ""


@dataclass(frozen=True)
class _Answer:
    status: int | None
    body: str
    latency_ms: int | None
    error: str


def _version_from(body: str) -> str:
    text = body.strip()
    if len(text) > VERSION_MAX_LENGTH or not _VERSION_RE.match(text):
        return ""
    return text


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return f"timed out after {timeout:g}s"
    return type(exc).__name__


async def _get(client: httpx.AsyncClient, url: str, timeout: float) -> _Answer:
    started = time.perf_counter()
    try:
        response = await client.get(url)
    except (httpx.HTTPError, OSError) as exc:
        return _Answer(None, "", None, _describe(exc, timeout))
    latency = round((time.perf_counter() - started) * 1000)
    error = "" if response.is_success else f"HTTP {response.status_code}: {response.text}"
    return _Answer(response.status_code, response.text, latency, error[:_BODY_EXCERPT])


def _result(target: ProbeTarget, probed_at: datetime, health: _Answer, ver: _Answer) -> ProbeResult:
    ok = health.status is not None and 200 <= health.status < 300
    version = _version_from(ver.body) if ver.status is not None and ver.status < 300 else ""
    if not version and ok:
        version = _version_from(health.body)
    return ProbeResult(
        instance_id=target.instance_id,
        probed_at=probed_at,
        ok=ok,
        http_status=health.status,
        latency_ms=health.latency_ms,
        version=version,
        error="" if ok else health.error[:ERROR_MAX_LENGTH],
    )


async def probe_one(
    client: httpx.AsyncClient, target: ProbeTarget, *, timeout: float = DEFAULT_TIMEOUT
) -> ProbeResult:
    """Probe one instance; never raises for a network failure or a slow answer."""
    probed_at = datetime.now(tz=UTC)
    base = target.base_url.rstrip("/")
    try:
        health, ver = await asyncio.wait_for(
            asyncio.gather(
                _get(client, base + HEALTH_PATH, timeout),
                _get(client, base + VERSION_PATH, timeout),
            ),
            timeout=timeout,
        )
    except TimeoutError:
        return ProbeResult(
            instance_id=target.instance_id,
            probed_at=probed_at,
            ok=False,
            error=f"timed out after {timeout:g}s",
        )
    return _result(target, probed_at, health, ver)


async def probe_all(
    targets: Sequence[ProbeTarget],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[ProbeResult]:
    """Probe every target, at most ``concurrency`` instances at a time; results in order."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if timeout <= 0:
        raise ValueError("timeout must be > 0")
    slots = asyncio.Semaphore(concurrency)
    lanes = min(concurrency, max(len(targets), 1))
    # One small client per slot ("lane") instead of one shared pool: httpcore scans its
    # whole pool on every request, which turns a 200-connection pool quadratic. Each lane
    # holds the two connections its instance's requests need; one SSL context serves all.
    ssl_context = httpx.create_ssl_context()
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(lanes):
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout),
                limits=limits,
                verify=ssl_context,
                follow_redirects=False,
                trust_env=False,
            )
            free.put_nowait(await stack.enter_async_context(client))

        async def bounded(target: ProbeTarget) -> ProbeResult:
            async with slots:
                client = free.get_nowait()  # a slot always has a free lane
                try:
                    return await probe_one(client, target, timeout=timeout)
                finally:
                    free.put_nowait(client)

        return list(await asyncio.gather(*(bounded(t) for t in targets)))


def run_probes(
    targets: Sequence[ProbeTarget],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[ProbeResult]:
    """:func:`probe_all` from synchronous code (a Celery task, a management command).

    If the calling thread already runs an event loop, the probes run on a helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(probe_all(targets, concurrency=concurrency, timeout=timeout))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        coro = probe_all(targets, concurrency=concurrency, timeout=timeout)
        return pool.submit(asyncio.run, coro).result()
