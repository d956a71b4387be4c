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
import hashlib
import inspect
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .client import Client
from .errors import (
    APIError,
    AuthenticationError,
    GenerationTimeout,
    InsufficientCreditsError,
    MediaError,
    MediaExpiredError,
    NotFoundError,
    RejectedError,
    SeedanceError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
)
from .generation import Generation
from .models import R2VRequest, TaskInfo
from .polling import poll_delays
from .progress import ProgressLine

if TYPE_CHECKING:
    import pandas as pd

    from .tasklog import TaskLog

__all__ = ["generate", "generate_sync", "resubmit", "resume", "run_sync"]

log = logging.getLogger("seedance_nb")

DEFAULT_TIMEOUT_S = 30 * 60.0
STALE_SUBMITTING_S = 300.0  # longer than any CreateTask can take: such a row's process died mid-request
OnUpdate = Callable[[TaskInfo], Any]
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
        digests = {path: _sha256(path) for _, _, path in req.local_files}
        request_hash = req.request_hash(digests)
        sendable = await client_.upload_references(req)
        payload = sendable.to_payload(callback_url)
        await _check_affordable(client_, payload)
        # No await between this check and begin(): two coroutines of one loop cannot both pay.
        if not new and (row := await _in_flight(tasklog, request_hash)) is not None:
            line.finish(f"following identical task {row['local_id']} already in flight (new=True pays again)")
            return await _follow(client_, tasklog, row["local_id"], row["task_id"], req, timeout=timeout,
                                 on_update=on_update, download=download, line=line)
        local_paths = {str(url): str(path) for (_, _, path), url in zip(
            req.local_files, _uploaded_urls(req, sendable), strict=True)}
        local_id = tasklog.begin(payload, request_hash, simulated=client_.simulated, sweep_id=sweep_id,
                                 repeat=repeat, tags=tags, local_paths=local_paths)
        task_id = await _submit(client_, tasklog, local_id, payload)
        return await _follow(client_, tasklog, local_id, task_id, req, timeout=timeout, on_update=on_update,
                             download=download, line=line)


def _uploaded_urls(original: R2VRequest, sendable: R2VRequest) -> list[str]:
    return [str(sendable.references[name][index]) for name, index, _ in original.local_files]


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


# -- following a task -------------------------------------------------------------------------------------

