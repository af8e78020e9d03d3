"""Each simulated instance's frontend: ``/i/<slug>/healthz`` and ``/i/<slug>/__version``.

Like Sourcegraph's frontend, both answer with the product version string before any
authentication. They follow the VM: a VM that is not RUNNING answers 503 at once, a deleted
one 502 (nothing behind the load balancer). During a reconcile to a new version, healthz is
503 and ``/__version`` still reports the old version. Health modes: ``ok``; ``slow`` (adds
latency); ``error`` (500, as when the database is unreachable); ``never_healthy`` (healthz
500 forever once the next upgrade lands); ``bad_release`` (the version the next upgrade
lands fails healthz while it runs; setting the previous version back heals it); ``hang``
(sleeps, then 504, so clients time out).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fleetsim.sim import Simulator


async def _answer(request: Request, *, health: bool) -> Response:
    sim: Simulator = request.app.state.sim
    slug = str(request.path_params["slug"])
    method = "frontend.healthz" if health else "frontend.version"
    with sim.stats.track(method):
        sim.stats.health_by_slug[slug] += 1
        response = await _evaluate(sim, slug, health=health)
        if response.status_code >= 400:
            sim.stats.error(method)
        return response


async def _evaluate(sim: Simulator, slug: str, *, health: bool) -> Response:
    known, inst = sim.store.instance_by_slug(slug)
    if not known:
        return PlainTextResponse(f"no such instance: {slug}", status_code=404)
    if inst is None:
        return PlainTextResponse("502 Bad Gateway: no backend", status_code=502)
    if inst.status != "RUNNING":
        return PlainTextResponse(f"503 Service Unavailable: VM is {inst.status}", status_code=503)
    if inst.health_mode == "hang":
        await asyncio.sleep(inst.hang_seconds)
        return PlainTextResponse("504 Gateway Timeout", status_code=504)
    if inst.health_mode == "slow" and inst.health_latency > 0:
        await asyncio.sleep(inst.health_latency)
    # The VM may have been stopped or deleted while this request slept.
    known, inst = sim.store.instance_by_slug(slug)
    if inst is None or inst.status != "RUNNING":
        return PlainTextResponse("503 Service Unavailable", status_code=503)
    inst.settle(sim.now())
    if inst.health_mode == "error":
        return PlainTextResponse("500 Internal Server Error: database unreachable", 500)
    if inst.reconcile_target is not None:
        if health:
            return PlainTextResponse(
                f"503 Service Unavailable: deploying {inst.reconcile_target}", status_code=503
            )
        return PlainTextResponse(inst.running_version)
    if health and inst.unhealthy:
        return PlainTextResponse("500 Internal Server Error: frontend unhealthy", 500)
    return PlainTextResponse(inst.running_version)


async def healthz(request: Request) -> Response:
    return await _answer(request, health=True)


async def version(request: Request) -> Response:
    return await _answer(request, health=False)


def routes() -> list[Route]:
    return [
        Route("/i/{slug}/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/i/{slug}/__version", version, methods=["GET", "HEAD"]),
    ]
