"""The simulator's ASGI application: Compute and Cloud SQL Admin APIs, instance frontends and
control API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette

from fleetsim import compute, control, frontend, sqladmin
from fleetsim.sim import Simulator


def create_app(state_file: Path | None = None) -> Starlette:
    sim = Simulator(state_file=state_file)
    sim.load()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        sim.save_now()

    app = Starlette(
        routes=[
            *compute.routes(),
            *sqladmin.routes(),
            *frontend.routes(),
            *control.routes(),
        ],
        lifespan=lifespan,
    )
    app.state.sim = sim
    return app
