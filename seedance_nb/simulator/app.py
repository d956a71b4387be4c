"""The simulator's Starlette app: every route, Crun-style 404/405 answers, and the callback watcher.

The app lives on the server's event loop. Its lifespan records that loop and the stop signal in the
context and runs the ``CallbackDispatcher`` for as long as the server serves.

Example:
    >>> import asyncio, tempfile
    >>> from pathlib import Path
    >>> import httpx
    >>> from .faults import FaultPlan
    >>> from .knobs import Knobs
    >>> from .state import SimState
    >>> knobs = Knobs(balance=250)
    >>> async def balance(app: Starlette) -> object:
    ...     transport = httpx.ASGITransport(app=app)
    ...     async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
    ...         answer = await client.get("/api/v1/client/account/balance", headers={"x-api-key": "ak_" + "0" * 32})
    ...     return answer.json()["data"]
    >>> with tempfile.TemporaryDirectory() as workdir:
    ...     ctx = SimContext.create(knobs, SimState(knobs), FaultPlan(), Path(workdir))
    ...     print(asyncio.run(balance(build_app(ctx))))
    ...     ctx.renderer.close()
    {'balance': 250.0}
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .callbacks import CallbackDispatcher
from .context import SimContext
from .responses import envelope, error
from .routes_admin import admin_routes
from .routes_crun import API_PREFIX, crun_routes
from .routes_storage import storage_routes

__all__ = ["build_app"]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith(API_PREFIX + "/"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    ctx: SimContext = request.app.state.ctx
    if exc.status_code == 404:
        return error(ctx, 404, f"No such endpoint: {request.method} {request.url.path}")
    answer = error(ctx, exc.status_code, exc.detail)
    for name, value in (exc.headers or {}).items():
        answer.headers[name] = value
    return answer


async def _crash(request: Request, exc: Exception) -> Response:
    # Last resort; the routes are written never to get here. Keep the envelope for clients.
    return JSONResponse(envelope(500, "Internal server error"), status_code=500)


def build_app(ctx: SimContext) -> Starlette:
    """The ASGI app of one simulator, bound to ``ctx``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ctx.loop = asyncio.get_running_loop()
        ctx.stopping = asyncio.Event()
        ctx.dispatcher = CallbackDispatcher(ctx)
        watcher = asyncio.create_task(ctx.dispatcher.run(), name="crun-sim-callbacks")
        try:
            yield
        finally:
            ctx.stopping.set()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    app = Starlette(
        routes=[*crun_routes(), *storage_routes(), *admin_routes()],
        exception_handlers={HTTPException: _http_error, Exception: _crash},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app
