"""Running a sweep: what each planned task needs (from the log), then bounded workers on one client.

Each task of the plan is found in the task log by (sweep id, request hash, repeat); the newest row wins.
A task already ``success`` is done; one in flight is followed; an ``unknown`` one is reported, never resent;
a failed or refused one is kept (``retry_failed=True`` sends it again); one that was never sent (no row, a
429, or "not sent") is sent. Workers take the tasks in order; before each submission the budget must admit
its estimate, and a 429 pauses every worker through the shared limiter, then the task is sent again.

Example:
    >>> from seedance_nb._sweep._plan import expand
    >>> plan = expand({"prompt": "[Image1] waves", "reference_images": ["https://x.org/a.png"]}, repeats=2)
    >>> keys = plan_keys(plan)
    >>> done = {"local_id": "t1", "request_hash": keys[0], "repeat": 0, "status": "success", "task_id": "c1"}
    >>> [slot.action for slot in classify(plan, keys, [29.0, 29.0], [done])]
    ['done', 'send']
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._answers import TaskInfo
from .._client import Client
from .._generate.follow import archive_result, follow, request_from_row
from .._generate.job import Job, open_job
from .._generate.submit import Prepared, job_options, prepare, send_prepared
from .._media import sha256_file
from .._media_check import ProcessCheck
from ..errors import RateLimitError, SeedanceError
from ..notebook import Generation
from ._budget import Budget
from ._limiter import SharedLimiter
from ._plan import Planned
from ._progress import SweepBar

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["RATE_LIMIT_TRIES", "Slot", "classify", "plan_keys", "run_slots"]

log = logging.getLogger("seedance_nb")
RATE_LIMIT_TRIES = 6  # a task refused with 429 is sent again after the pause, this many times in all
# From this many tasks to run, downloads are checked in a child process (its start, about 0.3 s, pays off).
PROCESS_CHECK_FROM = 8
_FINAL = ("success", "failed", "rejected")
_LATEST = "ORDER BY submitted_at DESC, local_id DESC LIMIT 1"


@dataclass
class Slot:
    """A planned task and what the sweep does with it: ``send``, ``follow``, ``done``, ``keep``, ``unknown``,
    or, once run, ``skipped`` (the budget) or ``not sent`` (refused before a row was written)."""

    planned: Planned
    key: str  # the request hash (local files by content)
    estimate: float
    action: str = "send"
    row: Mapping[str, Any] | None = None
    note: str | None = None

    @property
    def local_id(self) -> str | None:
        """The task log id of this task's current row, if it has one."""
        return str(self.row["local_id"]) if self.row else None


def plan_keys(plan: Sequence[Planned]) -> list[str]:
    """The request hash of each planned task, local files hashed once each (reads files: run it in a thread)."""
    paths = {path for planned in plan for _, _, path in planned.request.local_files}
    digests: dict[Path, str] = {path: sha256_file(path.expanduser()) for path in paths}
    return [planned.request.request_hash(digests) for planned in plan]


def _never_sent(row: Mapping[str, Any]) -> bool:
    message = str(row.get("error_message") or "")
    return row.get("error_code") == 429 or (row.get("error_code") is None and message.startswith("not sent"))


def _action(row: Mapping[str, Any] | None, retry_failed: bool) -> str:
    if row is None:
        return "send"
    status = row.get("status")
    if status == "success":
        return "done"
    if row.get("task_id") and status not in _FINAL:
        return "follow"
    if status == "failed":
        return "send" if retry_failed else "keep"
    if status == "rejected":
        return "send" if retry_failed or _never_sent(row) else "keep"
    return "unknown"  # unknown, or submitting without a task id: it may exist at Crun; never resent here


def classify(plan: Sequence[Planned], keys: Sequence[str], prices: Sequence[float],
             rows: Sequence[Mapping[str, Any]], retry_failed: bool = False) -> list[Slot]:
    """Match the plan with the sweep's rows (oldest first: the newest per task wins) and decide each action."""
    latest = {(row.get("request_hash"), row.get("repeat")): row for row in rows}
    slots = []
    for planned, key, price in zip(plan, keys, prices, strict=True):
        row = latest.get((key, planned.repeat))
        slots.append(Slot(planned, key, price, _action(row, retry_failed), row))
    return slots


def settled_credits(slot: Slot, row: Mapping[str, Any] | None) -> float | None:
    """What a task cost, for the budget: Crun's credits once final, 0 when refused, else ``None`` (its estimate)."""
    status = row.get("status") if row else None
    if row is None or status == "rejected":
        return 0.0
    if status in ("success", "failed"):
        credits = row.get("credits")
        return float(credits) if credits is not None else (slot.estimate if status == "success" else 0.0)
    return None


