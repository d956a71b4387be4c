"""Outside the Crun API: the presigned PUT, uploaded files and result media (all without ``x-api-key``).

* ``PUT /_storage/put/<token>`` stores raw bytes once per token; the ``Content-Type`` must be the declared
  one (403 otherwise, like a signature mismatch at object storage). Answers plain text.
* ``GET /files/<name>`` serves an uploaded file with its content type.
* ``GET /media/<task_id>.mp4`` and ``/media/<task_id>_1.png`` serve a successful task's render (rendered on
  first need, in a worker thread), with HTTP Range support; 404 once expired.

Example:
    >>> parse_media_name("d6956973-2f17-43d4-8514-af6cc3a2f55d_1.png")
    ('d6956973-2f17-43d4-8514-af6cc3a2f55d', 'png')
"""

from __future__ import annotations

import os
import re

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from .context import SimContext
from .render import RenderError
from .responses import DropResponse, crun_route, declared_too_big

__all__ = ["MAX_UPLOAD_BYTES", "parse_media_name", "storage_routes"]

MAX_UPLOAD_BYTES = 512 * 1024 * 1024
_MEDIA = re.compile(r"(?P<id>[A-Za-z0-9._-]+?)(?P<frame>_1)?\.(?P<ext>mp4|png)")  # used with fullmatch


def parse_media_name(name: str) -> tuple[str, str] | None:
    """``(task_id, "mp4"|"png")`` for a media file name, or ``None``; the PNG is ``<id>_1.png``."""
    match = _MEDIA.fullmatch(name)
    if match is None or (match["ext"] == "png") != bool(match["frame"]):
        return None
    return match["id"], match["ext"]


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


@crun_route("upload", auth=False, plain=True)
async def storage_put(request: Request, ctx: SimContext) -> Response:
    """PUT the raw bytes of a presigned upload."""
    upload = ctx.state.claim_upload(request.path_params["token"])
    if upload is None:
        return PlainTextResponse("The upload URL is invalid, expired or already used.", status_code=403)
    sent = request.headers.get("content-type", "")
    if _media_type(sent) != _media_type(upload.content_type):
        return PlainTextResponse(
            f"Content-Type {sent or '(none)'!r} does not match the signed content type {upload.content_type!r}.",
            status_code=403,
        )
    too_big = PlainTextResponse("The file is larger than the simulator stores (512 MB).", status_code=413)
    if declared_too_big(request, MAX_UPLOAD_BYTES):
        return too_big
    path = ctx.files_dir / upload.name
    size = 0
    with open(path, "wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                break  # the rest is dropped by the server after the answer, never stored
            out.write(chunk)
    if size > MAX_UPLOAD_BYTES:
        os.unlink(path)
        return too_big
    if not ctx.state.complete_upload(upload, str(path), size):
        return PlainTextResponse("The upload URL was already used.", status_code=403)
    return PlainTextResponse("", status_code=200, headers={"ETag": f'"{upload.token[:16]}"'})


@crun_route("media", auth=False, plain=True)
async def uploaded_file(request: Request, ctx: SimContext) -> Response:
    """GET an uploaded file."""
    upload = ctx.state.file(request.path_params["name"])
    if upload is None or upload.path is None:
        return PlainTextResponse("Not Found", status_code=404)
    return FileResponse(upload.path, media_type=upload.content_type)


@crun_route("media", auth=False, plain=True)
async def media(request: Request, ctx: SimContext) -> Response:
    """GET a result video or last frame."""
    parsed = parse_media_name(request.path_params["name"])
    task = ctx.state.task(parsed[0]) if parsed else None
    now = ctx.state.now()
    if (
        parsed is None
        or task is None
        or task.status(now) != "success"
        or ctx.state.media_expired(task, now)
        or (parsed[1] == "png" and not task.request.return_last_frame)
    ):
        return PlainTextResponse("Not Found", status_code=404)
    future = ctx.ensure_render(task)
    if future is None:
        return DropResponse()
    try:
        result = await ctx.wait_render(future)
    except RenderError as exc:
        return PlainTextResponse(f"Render failed: {exc}", status_code=500)
    if result is None:
        return DropResponse()
    if parsed[1] == "mp4":
        return FileResponse(result.video, media_type="video/mp4")
    return FileResponse(result.last_frame, media_type="image/png")


def storage_routes() -> list[Route]:
    """The object-storage and media routes."""
    return [
        Route("/_storage/put/{token}", storage_put, methods=["PUT"]),
        Route("/files/{name}", uploaded_file, methods=["GET", "HEAD"]),
        Route("/media/{name}", media, methods=["GET", "HEAD"]),
    ]
