"""The Crun surface under ``/api/v1`` (CRUN_API.md §2): tasks, estimates, balance, assets, uploads, models.

Example:
    >>> sorted(r.path for r in crun_routes())[:2]
    ['/api/v1/client/account/balance', '/api/v1/client/files/upload-url']
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._limits import MODEL_RESOLUTIONS
from .catalogue import list_models, model_entry
from .context import SimContext
from .responses import crun_route, error, ok, read_json, rejection
from .state import InsufficientCredits
from .validation import Rejection, TaskRequest, is_http_url, validate_task_body

T = TypeVar("T")

__all__ = ["API_PREFIX", "crun_routes"]

API_PREFIX = "/api/v1"
ASSET_TYPES = ("Image", "Video", "Audio")
# Used with fullmatch; linear: "/" ends the first run and is not in the second.
_MIME = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+")
_EXT = re.compile(r"\.?[A-Za-z0-9]{1,10}")


async def _task_request(request: Request, ctx: SimContext) -> TaskRequest | Rejection:
    body = await read_json(request)
    if isinstance(body, Rejection):
        return body
    return validate_task_body(body, assets=ctx.state.asset_lookup)


@crun_route("createtask")
async def create_task(request: Request, ctx: SimContext) -> Response:
    """POST /client/job/CreateTask → ``{task_id}``; charges the task's credits."""
    checked = await _task_request(request, ctx)
    if isinstance(checked, Rejection):
        return rejection(ctx, checked)
    try:
        task = ctx.state.create_task(checked)
    except InsufficientCredits as exc:
        return error(ctx, 402, str(exc))
    ctx.task_created(task)
    return ok({"task_id": task.task_id})


@crun_route("estimate")
async def estimate_task(request: Request, ctx: SimContext) -> Response:
    """POST /client/job/EstimateTask → ``{estimated_credits, balance, affordable}``."""
    checked = await _task_request(request, ctx)
    if isinstance(checked, Rejection):
        return rejection(ctx, checked)
    cost = ctx.state.price(checked)
    balance = ctx.state.balance()
    return ok({"estimated_credits": cost, "balance": balance, "affordable": balance >= cost})


def _lookup(request: Request, ctx: SimContext, param: str, find: Callable[[str], T | None], what: str) -> T | Response:
    """The object a required query parameter names: 422 when the parameter is missing, 404 when unknown."""
    key = request.query_params.get(param, "").strip()
    if not key:
        return error(ctx, 422, f"{param} is required", [f"{param}: required"])
    found = find(key)
    if found is None:
        return error(ctx, 404, f"{what} not found", [f"{param}: no {what.lower()} {key[:80]!r}"])
    return found


@crun_route("taskinfo")
async def task_info(request: Request, ctx: SimContext) -> Response:
    """GET /client/job/TaskInfo?task_id= → the task object; a successful task starts its render."""
    task = _lookup(request, ctx, "task_id", ctx.state.polled_task, "Task")
    if isinstance(task, Response):
        return task
    data = task.data(ctx.state.now(), ctx.root_url)
    if data["status"] == "success":
        ctx.ensure_render(task)
    return ok(data)


@crun_route("balance")
async def balance(request: Request, ctx: SimContext) -> Response:
    """GET /client/account/balance → ``{balance}``."""
    return ok({"balance": ctx.state.balance()})


@crun_route("asset")
async def asset_upload(request: Request, ctx: SimContext) -> Response:
    """POST /client/job/asset-upload ``{name, asset_type, asset_url}`` → ``{AssetId}`` (review starts)."""
    body = await read_json(request)
    if isinstance(body, Rejection):
        return rejection(ctx, body)
    problems = []
    name, kind, url = body.get("name"), body.get("asset_type"), body.get("asset_url")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: required, a non-empty string")
    if kind not in ASSET_TYPES:
        problems.append(f"asset_type: must be one of {', '.join(ASSET_TYPES)}")
    if not is_http_url(url):
        problems.append("asset_url: required, a public http(s) URL")
    if problems:
        return error(ctx, 422, f"Invalid request: {problems[0]}", problems)
    asset = ctx.state.create_asset(str(name), str(kind), str(url))
    return ok({"AssetId": asset.asset_id})


@crun_route("asset")
async def asset_info(request: Request, ctx: SimContext) -> Response:
    """GET /client/job/asset-info?asset_id= → ``{AssetId, Name, AssetType, Status, CreateTime, UpdateTime}``."""
    asset = _lookup(request, ctx, "asset_id", ctx.state.asset, "Asset")
    if isinstance(asset, Response):
        return asset
    return ok(asset.info(ctx.state.now()))


@crun_route("upload")
async def upload_url(request: Request, ctx: SimContext) -> Response:
    """GET /client/files/upload-url?content_type=&ext= → ``{presigned_url, file_url}``."""
    content_type = request.query_params.get("content_type", "").strip()
    ext = request.query_params.get("ext", "").strip()
    problems = []
    if not _MIME.fullmatch(content_type):
        problems.append("content_type: required, a MIME type such as image/png")
    if ext and not _EXT.fullmatch(ext):
        problems.append("ext: a file extension such as .png")
    if problems:
        return error(ctx, 422, f"Invalid request: {problems[0]}", problems)
    if ext and not ext.startswith("."):
        ext = "." + ext
    ext = ext or mimetypes.guess_extension(content_type) or ""
    upload = ctx.state.new_upload(content_type, ext.lower())
    return ok({
        "presigned_url": f"{ctx.root_url}/_storage/put/{upload.token}",
        "file_url": f"{ctx.root_url}/files/{upload.name}",
    })


@crun_route(None)
async def models(request: Request, ctx: SimContext) -> Response:
    """GET /client/job/Models[?modality=&operation=] → the catalogue."""
    params = request.query_params
    return ok(list_models(params.get("modality") or None, params.get("operation") or None))


@crun_route(None)
async def model_detail(request: Request, ctx: SimContext) -> Response:
    """GET /client/job/Models/{model} → one entry with its ``input_schema``."""
    model = request.path_params["model"]
    if model not in MODEL_RESOLUTIONS:
        return error(ctx, 404, "Model not found", [f"model: no model {model[:80]!r}"])
    return ok(model_entry(model, with_schema=True))


def crun_routes() -> list[Route]:
    """The routes of the Crun surface, under ``/api/v1``."""
    job = f"{API_PREFIX}/client/job"
    return [
        Route(f"{job}/CreateTask", create_task, methods=["POST"]),
        Route(f"{job}/TaskInfo", task_info, methods=["GET"]),
        Route(f"{job}/EstimateTask", estimate_task, methods=["POST"]),
        Route(f"{API_PREFIX}/client/account/balance", balance, methods=["GET"]),
        Route(f"{job}/asset-upload", asset_upload, methods=["POST"]),
        Route(f"{job}/asset-info", asset_info, methods=["GET"]),
        Route(f"{API_PREFIX}/client/files/upload-url", upload_url, methods=["GET"]),
        Route(f"{job}/Models", models, methods=["GET"]),
        Route(f"{job}/Models/{{model:path}}", model_detail, methods=["GET"]),
    ]
