"""Following a task to its end: poll on the learned schedule, record every change, archive the media.

``follow`` is the step ``generate()``, ``resume()`` and ``resubmit()`` share once a task has an id. It
waits with the job's ``sleep`` and reads the job's ``clock``, so a test drives it on a fake clock.

Example:
    >>> import asyncio, seedance_nb as sn
    >>> from seedance_nb._generate.job import open_job
    >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://example.com/a.png"], duration=4)
    >>> async def main():
    ...     async with open_job(progress=False, sleep=lambda s: asyncio.sleep(0.1)) as job:   # poll every 0.1 s
    ...         payload = req.to_payload()
    ...         local_id = job.ledger.begin(payload, req.request_hash())      # write-ahead, as generate() does
    ...         task_id = await job.client.create_task(payload)
    ...         job.ledger.mark_pending(local_id, task_id)
    ...         return await follow(job, local_id, task_id, req, job.line())
    >>> gen = asyncio.run(main())
    >>> gen.status, gen.video_path.exists()
    ('success', True)
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .._answers import TaskInfo
from .._limits import INPUT_FIELDS, REFERENCE_FIELDS, TIMING_FIELDS
from .._media import archive
from .._models import R2VRequest
from .._polling import expected_duration, poll_delays
from .._retrying import deadline_scope
from ..errors import (
    APIError,
    AuthenticationError,
    GenerationTimeout,
    MediaError,
    MediaExpiredError,
    NotFoundError,
    TransportError,
    error_for_code,
)
from ..notebook import Generation, ProgressLine
from ..notebook._progress import clock_text as _clock_text
from .detached import WaitCancelled
from .job import Job

__all__ = ["archive_result", "follow", "generation_from_log", "request_from_row"]

log = logging.getLogger("seedance_nb")
_LEDGER_STATUSES = frozenset({"", "unknown", "submitting", "rejected"})
_NOT_FOUND_LIMIT = 3  # a brand-new task may briefly be unknown to a replica: give up on the third 404
_TICK_S = 1.0  # the progress line's elapsed time moves every second
_TRUSTED_HISTORY = 3  # fewer past tasks of a shape than this and the remaining time is called a guess


@dataclass
class _Watch:
    """What one follow has seen so far."""

    local_id: str
    task_id: str
    submitted: datetime
    elapsed0: float  # seconds the task had already run when this follow began
    started: float  # the job's clock when this follow began
    info: TaskInfo | None = None
    not_found: int = 0
    failing_since: float | None = None  # the job's clock at the first of the TaskInfo failures in a row
    failure: str = ""  # the last of them, in a few words


async def follow(job: Job, local_id: str, task_id: str, req: R2VRequest, line: ProgressLine) -> Generation:
    """Poll a task to its end (or the job's deadline), record every change, archive the media.

    Raises:
        GenerationTimeout: the deadline passed first (the task stays resumable).
        GenerationFailedError / ModerationError: the task ended ``failed``.
        asyncio.CancelledError: the wait was interrupted; the message says the task goes on at Crun and how
            to finish it (the progress line says "detached").
    """
    submitted = job.ledger.submitted_at(local_id) or job.now()
    watch = _Watch(local_id, task_id, submitted, max(0.0, (job.now() - submitted).total_seconds()), job.clock())
    history = job.log.durations({**req.shape_of(TIMING_FIELDS), "simulated": job.client.simulated})
    try:
        with deadline_scope(job.deadline, job.clock):
            info = await _poll(job, watch, history, line)
            if info.succeeded and job.download:
                await archive_result(job, local_id, info)
    except asyncio.CancelledError:
        status = watch.info.status if watch.info else "pending"
        line.finish(f"detached · {status} · {_clock_text(_elapsed(job, watch))} · it goes on at Crun")
        raise WaitCancelled(
            f"stopped waiting for task {task_id} (log id {local_id}, {status}): it goes on at Crun and is "
            "paid for; `await sn.resume()` follows it to its end and archives the video") from None
    gen = generation_from_log(job.log, local_id, req, info)
    line.finish(f"{gen.status} · {_clock_text(_elapsed(job, watch))}")  # the caption is under the video
    if not info.succeeded:
        raise _failure(info, local_id)
    return gen


def _elapsed(job: Job, watch: _Watch) -> float:
    return watch.elapsed0 + job.clock() - watch.started


async def _poll(job: Job, watch: _Watch, history: list[float], line: ProgressLine) -> TaskInfo:
    estimate = ExpectedTime(history)

    def tick() -> None:
        elapsed = _elapsed(job, watch)
        status = watch.info.status if watch.info else "pending"
        line.update(status, elapsed=elapsed, remaining=estimate.left(elapsed),
                    extra=_trouble(job, watch) or estimate.note)

    for wait in poll_delays(history, elapsed=watch.elapsed0):
        await _ticking(_ask(job, watch), tick)
        status = watch.info.status if watch.info else "pending"
        if watch.info is not None and watch.info.is_final:
            return watch.info
        if job.time_left() < wait:
            line.finish(f"{status} after {_elapsed(job, watch):.0f}s: deadline reached; sn.resume() finishes it "
                        "later")
            raise GenerationTimeout(f"task {watch.task_id} (log id {watch.local_id}) is still {status} after "
                                    f"{job.timeout:g} s; it goes on at Crun and sn.resume() picks it up",
                                    task_id=watch.task_id, local_id=watch.local_id)
        await _wait_ticking(job, wait, tick)
    raise AssertionError("poll_delays never ends")  # pragma: no cover


def _trouble(job: Job, watch: _Watch) -> str:
    """What the line says while TaskInfo keeps failing: since when, why, and what the user can do."""
    if watch.failing_since is None:
        return ""
    return (f"no answer from Crun for {_clock_text(job.clock() - watch.failing_since)} ({watch.failure}); "
            "still trying (Cancel/interrupt, then sn.resume() later)")


async def _ticking(request: Awaitable[None], tick: Callable[[], None]) -> None:
    """Await ``request`` (a TaskInfo call, whose retries may take a while), refreshing the line every second."""
    pending = asyncio.ensure_future(request)
    try:
        while not (await asyncio.wait({pending}, timeout=_TICK_S))[0]:
            tick()
        pending.result()
    finally:
        pending.cancel()  # interrupted meanwhile: the request goes with it (a no-op once done)


async def _wait_ticking(job: Job, seconds: float, tick: Callable[[], None]) -> None:
    """Wait ``seconds`` between two polls, refreshing the progress line every second meanwhile.

    The wait is counted in the job's own sleeps (not its clock), so an injected sleep keeps its meaning.
    """
    left = seconds
    while True:
        tick()
        if left <= 0:
            return
        step = min(_TICK_S, left)
        await job.sleep(step)
        left -= step


@dataclass(frozen=True)
class ExpectedTime:
    """The expected running time of a task from past tasks of its shape, and how much to trust it."""

    history: list[float]

    @property
    def typical(self) -> float | None:
        return expected_duration(self.history)

    def left(self, elapsed: float) -> float | None:
        typical = self.typical
        return typical - elapsed if typical is not None else None

    @property
    def note(self) -> str:
        count = len(self.history)
        if count == 0:
            return "no estimate yet (no past task of this shape)"
        return f"a guess from {count} past task{'s' if count > 1 else ''}" if count < _TRUSTED_HISTORY else ""


async def _ask(job: Job, watch: _Watch) -> None:
    """One TaskInfo request; a new answer is recorded and passed to ``on_update``."""
    try:
        info = await job.client.task_info(watch.task_id)
        watch.not_found, watch.failing_since = 0, None
    except NotFoundError:
        watch.not_found += 1
        if watch.not_found >= _NOT_FOUND_LIMIT:
            await job.write(job.ledger.record_status, watch.local_id, "failed", error_code=404,
                            error_message="Crun does not know this task id (expired or never created)")
            raise
        return
    except AuthenticationError:
        raise
    except (TransportError, APIError) as exc:
        log.warning("seedance_nb: TaskInfo for %s failed (%s); still polling", watch.task_id, exc)
        if watch.failing_since is None:
            watch.failing_since = job.clock()
        watch.failure = f"{type(exc).__name__}: {str(exc)[:80]}"
        return
    if info == watch.info:
        return
    watch.info = info
    await job.write(_record, job, watch.local_id, info, watch.submitted)
    if job.on_update is not None:
        result = job.on_update(info)
        if inspect.isawaitable(result):
            await result


def _record(job: Job, local_id: str, info: TaskInfo, submitted: datetime) -> None:
    finished = None
    if info.is_final:
        # Server-side running time on the local clock: immune to skew between the two clocks.
        server = (info.completed_at - info.created_at) if info.completed_at and info.created_at else None
        finished = submitted + server if server is not None else job.now()
    failed = info.status == "failed"
    # The ledger's own words are never taken from Crun: a missing status (or one of them) keeps the row's.
    status = None if info.status in _LEDGER_STATUSES else info.status
    job.ledger.record_status(local_id, status, credits=info.credits,
                             error_code=info.result_code if failed else None,
                             error_message=info.result_message if failed else None,
                             video_url=info.video_url, last_frame_url=info.last_frame_url, finished_at=finished,
                             task_info=dict(info.raw))


def _failure(info: TaskInfo, local_id: str) -> APIError:
    code = info.result_code or 501
    cls = error_for_code(code if code != 200 else 501)
    exc = cls(f"task {info.task_id} failed: {info.result_message or 'no reason given'} (log id {local_id})",
              code=code, endpoint="/client/job/TaskInfo")
    exc.task_id = info.task_id  # type: ignore[attr-defined]
    exc.local_id = local_id  # type: ignore[attr-defined]
    return exc


async def archive_result(job: Job, local_id: str, info: TaskInfo) -> None:
    """Download the video (and last frame) into the archive and point the log at them.

    A failed download is recorded with its attempt number (``download attempt 2 failed: …``) and tried
    again by the next ``resume()``; an expired URL (``expired: …``) is gone for good and is not.
    """
    media_dir = Path(job.log.path).parent / "media"
    if not info.video_url:
        await job.write(job.ledger.record_media_error, local_id, "the task succeeded without a video URL")
        return
    try:
        video = await archive(info.video_url, media_dir=media_dir, http=job.client.http, kind="video",
                              full_decode=job.full_decode, check=job.check)
        frame = None
        if info.last_frame_url:
            frame = await archive(info.last_frame_url, media_dir=media_dir, http=job.client.http, kind="image",
                                  check=job.check)
    except MediaExpiredError as exc:
        await job.write(job.ledger.record_media_error, local_id, f"expired: {exc}")
        return
    except MediaError as exc:
        attempt = _attempts((job.log.get(local_id) or {}).get("media_error")) + 1
        await job.write(job.ledger.record_media_error, local_id, f"download attempt {attempt} failed: {exc}")
        return
    await job.write(job.ledger.record_media, local_id, video_path=video.path, video_sha256=video.sha256,
                    width=video.width, height=video.height, fps=video.fps, video_duration_s=video.duration_s,
                    has_audio=video.has_audio, last_frame_path=frame.path if frame else None)


_ATTEMPT = re.compile(r"^download attempt (\d+) failed")


def _attempts(media_error: str | None) -> int:
    """How many archive attempts a recorded media error says have failed (0 for none or another error)."""
    match = _ATTEMPT.match(media_error or "")
    return int(match.group(1)) if match else 0


def generation_from_log(tasklog: Any, local_id: str, req: R2VRequest, info: TaskInfo | None) -> Generation:
    """The ``Generation`` of a logged task as the log now tells it."""
    row = tasklog.get(local_id) or {}

    def path(value: Any) -> Path | None:
        return Path(value) if value else None

    return Generation(local_id=local_id, task_id=row.get("task_id"), status=row.get("status") or "unknown",
                      request=req, info=info, video_path=path(row.get("video_path")),
                      last_frame_path=path(row.get("last_frame_path")), credits=row.get("credits"),
                      elapsed=row.get("elapsed_s"), media_error=row.get("media_error"),
                      simulated=bool(row.get("simulated")) or bool(info and info.simulated))


def request_from_row(row: Mapping[str, Any]) -> R2VRequest:
    """Rebuild the request of a logged task: local files where the user gave them, URLs elsewhere.

    From the recorded payload when there is one; a row imported without it is rebuilt from its columns.

    Example:
        >>> request_from_row({"prompt": "[Image1] waves", "reference_images": ["https://x.org/a.png"],
        ...                   "duration": 4}).duration
        4
    """
    payload = json.loads(row["payload"]) if isinstance(row.get("payload"), str) and row["payload"] else \
        dict(row.get("payload") or {})
    if not payload.get("input"):  # imported without its payload: the row's own columns
        payload = {"model": row.get("model"), "input": {name: row[name] for name in INPUT_FIELDS
                                                        if row.get(name) is not None}}
    fields = dict(payload.get("input") or {})
    fields["prompt"] = fields.get("prompt") if isinstance(fields.get("prompt"), str) else ""
    local = json.loads(row["local_paths"]) if isinstance(row.get("local_paths"), str) else {}
    for name in REFERENCE_FIELDS:
        fields[name] = [Path(local[u]) if u in local and Path(local[u]).exists() else u for u in fields.get(name, [])]
    extra = {k: v for k, v in fields.items() if k not in INPUT_FIELDS}
    kept = {k: v for k, v in fields.items() if k in INPUT_FIELDS}
    return R2VRequest(model=payload.get("model") or R2VRequest.model, extra=extra, **kept)
