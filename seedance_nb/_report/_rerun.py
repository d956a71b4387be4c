"""``rerun()``: send the exact payloads of a report again, priced first, into a new sweep.

Each task of the manifest becomes one new task (its repeats too: ``generate(..., new=True)``, so identical
payloads are each paid, not followed), with the manifest's ``repeat`` number, in a new ``sweep_id``. Before
anything is sent, every distinct shape is priced once with EstimateTask and the total is printed and kept
(``df.attrs["estimated_credits"]``); ``dry_run=True`` stops there and returns the plan, and a total above
``max_credits`` raises ``BudgetExceededError`` with nothing sent. A task that fails or is refused stays a row
of the new sweep with its error; it does not stop the others.

The example is on ``rerun()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._client import Client
from .._generate.follow import request_from_row
from .._generate.job import default_log
from .._generate.submit import generate
from .._models import R2VRequest
from ..errors import BudgetExceededError, Problem, ValidationError
from ._manifest import payload_sha256, read_manifest

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["new_sweep_id", "plan_of", "rerun"]

PLAN_COLUMNS = ("position", "from_local_id", "sweep_id", "repeat", "prompt", "payload", "payload_sha256",
                "estimated_credits")


def new_sweep_id() -> str:
    """A fresh sweep id for a rerun: ``rerun-`` and 12 hex digits.

    Example:
        >>> new_sweep_id().startswith("rerun-"), len(new_sweep_id())
        (True, 18)
    """
    return "rerun-" + uuid.uuid4().hex[:12]


def plan_of(manifest: dict[str, Any]) -> list[tuple[dict[str, Any], R2VRequest]]:
    """The tasks of a manifest that can be sent again (those with a recorded payload) and their requests.

    The request is rebuilt from the payload alone, so what is sent is the payload as it was (references
    by the URLs they had, local files by the URL of their upload).

    Raises:
        ValidationError: no task of the manifest has a payload.

    Example:
        >>> body = {"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "[Image1] waves",
        ...         "reference_images": ["https://x.org/a.png"], "resolution": "480p", "aspect_ratio": "16:9",
        ...         "duration": 4, "audio": True, "return_last_frame": False}}
        >>> [(task["local_id"], req.to_payload() == body) for task, req in plan_of({"tasks": [
        ...     {"local_id": "t1", "payload": body}, {"local_id": "t2", "payload": {}}]})]
        [('t1', True)]
    """
    plan = [(task, request_from_row({"payload": json.dumps(task["payload"])}))
            for task in manifest.get("tasks") or [] if isinstance(task.get("payload"), dict)
            and isinstance(task["payload"].get("input"), dict) and task["payload"]["input"]]
    if not plan:
        raise ValidationError([Problem("manifest", manifest.get("_folder"), "lists no task with a recorded payload",
                                       "Rerun a report made by sn.report() from rows of the task log.")])
    return plan


async def _price(client: Client, plan: list[tuple[dict[str, Any], R2VRequest]]) -> list[float]:
    """The estimated credits of each task, asking EstimateTask once per distinct shape."""
    prices: dict[str, float] = {}
    found = []
    for task, request in plan:
        shape = json.dumps(request.shape, sort_keys=True, default=str)
        if shape not in prices:
            estimate = await client.estimate(task["payload"])
            prices[shape] = float(estimate.estimated_credits or 0.0)
        found.append(prices[shape])
    return found


def _plan_frame(plan: list[tuple[dict[str, Any], R2VRequest]], prices: list[float], sweep_id: str) -> pd.DataFrame:
    rows = [{"position": i, "from_local_id": task.get("local_id"), "sweep_id": sweep_id, "repeat": task.get("repeat"),
             "prompt": request.prompt, "payload": json.dumps(task["payload"], ensure_ascii=False),
             "payload_sha256": payload_sha256(task["payload"]), "estimated_credits": price}
            for i, ((task, request), price) in enumerate(zip(plan, prices, strict=True))]
    frame = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    frame["repeat"] = frame["repeat"].astype("Int64")
    frame["estimated_credits"] = frame["estimated_credits"].astype("float64")
    return frame


async def _send(plan: list[tuple[dict[str, Any], R2VRequest]], sweep_id: str, client: Client, log: TaskLog,
                concurrency: int, options: dict[str, Any]) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(task: dict[str, Any], request: R2VRequest) -> None:
        async with gate:
            # a failure's outcome is the task's row in the log (status, code, message), not the rerun's
            with contextlib.suppress(Exception):
                await generate(request, client=client, log=log, new=True, sweep_id=sweep_id,
                               repeat=task.get("repeat"), callback_url=task["payload"].get("callback_url"),
                               **{"progress": False, **options})

    async with asyncio.TaskGroup() as group:  # an interrupted cell cancels every run; sent tasks stay logged
        for task, request in plan:
            group.create_task(one(task, request))


async def rerun(manifest_path: str | os.PathLike[str], *, client: Client | None = None, log: TaskLog | None = None,
                concurrency: int = 8, max_credits: float | None = None, dry_run: bool = False,
                sweep_id: str | None = None, progress: bool = True, **generate_options: Any) -> pd.DataFrame:
    """Send a report's exact payloads again into a new sweep (priced first); returns the new sweep's rows.

    Args:
        manifest_path: the ``manifest.json`` of a report (or its folder).
        client, log: the ``Client`` and ``TaskLog`` (defaults: from the environment).
        concurrency: tasks in flight at once (default 8).
        max_credits: refuse (nothing sent) when the estimated total is above it.
        dry_run: only price: return the plan, one row per task, with ``estimated_credits``.
        sweep_id: the new sweep's id (default: a fresh ``rerun-…``).
        progress: print the estimate and the outcome.
        **generate_options: passed to each ``generate()`` (``timeout=``, ``sleep=``, ``tags=``…).

    Returns:
        The new sweep's rows of ``log.df()`` (or, with ``dry_run``, the plan: ``PLAN_COLUMNS``);
        ``attrs["estimated_credits"]`` holds the estimated total and ``attrs["sweep_id"]`` the new id.

    Raises:
        ValidationError: the manifest cannot be read or lists no payload; ``concurrency`` below 1.
        BudgetExceededError: the estimate is above ``max_credits`` (nothing was sent).

    Example:
        >>> import asyncio, tempfile, seedance_nb as sn
        >>> _ = sn.generate_sync(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
        ...                      duration=4, progress=False)
        >>> page = sn.report(sn.TaskLog().df(), tempfile.mkdtemp() + "/first")
        >>> plan = asyncio.run(sn.rerun(page.parent / "manifest.json", dry_run=True))
        rerun of 1 task from ...: estimated 23.2 credits (1 shape priced) into sweep rerun-...; dry run: nothing sent
        >>> rows = asyncio.run(sn.rerun(page.parent / "manifest.json", progress=False))
        >>> rows.status.tolist(), rows.sweep_id.iloc[0] == rows.attrs["sweep_id"]
        (['success'], True)
    """
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValidationError([Problem("concurrency", concurrency, "must be a whole number of at least 1",
                                       "Use concurrency=8, say.")])
    manifest = await asyncio.to_thread(read_manifest, manifest_path)
    plan = plan_of(manifest)
    new_id = sweep_id or new_sweep_id()
    own_client = client is None
    client_ = client if client is not None else await asyncio.to_thread(Client)
    try:
        prices = await _price(client_, plan)
        total = float(sum(prices))
        plan_df = _plan_frame(plan, prices, new_id)
        plan_df.attrs.update(estimated_credits=total, sweep_id=new_id)
        if progress:
            shapes = len({json.dumps(r.shape, sort_keys=True, default=str) for _, r in plan})
            print(f"rerun of {len(plan)} task{'s' if len(plan) != 1 else ''} from {manifest['_folder']}: estimated "
                  f"{total:g} credits ({shapes} shape{'s' if shapes != 1 else ''} priced) into sweep {new_id}"
                  + ("; dry run: nothing sent" if dry_run else ""))
        if max_credits is not None and total > max_credits:
            raise BudgetExceededError(f"the rerun would cost about {total:g} credits, above max_credits="
                                      f"{max_credits:g}; nothing was sent", estimate=round(total, 6),
                                      cap=float(max_credits))
        if dry_run:
            return plan_df
        return await _run(plan, new_id, client_, log, concurrency, total, progress, generate_options)
    finally:
        if own_client:
            await client_.aclose()


async def _run(plan: list[tuple[dict[str, Any], R2VRequest]], sweep_id: str, client: Client, log: TaskLog | None,
               concurrency: int, total: float, progress: bool, options: dict[str, Any]) -> pd.DataFrame:
    own_log = log is None
    log_ = log if log is not None else await asyncio.to_thread(default_log)
    try:
        await _send(plan, sweep_id, client, log_, concurrency, options)
        frame = await asyncio.to_thread(log_.df)
    finally:
        if own_log:
            await asyncio.to_thread(log_.close)
    rows = frame[(frame["sweep_id"] == sweep_id).fillna(False).astype(bool)].reset_index(drop=True)
    rows.attrs.update(estimated_credits=total, sweep_id=sweep_id)
    if progress:
        counts = rows["status"].value_counts().to_dict()
        print(f"rerun {sweep_id}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
              + f"; {rows['credits'].sum():g} credits charged")
    return rows
