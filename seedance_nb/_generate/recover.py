"""``resume()``: after a restart, follow every unfinished task of the log to its end and archive what is missing.

Example:
    >>> import asyncio, seedance_nb as sn
    >>> report = asyncio.run(sn.resume(progress=False))
    >>> list(report.columns)
    ['local_id', 'task_id', 'before', 'status', 'video_path', 'note']
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._client import Client
from .._media import clean_partial_downloads
from ..errors import SeedanceError
from ..notebook import ProgressLine
from .follow import archive_result, follow, request_from_row
from .job import DEFAULT_TIMEOUT_S, Job, ledger_for, open_job
from .submit import STALE_SUBMITTING_S, job_options

if TYPE_CHECKING:
    import pandas as pd

    from ..tasklog import TaskLog

__all__ = ["resume"]

log = logging.getLogger("seedance_nb")

_COLUMNS = ["local_id", "task_id", "before", "status", "video_path", "note"]


async def resume(*, client: Client | None = None, log: TaskLog | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 download: bool = True, concurrency: int = 8, progress: bool = True,
                 stale_after: float = STALE_SUBMITTING_S, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> pd.DataFrame:
    """Re-attach every unfinished task in the log after a restart, and archive media that finished tasks lack.

    Rows left ``submitting`` for longer than ``stale_after`` seconds belong to a process that died
    mid-request: they become ``unknown`` (listed, never resent). Each task gets its own ``timeout``.

    Returns:
        One row per task looked at: ``local_id``, ``task_id``, ``before``, ``status``, ``video_path``, ``note``.

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> try:
        ...     sn.generate_sync(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
        ...                      timeout=1, progress=False)     # stop waiting after 1 s (or: the kernel died)
        ... except sn.GenerationTimeout as exc:
        ...     print("unfinished:", [row["local_id"] for row in sn.TaskLog().unfinished()] == [exc.local_id])
        unfinished: True
        >>> report = asyncio.run(sn.resume(progress=False))
        >>> report.status.tolist(), report.video_path.str.endswith(".mp4").tolist()
        (['success'], [True])
    """
    ledger = await asyncio.to_thread(ledger_for, log)  # loads pandas the first time: off the loop
    tasklog = ledger.log
    await asyncio.to_thread(clean_partial_downloads, tasklog.path.parent / "media")
    for row in ledger.stale_submitting(stale_after):
        await asyncio.to_thread(ledger.mark_unknown, row["local_id"],
                                "its process stopped while CreateTask was in flight")
    todo = [(r, "follow") for r in tasklog.unfinished()] + [(r, "archive") for r in tasklog.missing_media()]
    rows: list[dict[str, Any]] = []
    if todo:  # nothing to poll needs no key
        options = job_options(timeout=timeout, download=download, progress=progress, clock=clock, sleep=sleep)
        async with open_job(client=client, log=tasklog, **options) as job:
            gate = asyncio.Semaphore(concurrency)

            async def one(row: dict[str, Any], action: str) -> None:
                async with gate:
                    rows.append(await _resume_one(job.restart(), row, action))

            await asyncio.gather(*(one(r, a) for r, a in todo))
    rows += _unknown_rows(tasklog, progress)
    import pandas as pd  # loaded already, by the task log

    return pd.DataFrame(rows, columns=_COLUMNS)


async def _resume_one(job: Job, row: dict[str, Any], action: str) -> dict[str, Any]:
    local_id, task_id = row["local_id"], row.get("task_id")
    note = ""
    try:
        if action == "follow" and task_id:
            request = request_from_row(row)
            await follow(job, local_id, task_id, request, job.line(request.prompt))
        else:
            info = await job.client.task_info(task_id) if task_id else None
            if info is not None and info.succeeded:
                await archive_result(job, local_id, info)
    except SeedanceError as exc:
        note = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # one odd task must never stop resume() for the others
        log.exception("seedance_nb: resuming %s failed", local_id)
        note = f"unexpected {type(exc).__name__}: {exc}; the task stays in the log for the next resume()"
    after = job.log.get(local_id) or {}
    if after.get("media_error"):
        note = note or f"media not archived: {after['media_error']}"
    return {"local_id": local_id, "task_id": task_id, "before": row.get("status"), "status": after.get("status"),
            "video_path": after.get("video_path"), "note": note}


def _unknown_rows(tasklog: TaskLog, progress: bool) -> list[dict[str, Any]]:
    """The tasks that may exist at Crun without a task id in the log: listed loudly, never resent."""
    unknown = tasklog.unknown()
    if unknown and progress:
        ids = ", ".join(r["local_id"] for r in unknown)
        ProgressLine().finish(f"WARNING: {len(unknown)} task(s) whose submission is unknown ({ids}): they may "
                              "exist at Crun and be charged; check, then sn.resubmit(local_id) to send one again")
    return [{"local_id": row["local_id"], "task_id": None, "before": row["status"], "status": row["status"],
             "video_path": None, "note": _doubt(row)} for row in unknown]


def _doubt(row: dict[str, Any]) -> str:
    local_id = row["local_id"]
    if row["status"] == "submitting":
        return (f"being sent, or its process stopped while sending: may exist at Crun. If that process is gone, "
                f"a later resume() marks it unknown; then sn.resubmit({local_id!r}) sends it again")
    return f"submission unknown: may exist at Crun; sn.resubmit({local_id!r}) sends it again"