@dataclass
class Runner:
    """Everything the workers of one sweep share."""

    client: Client
    log: TaskLog
    sweep_id: str
    budget: Budget
    limiter: SharedLimiter
    bar: SweepBar
    timeout: float
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], Awaitable[None]] | None = None
    prepared: dict[str, Prepared] = field(default_factory=dict)  # by request hash: one upload per request
    group: asyncio.TaskGroup | None = None  # the workers' group, where archiving runs too (set by run_slots)
    archive_room: asyncio.Semaphore | None = None  # at most `concurrency` videos fetched and checked at once
    check: ProcessCheck | None = None  # where downloads are checked: a child process (set by run_slots)
    active: int = 0  # tasks being sent or followed right now
    peak: int = 0  # the most at once (tests check the bound)

    def latest_row(self, slot: Slot) -> dict[str, Any] | None:
        """The task's newest row (a read of one indexed row: on the loop, cheaper than a thread's round trip)."""
        found = self.log._query("WHERE sweep_id = ? AND request_hash = ? AND repeat = ?",
                                (self.sweep_id, slot.key, slot.planned.repeat), _LATEST)
        return found[0] if found else None

    async def send(self, slot: Slot) -> Generation | None:
        """Send the task (a new row each time: repeats are not merged) and follow it; a 429 pauses the sweep.

        The request was checked when the sweep was planned; it is prepared (its local files uploaded) once
        for all its repeats.
        """
        options = job_options(timeout=self.timeout, clock=self.clock, sleep=self.sleep, check=self.check)
        for _ in range(RATE_LIMIT_TRIES):
            await self.limiter.wait()
            try:
                async with open_job(client=self.client, log=self.log, progress=False, download=False,
                                    **options) as job:
                    prepared = self.prepared.get(slot.key) or await prepare(job, slot.planned.request)
                    self.prepared[slot.key] = prepared
                    gen = await send_prepared(job, prepared, job.line(), new=True, sweep_id=self.sweep_id,
                                              repeat=slot.planned.repeat)
                    await self.archive_later(job, gen)
                    return gen
            except RateLimitError as exc:
                self.limiter.pause(exc.retry_after)
                slot.note = str(exc)
            except SeedanceError as exc:  # failed, moderated, refused, timed out: the row tells; the sweep goes on
                slot.note = str(exc)
                return None
        return None

    async def follow(self, slot: Slot) -> Generation | None:
        """Follow a task of an earlier run that is still in flight (as ``resume()`` does)."""
        row = slot.row or {}
        options = job_options(timeout=self.timeout, clock=self.clock, sleep=self.sleep, check=self.check)
        try:
            async with open_job(client=self.client, log=self.log, progress=False, download=False, **options) as job:
                gen = await follow(job, str(row["local_id"]), str(row["task_id"]), request_from_row(dict(row)),
                                   job.line())
                await self.archive_later(job, gen)
                return gen
        except SeedanceError as exc:
            slot.note = str(exc)
            return None

    async def archive_later(self, job: Job, gen: Generation) -> None:
        """Hand a finished task's video to the archive stage (fetched, checked, recorded there), so this worker
        sends its next task meanwhile. Crun sees no more than ``concurrency`` tasks at once either way."""
        if not gen.succeeded or gen.info is None or self.group is None or self.archive_room is None:
            return
        await self.archive_room.acquire()  # back-pressure: the archive never falls far behind
        self.group.create_task(self._archive(job, gen.local_id, gen.info))

    async def _archive(self, job: Job, local_id: str, info: TaskInfo) -> None:
        try:
            await archive_result(job, local_id, info)  # a failed download is recorded on the row; resume() retries
        except Exception:  # one odd file never stops the sweep
            log.exception("seedance_nb: archiving task %s failed", local_id)
        finally:
            if self.archive_room is not None:
                self.archive_room.release()

    async def one(self, slot: Slot) -> None:
        """Run one task (budget first for a new submission) and count it."""
        index = slot.planned.index
        if slot.action == "send" and not self.budget.admit(index, slot.estimate):
            slot.action, slot.note = "skipped", "skipped: budget"
            self.bar.finished("skipped")
            return
        self.bar.started()
        self.active += 1
        self.peak = max(self.peak, self.active)
        gen = None
        try:
            gen = await (self.follow(slot) if slot.action == "follow" else self.send(slot))
        except Exception as exc:  # one odd task never stops the sweep; it stays in the log
            log.exception("seedance_nb: sweep task %d failed", index)
            slot.note = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            self.active -= 1
        # A task that ended normally is told by its Generation (read from the log as it ended); otherwise the log.
        slot.row = ({"local_id": gen.local_id, "task_id": gen.task_id, "status": gen.status, "credits": gen.credits}
                    if gen is not None else self.latest_row(slot))
        if slot.row is None:
            slot.action = "not sent"
        self.budget.settle(index, settled_credits(slot, slot.row))
        status = str(slot.row["status"]) if slot.row else "not sent"
        credits = slot.row.get("credits") if slot.row else None
        self.bar.finished(status, credits, was_in_flight=True)


async def run_slots(runner: Runner, slots: Sequence[Slot], concurrency: int) -> None:
    """Follow the tasks in flight, then send the new ones, ``concurrency`` at a time on one client.

    A task that succeeded is archived in a second stage (at most ``concurrency`` at once) while its worker
    sends the next one. Interrupted (the cell, or the task cancelled), every worker and archiver is cancelled
    and waited for: each task sent is in the log, and ``sn.resume()`` finishes it and archives what is missing
    (running the sweep again follows the tasks in flight).
    """
    todo = deque([s for s in slots if s.action == "follow"] + [s for s in slots if s.action == "send"])
    for slot in slots:
        if slot.action not in ("follow", "send"):
            credits = slot.row.get("credits") if slot.row and slot.action != "unknown" else None
            runner.bar.finished(str(slot.row["status"]) if slot.row else slot.action, credits)

    async def worker() -> None:
        while todo:
            await runner.one(todo.popleft())

    runner.archive_room = asyncio.Semaphore(concurrency)
    runner.check = ProcessCheck() if len(todo) >= PROCESS_CHECK_FROM else None
    try:
        with runner.limiter.attach(runner.client):
            async with asyncio.TaskGroup() as group:
                runner.group = group
                for _ in range(min(concurrency, len(todo))):
                    group.create_task(worker())
    finally:
        if runner.check is not None:
            await runner.check.aclose()
