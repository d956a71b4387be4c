"""``generate()``, ``generate_sync()``, ``resume()``, ``resubmit()``: the ledger, submit, poll, archive.

Every task is written to the task log *before* CreateTask leaves (write-ahead), so killing the kernel at any
instant loses nothing the server created: a task with an id is picked up by ``resume()``; one whose answer
was lost is ``unknown``, shown loudly, and sent again only by ``resubmit()``. Results are downloaded into
the content-addressed archive as soon as they exist, because Crun's URLs expire.

Example:
    >>> import seedance_nb as sn
    >>> sn.use_simulator()                                                      # doctest: +SKIP
    >>> gen = await sn.generate(prompt="[Image1] waves", reference_images=[Path("me.png")])  # doctest: +SKIP
    >>> gen.status, gen.video_path                                              # doctest: +SKIP
    ('success', PosixPath('/…/seedance-runs/media/3f…e1.mp4'))
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from .client import Client
from .errors import (
    APIError,
    AuthenticationError,
    InsufficientCreditsError,
    RejectedError,
    SeedanceError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
)
from .follow import OnUpdate, archive_result, follow_task, request_from_row
from .generation import Generation
from .media import sha256_file
from .models import R2VRequest
from .progress import ProgressLine

if TYPE_CHECKING:
    import pandas as pd

    from .tasklog import TaskLog

__all__ = ["generate", "generate_sync", "resubmit", "resume", "run_sync"]

log = logging.getLogger("seedance_nb")

DEFAULT_TIMEOUT_S = 30 * 60.0
STALE_SUBMITTING_S = 300.0  # longer than any CreateTask can take: such a row's process died mid-request
T = TypeVar("T")


@asynccontextmanager
async def _session(client: Client | None, tasklog: TaskLog | None) -> AsyncIterator[tuple[Client, TaskLog]]:
    """The given client and log, or fresh defaults that are closed afterwards."""
    from .tasklog import TaskLog

    own = client is None
    client = client or Client()
    try:
        yield client, tasklog if tasklog is not None else TaskLog()
    finally:
        if own:
            await client.aclose()


# -- generate ---------------------------------------------------------------------------------------------

async def generate(request: R2VRequest | None = None, /, *, client: Client | None = None,
                   log: TaskLog | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                   on_update: OnUpdate | None = None, download: bool = True, callback_url: str | None = None,
                   new: bool = False, progress: bool = True, sweep_id: str | None = None,
                   repeat: int | None = None, tags: tuple[str, ...] = (), **fields: Any) -> Generation:
    """Generate one video: validate, upload local files, record, submit once, follow, archive.

    Args:
        request: an ``R2VRequest``; or give its fields as keywords (``prompt=..., reference_images=[...]``).
        client: a ``Client`` (default: one from the environment or ``use_simulator()``).
        log: the ``TaskLog`` (default: ``$SEEDANCE_NB_HOME/tasks.sqlite``).
        timeout: the whole-job deadline in seconds (default 30 min); the task stays resumable after it.
        on_update: called with each new ``TaskInfo`` (a plain function or a coroutine function).
        download: archive the video and last frame locally (default true).
        callback_url: passed to Crun (https; http only on loopback).
        new: submit even if an identical request is already in flight (which would otherwise be followed
            instead of paid for again).
        progress: show a live status line.

    Returns:
        The ``Generation``: status, local copy of the video, credits, elapsed time.

    Raises:
        ValidationError: the request is invalid (nothing was sent or recorded).
        InsufficientCreditsError: the estimate says the balance cannot pay (nothing was sent).
        SubmissionUnknownError: CreateTask got no answer; the task is logged as ``unknown``.
        GenerationFailedError / ModerationError: the task ended ``failed`` (``.local_id``, ``.task_id``).
        GenerationTimeout: the deadline passed; ``sn.resume()`` finishes it later.

    Example:
        >>> gen = await sn.generate(prompt="[Image1] waves", reference_images=["https://x.org/a.png"],
        ...                         duration=4)  # doctest: +SKIP
    """
    req = R2VRequest.from_fields(request, **fields).check()
    async with _session(client, log) as (client_, tasklog):
        line = ProgressLine(mode=None if progress else "off")
        digests = {path: sha256_file(path.expanduser()) for _, _, path in req.local_files}
        request_hash = req.request_hash(digests)
        sendable = await client_.upload_references(req, digests=digests)
        payload = sendable.to_payload(callback_url)
        await _check_affordable(client_, payload)
        # No await between this check and begin(): two coroutines of one loop cannot both pay.
        if not new and (row := await _in_flight(tasklog, request_hash)) is not None:
            line.finish(f"following identical task {row['local_id']} already in flight (new=True pays again)")
            return await follow_task(client_, tasklog, row["local_id"], row["task_id"], req, timeout=timeout,
                                     on_update=on_update, download=download, line=line)
        local_paths = {str(sendable.references[name][i]): str(path) for name, i, path in req.local_files}
        local_id = tasklog.begin(payload, request_hash, simulated=client_.simulated, sweep_id=sweep_id,
                                 repeat=repeat, tags=tags, local_paths=local_paths)
        task_id = await _submit(client_, tasklog, local_id, payload)
        return await follow_task(client_, tasklog, local_id, task_id, req, timeout=timeout, on_update=on_update,
                                 download=download, line=line)


async def _in_flight(tasklog: TaskLog, request_hash: str, wait_s: float = 30.0) -> dict[str, Any] | None:
    """An identical task in flight with a task id; waits briefly for one another coroutine is submitting.

    Returns without awaiting when there is no such row, so the caller's ``begin()`` follows atomically.
    """
    deadline = time.monotonic() + wait_s
    while True:
        row = tasklog.find_in_flight(request_hash)
        if row is None or row.get("task_id"):
            return row
        age = (datetime.now(UTC) - row["submitted_at"]).total_seconds() if row.get("submitted_at") else 0.0
        if age > STALE_SUBMITTING_S or time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.25)


async def _check_affordable(client: Client, payload: dict[str, Any]) -> None:
    """Price the task first, as Crun advises; a 402 here costs nothing. Estimate outages do not block."""
    try:
        estimate = await client.estimate(payload)
    except (RejectedError, AuthenticationError, InsufficientCreditsError):
        raise
    except (APIError, TransportError) as exc:
        log.info("seedance_nb: EstimateTask unavailable (%s); submitting without an estimate", exc)
        return
    if not estimate.affordable:
        raise InsufficientCreditsError(
            f"this task needs about {estimate.estimated_credits:g} credits and the balance is "
            f"{estimate.balance:g}; nothing was sent", code=402, endpoint="/client/job/EstimateTask")


async def _submit(client: Client, tasklog: TaskLog, local_id: str, payload: dict[str, Any]) -> str:
    """Send CreateTask once and record the definite (or missing) answer in the ledger."""
    try:
        task_id = await client.create_task(payload)
    except SubmissionUnknownError as exc:
        tasklog.mark_unknown(local_id, str(exc))
        raise SubmissionUnknownError(f"{exc} [task log id {local_id}: sn.resubmit({local_id!r}) sends it again "
                                     "if you are sure it was not created]", local_id=local_id) from exc
    except APIError as exc:
        tasklog.mark_rejected(local_id, exc.code, exc.message)
        raise
    except TransportError as exc:
        tasklog.mark_rejected(local_id, None, f"not sent: {exc}")
        raise
    except BaseException:
        # Interrupted while the request may have been on the wire: the task may exist.
        tasklog.mark_unknown(local_id, "interrupted while CreateTask was in flight")
        raise
    tasklog.mark_pending(local_id, task_id)
    return task_id


# -- resume and resubmit ------------------------------------------------------------------------------------

async def resume(*, client: Client | None = None, log: TaskLog | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                 download: bool = True, concurrency: int = 8, progress: bool = True,
                 stale_after: float = STALE_SUBMITTING_S) -> pd.DataFrame:
    """Re-attach every unfinished task in the log after a restart, and archive media that finished tasks lack.

    Rows left ``submitting`` for longer than ``stale_after`` seconds belong to a process that died
    mid-request: they become ``unknown`` (listed, never resent).

    Returns:
        One row per task looked at: ``local_id``, ``task_id``, ``before``, ``status``, ``video_path``, ``note``.

    Example:
        >>> await sn.resume()  # doctest: +SKIP
    """
    import pandas as pd

    from .tasklog import TaskLog

    tasklog = log if log is not None else TaskLog()
    for row in tasklog.stale_submitting(stale_after):
        tasklog.mark_unknown(row["local_id"], "its process stopped while CreateTask was in flight")
    todo = [(r, "follow") for r in tasklog.unfinished()] + [(r, "archive") for r in tasklog.missing_media()]
    rows: list[dict[str, Any]] = []
    if todo:  # nothing to poll needs no key
        async with _session(client, tasklog) as (client_, _):
            gate = asyncio.Semaphore(concurrency)

            async def one(row: dict[str, Any], action: str) -> None:
                async with gate:
                    rows.append(await _resume_one(client_, tasklog, row, action, timeout=timeout,
                                                  download=download, progress=progress))

            await asyncio.gather(*(one(r, a) for r, a in todo))
    unknown = tasklog.unknown()
    if unknown and progress:
        ids = ", ".join(r["local_id"] for r in unknown)
        ProgressLine().finish(f"WARNING: {len(unknown)} task(s) with an unknown submission ({ids}): they may "
                              "exist at Crun and be charged; check, then sn.resubmit(local_id) to send one again")
    for row in unknown:
        rows.append({"local_id": row["local_id"], "task_id": row.get("task_id"), "before": "unknown",
                     "status": "unknown", "video_path": None,
                     "note": f"submission unknown: may exist at Crun; sn.resubmit({row['local_id']!r}) sends it again"})
    columns = ["local_id", "task_id", "before", "status", "video_path", "note"]
    return pd.DataFrame(rows, columns=columns)


async def _resume_one(client: Client, tasklog: TaskLog, row: dict[str, Any], action: str, *, timeout: float,
                      download: bool, progress: bool) -> dict[str, Any]:
    local_id, task_id = row["local_id"], row.get("task_id")
    req = request_from_row(row)
    note = ""
    try:
        if action == "follow" and task_id:
            await follow_task(client, tasklog, local_id, task_id, req, timeout=timeout, on_update=None,
                          download=download, line=ProgressLine(mode=None if progress else "off"))
        else:
            info = await client.task_info(task_id) if task_id else None
            if info is not None and info.succeeded:
                await archive_result(client, tasklog, local_id, info)
    except SeedanceError as exc:
        note = f"{type(exc).__name__}: {exc}"
    after = tasklog.get(local_id) or {}
    if after.get("media_error"):
        note = note or f"media not archived: {after['media_error']}"
    return {"local_id": local_id, "task_id": task_id, "before": row.get("status"), "status": after.get("status"),
            "video_path": after.get("video_path"), "note": note}


async def resubmit(local_id: str, *, client: Client | None = None, log: TaskLog | None = None,
                   timeout: float = DEFAULT_TIMEOUT_S, download: bool = True, progress: bool = True,
                   on_update: OnUpdate | None = None) -> Generation:
    """Send a logged task again on purpose: the only way an ``unknown`` task is ever resent.

    Also works for ``rejected`` and ``failed`` tasks. The same log row is reused, so its history shows both
    submissions.

    Example:
        >>> gen = await sn.resubmit("t0190f3c2a1b4")  # doctest: +SKIP
    """
    async with _session(client, log) as (client_, tasklog):
        row = tasklog.get(local_id)
        if row is None:
            raise ValidationError([_problem_local_id(local_id)])
        if row["status"] in ("submitting", "pending", "running", "success"):
            raise SeedanceError(f"task {local_id} is {row['status']}; only unknown, rejected or failed tasks are "
                                "resubmitted (sn.generate(..., new=True) pays for another run of a request)")
        import json

        payload = json.loads(row["payload"])
        await _check_affordable(client_, payload)
        tasklog.mark_submitting(local_id)
        task_id = await _submit(client_, tasklog, local_id, payload)
        return await follow_task(client_, tasklog, local_id, task_id, request_from_row(row), timeout=timeout,
                                 on_update=on_update, download=download,
                                 line=ProgressLine(mode=None if progress else "off"))


def _problem_local_id(local_id: str) -> Any:
    from .errors import Problem

    return Problem("local_id", local_id, "is not in the task log", "Look it up in sn.TaskLog().df().local_id.")


# -- the sync runner -----------------------------------------------------------------------------------------

class _LoopThread:
    """A private event loop on a daemon thread, for running coroutines from code that cannot await."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="seedance-nb-loop", daemon=True)
        self.thread.start()


_loop_thread: _LoopThread | None = None
_loop_lock = threading.Lock()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code.

    With no loop running in this thread it uses ``asyncio.run``; inside Jupyter (a loop is running) it runs
    on a private background loop thread, as ``jupyter_core.utils.run_sync`` does. No nest-asyncio.
    """
    global _loop_thread
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with _loop_lock:
        if _loop_thread is None:
            _loop_thread = _LoopThread()
    return asyncio.run_coroutine_threadsafe(coro, _loop_thread.loop).result()


def generate_sync(request: R2VRequest | None = None, /, **kwargs: Any) -> Generation:
    """``generate()`` for scripts and notebook cells without ``await``; blocks until the task ends.

    Do not call it from a widget callback (it would block the kernel); let the callback schedule
    ``generate()`` instead. A ``client=`` given must not be in use by another event loop.

    Example:
        >>> gen = sn.generate_sync(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])  # doctest: +SKIP
    """
    return run_sync(generate(request, **kwargs))
