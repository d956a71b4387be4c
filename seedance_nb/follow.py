"""Following a task to its end: poll on the learned schedule, record every change, archive the media.

``follow_task`` is the step ``generate()``, ``resume()`` and ``resubmit()`` share once a task has an id.

Example:
    >>> gen = await follow_task(client, log, local_id, task_id, request, timeout=1800, on_update=None,
    ...                         download=True, line=ProgressLine(mode="off"))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .client import Client
from .errors import (
    APIError,
    AuthenticationError,
    GenerationTimeout,
    MediaError,
    MediaExpiredError,
    NotFoundError,
    TransportError,
    error_for_code,
)
from .generation import Generation
from .models import R2VRequest, TaskInfo
from .polling import expected_duration, poll_delays
from .progress import ProgressLine

if TYPE_CHECKING:
    from .tasklog import TaskLog

__all__ = ["archive_result", "follow_task", "generation_from_log", "request_from_row"]

log = logging.getLogger("seedance_nb")
OnUpdate = Callable[[TaskInfo], Any]


async def follow_task(client: Client, tasklog: TaskLog, local_id: str, task_id: str, req: R2VRequest, *,
                  timeout: float, on_update: OnUpdate | None, download: bool, line: ProgressLine) -> Generation:
    """Poll a task to its end (or the deadline), record every change, archive the media."""
    row = tasklog.get(local_id) or {}
    submitted = row.get("submitted_at") or datetime.now(UTC)
    started = time.monotonic()
    elapsed0 = max(0.0, (datetime.now(UTC) - submitted).total_seconds())
    history = tasklog.durations({"model": req.model, "resolution": req.resolution, "duration": req.duration,
                                 "simulated": client.simulated})
    typical = expected_duration(history)
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
        await archive_result(client, tasklog, local_id, info)
    gen = generation_from_log(tasklog, local_id, req, info)
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
    code = info.result_code or 501
    cls = error_for_code(code if code != 200 else 501)
    exc = cls(f"task {info.task_id} failed: {info.result_message or 'no reason given'} (log id {local_id})",
              code=code, endpoint="/client/job/TaskInfo")
    exc.task_id = info.task_id  # type: ignore[attr-defined]
    exc.local_id = local_id  # type: ignore[attr-defined]
    return exc


async def archive_result(client: Client, tasklog: TaskLog, local_id: str, info: TaskInfo) -> None:
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


def generation_from_log(tasklog: TaskLog, local_id: str, req: R2VRequest, info: TaskInfo | None) -> Generation:
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
