"""``generate()`` and ``resubmit()``: validate, upload, price, record (write-ahead), send once, follow.

Everything slow runs off the event loop: probing local files (ffmpeg), hashing them, reading them for
upload, and the fsync'd ledger writes go to worker threads, so widgets and other tasks stay live.

The examples are on ``generate()`` and ``resubmit()`` (each runs against the test session's simulator).
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._client import Client
from .._media import sha256_file
from .._models import R2VRequest
from ..errors import (
    APIError,
    AuthenticationError,
    InsufficientCreditsError,
    Problem,
    RejectedError,
    SeedanceError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
)
from ..notebook import Generation, ProgressLine
from .detached import WaitCancelled
from .follow import follow, request_from_row
from .job import DEFAULT_TIMEOUT_S, Job, OnUpdate, open_job

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["STALE_SUBMITTING_S", "Prepared", "generate", "job_options", "prepare", "resubmit", "send_prepared"]

log = logging.getLogger("seedance_nb")

STALE_SUBMITTING_S = 300.0  # longer than any CreateTask can take: such a row's process died mid-request
_TWIN_WAIT_S = 30.0  # how long to wait for a twin that another coroutine is submitting right now
_TWIN_POLL_S = 0.25


def job_options(**options: Any) -> dict[str, Any]:
    """The ``Job`` options a caller gave (``None`` means "the default")."""
    return {name: value for name, value in options.items() if value is not None}


async def generate(request: R2VRequest | None = None, /, *, client: Client | None = None,
                   log: TaskLog | None = None, timeout: float = DEFAULT_TIMEOUT_S,
                   on_update: OnUpdate | None = None, download: bool = True, full_decode: bool = False,
                   callback_url: str | None = None,
                   new: bool = False, progress: bool | ProgressLine = True, sweep_id: str | None = None,
                   repeat: int | None = None, tags: tuple[str, ...] = (),
                   clock: Callable[[], float] | None = None, sleep: Callable[[float], Awaitable[None]] | None = None,
                   **fields: Any) -> Generation:
    """Generate one video: validate, upload local files, record, submit once, follow, archive.

    Args:
        request: an ``R2VRequest``; or give its fields as keywords (``prompt=..., reference_images=[...]``).
        client: a ``Client`` (default: one from the environment or ``use_simulator()``).
        log: the ``TaskLog`` (default: ``$SEEDANCE_NB_HOME/tasks.sqlite``).
        timeout: the whole-job deadline in seconds (default 30 min); the task stays resumable after it.
        on_update: called with each new ``TaskInfo`` (a plain function or a coroutine function).
        download: archive the video and last frame locally (default true).
        full_decode: verify the archived video by decoding every frame (slower) rather than every packet.
        callback_url: passed to Crun (https; http only on loopback).
        new: submit even if an identical request is already in flight (which would otherwise be followed
            instead of paid for again).
        progress: show a live status line (or a ``ProgressLine`` to show it in, as the form does).
        sweep_id, repeat, tags: recorded in the log with the task.
        clock, sleep: monotonic seconds and the wait between polls (tests inject fake ones).

    Returns:
        The ``Generation``: status, local copy of the video, credits, elapsed time.

    Raises:
        ValidationError: the request is invalid (nothing was sent or recorded).
        InsufficientCreditsError: the estimate says the balance cannot pay (nothing was sent).
        SubmissionUnknownError: CreateTask got no answer; the task is logged as ``unknown``.
        GenerationFailedError / ModerationError: the task ended ``failed`` (``.local_id``, ``.task_id``).
        GenerationTimeout: the deadline passed; ``sn.resume()`` finishes it later.

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> gen = asyncio.run(sn.generate(prompt="[Image1] jumps", reference_images=["https://example.com/a.png"],
        ...                               duration=4, progress=False))
        >>> gen.succeeded, gen.request.duration
        (True, 4)
        >>> events = sn.TaskLog().events(gen.local_id)     # recorded before CreateTask left, then followed
        >>> events.status.iloc[[0, 1, -1]].tolist()
        ['submitting', 'pending', 'success']
    """
    req = R2VRequest.from_fields(request, **fields)
    if req.local_files:
        await asyncio.to_thread(req.check)  # local files are probed with ffmpeg
    else:
        req.check()
    options = job_options(timeout=timeout, on_update=on_update, download=download, full_decode=full_decode,
                          progress=progress, clock=clock, sleep=sleep)
    async with open_job(client=client, log=log, **options) as job:
        prepared = await prepare(job, req, callback_url)
        return await send_prepared(job, prepared, job.line(req.prompt), new=new, sweep_id=sweep_id, repeat=repeat,
                                   tags=tags)


@dataclass(frozen=True)
class Prepared:
    """A checked request ready to send: its exact CreateTask body (local files uploaded), its request hash
    (local files by content) and where each uploaded reference came from."""

    request: R2VRequest
    payload: dict[str, Any]
    request_hash: str
    local_paths: dict[str, str]


async def prepare(job: Job, req: R2VRequest, callback_url: str | None = None) -> Prepared:
    """Hash and upload the local files of a checked request, build its body and check the balance can pay.

    A sweep prepares each distinct request once and sends it as many times as it repeats.
    """
    digests = await asyncio.to_thread(_digests, req) if req.local_files else {}
    sendable = await job.client.upload_references(req, digests=digests)
    payload = sendable.to_payload(callback_url)
    await _check_affordable(job.client, payload)
    local_paths = {str(sendable.references[name][i]): str(path) for name, i, path in req.local_files}
    return Prepared(req, payload, req.request_hash(digests), local_paths)


async def send_prepared(job: Job, prepared: Prepared, line: ProgressLine, *, new: bool = False,
                        sweep_id: str | None = None, repeat: int | None = None, tags: tuple[str, ...] = ()
                        ) -> Generation:
    """Record a prepared request (write-ahead), send it once (or attach to its twin in flight), follow it."""
    begin = {"simulated": job.client.simulated, "sweep_id": sweep_id, "repeat": repeat, "tags": tags,
             "local_paths": prepared.local_paths}
    local_id, created = await _begin(job, prepared.payload, prepared.request_hash, attach=not new, **begin)
    if not created:
        task_id = (job.log.get(local_id) or {})["task_id"]
        line.finish(f"following identical task {local_id} already in flight (new=True pays again)")
    else:
        task_id = await _submit(job, local_id, prepared.payload)
    return await follow(job, local_id, task_id, prepared.request, line)


def _digests(req: R2VRequest) -> dict[Path, str]:
    return {path: sha256_file(path.expanduser()) for _, _, path in req.local_files}


async def _begin(job: Job, payload: dict[str, Any], request_hash: str, *, attach: bool, **begin: Any
                 ) -> tuple[str, bool]:
    """Record the request before it is sent, or attach to an identical one that is not final (never pay twice).

    A twin with a task id is followed. A twin that another caller is submitting right now (no task id yet)
    is waited for, briefly. A twin whose submission is unknown (its answer was lost, or its process died
    while sending) may exist at Crun: nothing is sent, and the error says how to decide.
    """
    waited = 0.0
    while True:
        local_id, created = await _record_before_sending(job, payload, request_hash, attach=attach, **begin)
        if created:
            return local_id, True
        twin = job.log.get(local_id) or {}
        if twin.get("task_id"):
            return local_id, False
        status = twin.get("status")
        if status == "submitting" and _age(job, twin.get("submitted_at")) < STALE_SUBMITTING_S \
                and waited < _TWIN_WAIT_S:
            await job.sleep(_TWIN_POLL_S)
            waited += _TWIN_POLL_S
            continue
        raise SubmissionUnknownError(
            f"an identical request (task log id {local_id}) was sent and its answer never came "
            f"({status}): it may exist at Crun and be paid for, so nothing was sent. Check it, then "
            f"sn.resubmit({local_id!r}) sends that one again, or generate(..., new=True) pays for another run.",
            local_id=local_id)


async def _record_before_sending(job: Job, payload: dict[str, Any], request_hash: str, **begin: Any
                                 ) -> tuple[str, bool]:
    """``ledger.begin_or_attach`` in a worker thread. Interrupted meanwhile, a row the thread still
    writes is marked ``rejected`` (nothing was sent), not left to look like a lost submission."""
    write = asyncio.ensure_future(job.write(job.ledger.begin_or_attach, payload, request_hash, **begin))
    try:
        return await asyncio.shield(write)
    except asyncio.CancelledError:
        write.add_done_callback(lambda done: _never_sent(job, done))
        raise


def _never_sent(job: Job, done: asyncio.Future[tuple[str, bool]]) -> None:
    if not done.cancelled() and done.exception() is None and done.result()[1]:
        job.ledger.mark_rejected(done.result()[0], None, "not sent: interrupted before CreateTask")


def _age(job: Job, moment: datetime | None) -> float:
    return (job.now() - moment).total_seconds() if moment is not None else 0.0


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
        raise InsufficientCreditsError(f"the balance cannot pay for this task ({estimate.describe()}); nothing was "
                                       "sent", code=402, endpoint="/client/job/EstimateTask")


async def _submit(job: Job, local_id: str, payload: dict[str, Any]) -> str:
    """Send CreateTask once and record the definite (or missing) answer in the ledger."""
    ledger = job.ledger
    try:
        task_id = await job.client.create_task(payload)
    except SubmissionUnknownError as exc:
        await job.write(ledger.mark_unknown, local_id, str(exc))
        raise SubmissionUnknownError(f"{exc} [task log id {local_id}: sn.resubmit({local_id!r}) sends it again "
                                     "if you are sure it was not created]", local_id=local_id) from exc
    except APIError as exc:
        await job.write(ledger.mark_rejected, local_id, exc.code, exc.message)
        raise
    except (TransportError, ValidationError) as exc:  # nothing left this machine
        await job.write(ledger.mark_rejected, local_id, None, f"not sent: {exc}")
        raise
    except asyncio.CancelledError:
        # Interrupted while the request may have been on the wire: the task may exist. Recorded here,
        # on the loop, because a cancelled coroutine cannot await a worker thread.
        ledger.mark_unknown(local_id, "interrupted while CreateTask was in flight")
        raise WaitCancelled(
            f"interrupted while CreateTask was in flight (log id {local_id}): the task may exist at Crun and be "
            f"paid for. It is listed as unknown and never resent on its own; sn.resubmit({local_id!r}) sends "
            "it again if you are sure it was not created") from None
    except BaseException:
        ledger.mark_unknown(local_id, "interrupted while CreateTask was in flight")
        raise
    await job.write(ledger.mark_pending, local_id, task_id)
    return task_id


def _check_resendable(row: dict[str, Any], force: bool) -> None:
    """Refuse to resend a task that is being sent now, or that Crun has and that did not fail."""
    local_id, status, task_id = row["local_id"], row["status"], row.get("task_id")
    if status == "submitting":
        raise SeedanceError(f"task {local_id} is being sent right now; if its process died, sn.resume() lists it "
                            "as unknown after a while, then sn.resubmit() can send it again")
    if task_id and status != "failed":
        if not force:
            raise SeedanceError(f"task {local_id} exists at Crun as {task_id} ({status}): sn.resume() follows it "
                                "to its end. Resending pays for it again; pass force=True if you mean that, or "
                                "use sn.generate(..., new=True) for another run of the request")
        warnings.warn(f"resending task {local_id}, which Crun already has as {task_id} ({status}): it is paid "
                      "for twice", stacklevel=3)


async def resubmit(local_id: str, *, client: Client | None = None, log: TaskLog | None = None,
                   timeout: float = DEFAULT_TIMEOUT_S, download: bool = True, progress: bool = True,
                   on_update: OnUpdate | None = None, clock: Callable[[], float] | None = None,
                   sleep: Callable[[float], Awaitable[None]] | None = None, force: bool = False) -> Generation:
    """Send a logged task again on purpose: the only way an ``unknown`` task is ever resent.

    Also works for ``rejected`` and ``failed`` tasks. The same log row is reused, so its history shows both
    submissions. A task that Crun knows (it has a task id) and that did not end ``failed`` is never resent:
    ``sn.resume()`` follows it; ``force=True`` resends it anyway, with a warning (it is paid for twice).

    Raises:
        ValidationError: no such local id in the log.
        SeedanceError: the task is being sent, or Crun has it (``generate(..., new=True)`` pays for another run).

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> sim = sn.use_simulator(latency=0)
        >>> sim.script("createtask", ["lost"])     # the next task is created, but the answer never arrives
        >>> try:
        ...     sn.generate_sync(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
        ...                      progress=False)
        ... except sn.SubmissionUnknownError as exc:
        ...     local_id = exc.local_id
        >>> sn.TaskLog().get(local_id)["status"]
        'unknown'
        >>> asyncio.run(sn.resubmit(local_id, progress=False)).status     # sure it was not made? send it again
        'success'
        >>> asyncio.run(sn.resubmit("t-not-in-the-log"))
        Traceback (most recent call last):
        ...
        seedance_nb.errors.ValidationError: 1 problem in the request (nothing was sent):
        ...
        >>> sn.stop_simulator()
    """
    options = job_options(timeout=timeout, on_update=on_update, download=download, progress=progress,
                          clock=clock, sleep=sleep)
    async with open_job(client=client, log=log, **options) as job:
        row = job.log.get(local_id)
        if row is None:
            raise ValidationError([Problem("local_id", local_id, "is not in the task log",
                                           "Look it up in sn.TaskLog().df().local_id.")])
        _check_resendable(row, force)
        payload = json.loads(row["payload"] or "{}")
        if not payload.get("input"):  # imported without the request it sent: there is nothing exact to resend
            raise ValidationError([Problem("local_id", local_id, "has no stored request (imported without it)",
                                           f"Send its fields as a new task: sn.form(from_={local_id!r}), or "
                                           "sn.generate() with the fields of its row.")])
        await _check_affordable(job.client, payload)
        await job.write(job.ledger.mark_submitting, local_id)
        task_id = await _submit(job, local_id, payload)
        request = request_from_row(row)
        return await follow(job, local_id, task_id, request, job.line(request.prompt))
