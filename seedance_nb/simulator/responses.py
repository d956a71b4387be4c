"""The Crun envelope, auth, body limits and fault handling shared by every simulator route.

Every Crun answer is ``{code, message, data}`` (plus ``errors`` on 422). An error is sent with the HTTP status
equal to its code, or with HTTP 200 when the simulator runs with ``errors_as_200``. Routes outside the Crun
surface (object storage, media) answer faults with plain text, as a CDN would.

``crun_route`` wraps a handler with the order every call follows: auth (401) → fault for this endpoint →
the handler → ``lost``/``slow`` applied to its answer.

Example:
    >>> key_accepted("ak_" + "a" * 32, None), key_accepted("ak_short", None), key_accepted("x", "x")
    (True, False, True)
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from .._limits import KEY_FORM
from .bodies import MAX_BODY_BYTES, Rejection, parse_json_object
from .context import SimContext
from .faults import CODE_KINDS
from .state import FAULT_COUNTER as _FAULT
from .transport import DropResponse as _Drop

__all__ = [
    "FAULT_MESSAGES",
    "DropResponse",
    "admin_json",
    "crun_route",
    "declared_too_big",
    "envelope",
    "error",
    "key_accepted",
    "ok",
    "read_body",
    "read_json",
    "rejection",
]


FAULT_MESSAGES = {
    401: "Invalid API key",
    402: "Insufficient credits",
    404: "Not found",
    429: "Too many requests",
    451: "Content moderation: the input was refused",
    455: "Service under maintenance, try again later",
    500: "Internal server error",
    501: "Generation failed",
    505: "This feature is disabled",
}

Handler = Callable[[Request, SimContext], Awaitable[Response]]


class DropResponse(Response):
    """A ``Response`` that closes the connection instead of answering (see ``transport.DropResponse``)."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hang up."""
        await _Drop()(scope, receive, send)


def key_accepted(key: str | None, configured: str | None) -> bool:
    """True for exactly the configured key, or (none configured) any key of Crun's form ``ak_`` + 32."""
    if not key:
        return False
    if configured:
        return hmac.compare_digest(key.encode("utf-8", "replace"), configured.encode("utf-8", "replace"))
    return KEY_FORM.fullmatch(key) is not None


def envelope(code: int, message: str, data: Any = None, errors: Sequence[str] = ()) -> dict[str, Any]:
    """The Crun body ``{code, message, data}``, with ``errors`` when there are any."""
    body: dict[str, Any] = {"code": code, "message": message, "data": data}
    if errors:
        body["errors"] = list(errors)
    return body


def ok(data: Any) -> JSONResponse:
    """A success answer."""
    return JSONResponse(envelope(200, "success", data))


def error(ctx: SimContext, code: int, message: str | None = None, errors: Sequence[str] = ()) -> JSONResponse:
    """An error answer: HTTP status = code (or 200 with ``errors_as_200``); 429 carries Retry-After."""
    headers = {"Retry-After": str(ctx.knobs.retry_after)} if code == 429 else None
    status = 200 if ctx.knobs.errors_as_200 else code
    return JSONResponse(envelope(code, message or FAULT_MESSAGES.get(code, "Error"), None, errors),
                        status_code=status, headers=headers)


def rejection(ctx: SimContext, rejected: Rejection) -> JSONResponse:
    """A 422 (or other) answer from a validation ``Rejection``."""
    return error(ctx, rejected.code, rejected.message, rejected.errors)


def declared_too_big(request: Request, limit: int) -> bool:
    """True when the request's ``Content-Length`` is larger than ``limit``."""
    declared = request.headers.get("content-length", "").strip()
    return declared.isdigit() and int(declared) > limit


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or ``None`` as soon as it is known to be larger than ``limit``.

    A declared ``Content-Length`` over the limit is refused before a byte of the body is read, a streamed body
    once ``limit`` is passed. The rest is never buffered: uvicorn reads and drops it after the answer, so the
    connection stays usable and the client still gets to read the answer.
    """
    if declared_too_big(request, limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _size(count: int) -> str:
    return f"{count // 2**20} MiB" if count % 2**20 == 0 else f"{count // 1024} KiB"


async def read_json(request: Request) -> dict[str, Any] | Rejection:
    """The body as a JSON object, or the 422 ``Rejection`` saying why not."""
    body = await read_body(request)
    if body is None:
        return Rejection("Request body too large", (f"body: larger than {_size(MAX_BODY_BYTES)}, the most a JSON "
                                                    "request may carry; send media through upload-url",))
    return parse_json_object(body)


def _plain_fault(ctx: SimContext, code: int) -> PlainTextResponse:
    headers = {"Retry-After": str(ctx.knobs.retry_after)} if code == 429 else None
    return PlainTextResponse(FAULT_MESSAGES.get(code, "Error"), status_code=code, headers=headers)


async def _drain(request: Request) -> None:
    # Read a small body as a normal server would; a large one is left for uvicorn to drop after the answer.
    if declared_too_big(request, MAX_BODY_BYTES):
        return
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return


def crun_route(endpoint: str | None, *, auth: bool = True, plain: bool = False) -> Callable[[Handler], Any]:
    """Wrap ``handler(request, ctx)`` with auth, the endpoint's faults and the envelope for errors.

    Args:
        endpoint: the fault endpoint name (``createtask``, ``media``, …) or ``None`` for no faults.
        auth: require an accepted ``x-api-key``.
        plain: answer faults as plain text (object storage and media are not Crun JSON).
    """

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            ctx: SimContext = request.app.state.ctx
            if auth and not key_accepted(request.headers.get("x-api-key"), ctx.knobs.api_key):
                missing = not request.headers.get("x-api-key")
                await _drain(request)
                return error(ctx, 401, "Missing API key: send it in the x-api-key header" if missing
                             else "Invalid API key")
            kind = ctx.faults.choose(endpoint) if endpoint else None
            if kind is not None:
                ctx.state.bump("faults_injected")
                ctx.state.bump(f"{_FAULT}{endpoint}:{kind}")
            if kind in CODE_KINDS:
                await _drain(request)
                return _plain_fault(ctx, int(kind)) if plain else error(ctx, int(kind))
            if kind == "drop":
                await _drain(request)
                return DropResponse()
            response = await handler(request, ctx)
            if kind == "lost":
                return DropResponse()
            if kind == "slow" and await ctx.sleep_unless_stopping(ctx.knobs.slow_delay):
                return DropResponse()
            return response

        route.__name__ = getattr(handler, "__name__", "route")
        route.__doc__ = handler.__doc__
        return route

    return wrap


def admin_json(data: Any, status: int = 200) -> JSONResponse:
    """A plain JSON answer for the admin view (no Crun envelope)."""
    return JSONResponse(data, status_code=status)
