"""The admin view, outside the Crun surface and without auth: stats, faults at run time, media expiry.

* ``GET /_simulator/stats`` → ``{tasks_created, credits_charged, balance, callbacks_sent, …}``
* ``GET /_simulator/faults`` → ``{faults, scripts}``; ``POST`` ``{"faults": SPEC}`` (or the spec as plain
  text) replaces the random rates; a bad spec answers 400 with the reason.
* ``POST /_simulator/script`` ``{"endpoint": "createtask", "kinds": ["lost", null, "429"]}``
* ``POST /_simulator/expire-media`` ``{"task_ids": [...]}`` (all tasks when omitted) → ``{expired}``
* ``GET /_simulator`` → what this simulator is and where its API lives.

Example:
    >>> [r.path for r in admin_routes()][0]
    '/_simulator/stats'
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .context import SimContext
from .faults import ENDPOINTS
from .responses import admin_json, read_body

__all__ = ["admin_routes"]


def _ctx(request: Request) -> SimContext:
    ctx: SimContext = request.app.state.ctx
    return ctx


async def _body(request: Request) -> Any:
    raw = await read_body(request, limit=1024 * 1024)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


async def stats(request: Request) -> Response:
    """The counters tests check (how many tasks were really created, what was charged)."""
    return admin_json(_ctx(request).state.stats())


async def faults(request: Request) -> Response:
    """Read or replace the fault spec."""
    ctx = _ctx(request)
    if request.method == "POST":
        body = await _body(request)
        spec = body.get("faults") if isinstance(body, dict) else body
        if spec is not None and not isinstance(spec, str):
            return admin_json({"error": "Send {\"faults\": \"ENDPOINT:KIND=RATE,...\"}."}, 400)
        try:
            ctx.faults.set_spec(spec)
        except ValueError as exc:
            return admin_json({"error": str(exc)}, 400)
    scripts = {ep: ctx.faults.pending_script(ep) for ep in (*ENDPOINTS, "*") if ctx.faults.pending_script(ep)}
    return admin_json({"faults": ctx.faults.spec.text, "scripts": scripts})


async def script(request: Request) -> Response:
    """Script the next calls of one endpoint."""
    body = await _body(request)
    if not isinstance(body, dict) or not isinstance(body.get("endpoint"), str) or not isinstance(
        body.get("kinds"), list
    ):
        return admin_json({"error": "Send {\"endpoint\": \"createtask\", \"kinds\": [\"lost\", null]}."}, 400)
    try:
        _ctx(request).faults.script(body["endpoint"], body["kinds"])
    except ValueError as exc:
        return admin_json({"error": str(exc)}, 400)
    return admin_json({"endpoint": body["endpoint"], "kinds": body["kinds"]})


async def expire_media(request: Request) -> Response:
    """Make result media answer 404."""
    body = await _body(request)
    ids = body.get("task_ids") if isinstance(body, dict) else None
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        return admin_json({"error": "task_ids must be a list of task ids."}, 400)
    return admin_json({"expired": _ctx(request).state.expire_media(ids)})


async def about(request: Request) -> Response:
    """What this server is."""
    ctx = _ctx(request)
    return admin_json({
        "simulator": "seedance_nb Crun simulator",
        "base_url": f"{ctx.root_url}/api/v1",
        "stats": f"{ctx.root_url}/_simulator/stats",
        "faults": ctx.faults.spec.text,
        "latency": list(ctx.knobs.latency),
        "errors_as_200": ctx.knobs.errors_as_200,
        "api_key": "configured" if ctx.knobs.api_key else "any ak_ + 32 letters or digits",
    })


def admin_routes() -> list[Route]:
    """The admin routes under ``/_simulator``."""
    return [
        Route("/_simulator/stats", stats, methods=["GET"]),
        Route("/_simulator/faults", faults, methods=["GET", "POST"]),
        Route("/_simulator/script", script, methods=["POST"]),
        Route("/_simulator/expire-media", expire_media, methods=["POST"]),
        Route("/_simulator", about, methods=["GET"]),
    ]