async def _follow(client: Client, tasklog: TaskLog, local_id: str, task_id: str, req: R2VRequest, *,
                  timeout: float, on_update: OnUpdate | None, download: bool, line: ProgressLine) -> Generation:
    """Poll a task to its end (or the deadline), record every change, archive the media."""
    row = tasklog.get(local_id) or {}
    submitted = row.get("submitted_at") or datetime.now(UTC)
    started = time.monotonic()
    elapsed0 = max(0.0, (datetime.now(UTC) - submitted).total_seconds())
    history = tasklog.durations({"model": req.model, "resolution": req.resolution, "duration": req.duration,
                                 "simulated": client.simulated})
    typical = sorted(history)[len(history) // 2] if history else None
    info: TaskInfo | None = None
    new_info: TaskInfo | None
    not_found = 0
    for wait in poll_delays(history, elapsed=elapsed0):
        try:
            new_info = await client.task_info(task_id)
            not_found = 0
        except NotFoundError:
            not_found += 1
            if not_found >= 3:
                tasklog.record_status(local_id, "failed", error_code=404, error_message="Crun does not know "
                                      "this task id (expired or never created)")
                raise
            new_info = info
        except (TransportError, APIError) as exc:
            if isinstance(exc, AuthenticationError):
                raise
            log.warning("seedance_nb: TaskInfo for %s failed (%s); still polling", task_id, exc)
            new_info = info
        if new_info is not None and new_info != info:
            info = new_info
            _record(tasklog, local_id, info, submitted)
            if on_update is not None:
                await _call(on_update, info)
        elapsed = elapsed0 + time.monotonic() - started
        status = info.status if info else "pending"
        if info is not None and info.is_final:
            break
        if time.monotonic() - started + wait > timeout:
            line.finish(f"{status} after {elapsed:.0f}s: deadline reached; sn.resume() finishes it later")
            raise GenerationTimeout(f"task {task_id} (log id {local_id}) is still {status} after {timeout:g} s; "
                                    "it goes on at Crun and sn.resume() picks it up", task_id=task_id,
                                    local_id=local_id)
        line.update(status, elapsed=elapsed, remaining=(typical - elapsed) if typical else None,
                    extra=f"task {task_id[:8]}")
        await asyncio.sleep(wait)
    assert info is not None
    if info.succeeded and download:
        await _archive(client, tasklog, local_id, info)
    gen = _generation(tasklog, local_id, req, info)
    line.finish(gen.caption())
    if not info.succeeded:
        raise _failure(info, local_id)
    return gen


def _record(tasklog: TaskLog, local_id: str, info: TaskInfo, submitted: datetime) -> None:
    finished = None
    if info.is_final:
        # Server-side running time on the local clock: immune to skew between the two clocks.
        server = (info.completed_at - info.created_at) if info.completed_at and info.created_at else None
        finished = submitted + server if server is not None else datetime.now(UTC)
    failed = info.status == "failed"
    tasklog.record_status(local_id, info.status, credits=info.credits,
                          error_code=info.result_code if failed else None,
                          error_message=info.result_message if failed else None,
                          video_url=info.video_url, last_frame_url=info.last_frame_url, finished_at=finished,
                          task_info=dict(info.raw))


async def _call(callback: OnUpdate, info: TaskInfo) -> None:
    result = callback(info)
    if inspect.isawaitable(result):
        await result


def _failure(info: TaskInfo, local_id: str) -> APIError:
    from .errors import error_for_code

    code = info.result_code or 501
    cls = error_for_code(code if code != 200 else 501)
    exc = cls(f"task {info.task_id} failed: {info.result_message or 'no reason given'} (log id {local_id})",
              code=code, endpoint="/client/job/TaskInfo")
    exc.task_id = info.task_id  # type: ignore[attr-defined]
    exc.local_id = local_id  # type: ignore[attr-defined]
    return exc


async def _archive(client: Client, tasklog: TaskLog, local_id: str, info: TaskInfo) -> None:
    """Download the video (and last frame) into the archive and point the log at them."""
    from .media import archive

    media_dir = Path(tasklog.path).parent / "media"
    if not info.video_url:
        tasklog.record_media_error(local_id, "the task succeeded without a video URL")
        return
    try:
        video = await archive(info.video_url, media_dir=media_dir, http=client.http, kind="video")
        frame = None
        if info.last_frame_url:
            frame = await archive(info.last_frame_url, media_dir=media_dir, http=client.http, kind="image")
    except MediaExpiredError as exc:
        tasklog.record_media_error(local_id, f"expired: {exc}")
        return
    except MediaError as exc:
        tasklog.record_media_error(local_id, str(exc))
        return
    tasklog.record_media(local_id, video_path=video.path, video_sha256=video.sha256, width=video.width,
                         height=video.height, fps=video.fps, video_duration_s=video.duration_s,
                         has_audio=video.has_audio, last_frame_path=frame.path if frame else None)


def _generation(tasklog: TaskLog, local_id: str, req: R2VRequest, info: TaskInfo | None) -> Generation:
    row = tasklog.get(local_id) or {}
    def path(value: Any) -> Path | None:
        return Path(value) if value else None

    return Generation(local_id=local_id, task_id=row.get("task_id"), status=row.get("status") or "unknown",
                      request=req, info=info, video_path=path(row.get("video_path")),
                      last_frame_path=path(row.get("last_frame_path")), credits=row.get("credits"),
                      elapsed=row.get("elapsed_s"), media_error=row.get("media_error"),
                      simulated=bool(row.get("simulated")) or bool(info and info.simulated))


def request_from_row(row: Mapping[str, Any]) -> R2VRequest:
    """Rebuild the request of a logged task: local files where the user gave them, URLs elsewhere."""
    import json

    payload = json.loads(row["payload"]) if isinstance(row.get("payload"), str) else dict(row.get("payload") or {})
    fields = dict(payload.get("input") or {})
    local = json.loads(row["local_paths"]) if isinstance(row.get("local_paths"), str) else {}
    for name in ("reference_images", "reference_videos", "reference_audios"):
        fields[name] = [Path(local[u]) if u in local and Path(local[u]).exists() else u for u in fields.get(name, [])]
    known = {"prompt", "reference_images", "reference_videos", "reference_audios", "resolution", "aspect_ratio",
             "duration", "audio", "return_last_frame", "byteplus_fallback"}
    extra = {k: v for k, v in fields.items() if k not in known}
    kept = {k: v for k, v in fields.items() if k in known}
    return R2VRequest(model=payload.get("model") or R2VRequest.model, extra=extra, **kept)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.expanduser().open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    for row in tasklog.unknown():
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
            await _follow(client, tasklog, local_id, task_id, req, timeout=timeout, on_update=None,
                          download=download, line=ProgressLine(mode=None if progress else "off"))
        else:
            info = await client.task_info(task_id) if task_id else None
            if info is not None and info.succeeded:
                await _archive(client, tasklog, local_id, info)
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
        return await _follow(client_, tasklog, local_id, task_id, request_from_row(row), timeout=timeout,
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
