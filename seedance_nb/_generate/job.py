"""``Job``: everything one ``generate()``/``resume()``/``resubmit()`` run works with, in one object.

A job carries the client, the ledger (and through it the task log), the clock and sleep (injectable, so
tests run on a fake clock), the whole-job deadline, the progress setting and the update callback. The
steps of the orchestrator take a job instead of a long list of arguments.

Writes to the ledger go through ``Job.write``: the SQL on the loop when the log is free (a worker thread when
another writer holds it), and a durable commit's fsync in a worker thread, so the loop stays free for widgets
and other tasks.

Example:
    >>> import asyncio, tempfile, pathlib
    >>> from seedance_nb.tasklog import TaskLog
    >>> async def main():
    ...     log = TaskLog(pathlib.Path(tempfile.mkdtemp()) / "tasks.sqlite")
    ...     async with open_job(log=log, timeout=60, progress=False) as job:
    ...         return round(job.time_left()), job.ledger.log is log
    >>> asyncio.run(main())
    (60, True)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .._answers import TaskInfo
from .._client import Client
from .._media import Check
from ..notebook import ProgressLine
from ..notebook._progress import prompt_label

if TYPE_CHECKING:  # the task log loads pandas: imported when a job opens, so `import seedance_nb` stays fast
    from ..tasklog import TaskLog
    from ..tasklog._ledger import Ledger

__all__ = ["DEFAULT_TIMEOUT_S", "Job", "OnUpdate", "client_and_log", "default_log", "ledger_for", "open_job"]

DEFAULT_TIMEOUT_S = 30 * 60.0
OnUpdate = Callable[[TaskInfo], Any]
Sleep = Callable[[float], Awaitable[None]]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """The context of one run of the orchestrator.

    Args:
        client: the Crun client.
        ledger: the write-ahead ledger of the task log.
        timeout: the whole-job deadline in seconds, counted from when the job (or ``restart()``) began.
        on_update: called with each new ``TaskInfo`` (a function or a coroutine function).
        download: archive the result media.
        full_decode: verify an archived video by decoding every frame (about 60 ms for 5 s of 720p) instead of
            checking every packet (about 7 ms; catches truncated, cut and garbled files, not every flipped bit).
        progress: show a live status line; or the ``ProgressLine`` to show it in (the form passes its own).
        check: where downloads are synced and checked (a sweep passes its ``ProcessCheck``); default: a thread.
        clock: monotonic seconds (``time.monotonic``); a test injects a fake one.
        sleep: the coroutine that waits between polls (``asyncio.sleep``); a test injects a fake one.
    """

    client: Client
    ledger: Ledger
    timeout: float = DEFAULT_TIMEOUT_S
    on_update: OnUpdate | None = None
    download: bool = True
    full_decode: bool = False
    progress: bool | ProgressLine = True
    check: Check | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep = asyncio.sleep
    started: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "started", self.clock())

    @property
    def log(self) -> TaskLog:
        """The task log the ledger writes."""
        return self.ledger.log

    @property
    def deadline(self) -> float:
        """The moment (on ``clock``) the job gives up waiting."""
        return self.started + self.timeout

    def time_left(self) -> float:
        """Seconds until the deadline (negative once it passed)."""
        return self.deadline - self.clock()

    def restart(self) -> Job:
        """The same job with its deadline counted from now (``resume()`` gives each task its own)."""
        return replace(self)

    def now(self) -> datetime:
        """The wall-clock time, as the task log's clock tells it (aware, UTC)."""
        return self.ledger.now()

    def line(self, prompt: str | None = None) -> ProgressLine:
        """A new progress line (silent when ``progress`` is off), labelled with the start of ``prompt``;
        the caller's own line when ``progress`` is one."""
        if isinstance(self.progress, ProgressLine):
            return self.progress
        label = prompt_label(prompt) if prompt else "seedance"
        return ProgressLine(mode=None if self.progress else "off", label=label)

    async def write(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a ledger write: on the loop when the log is free, then, for a durable one, wait for the fsync of
        the WAL in a worker thread (one fsync serves every commit made before it); in a worker thread when
        another writer (a kernel, a process) holds the log, so the loop never waits for a lock.

        A write is a fraction of a millisecond of SQL; a trip to a thread for it costs more than that, and
        each of its statements hands the interpreter lock back and forth with the loop.
        """
        from ..tasklog._db import LogBusy  # loaded with the ledger already (a job has one)

        database = self.ledger.log._db
        try:
            with database.deferring() as owed:
                result = method(*args, **kwargs)
        except LogBusy:
            return await asyncio.to_thread(method, *args, **kwargs)
        if owed.ticket:
            await database.synced(owed.ticket)
        return result


def _default_client() -> Client:
    return Client()


def default_log() -> TaskLog:
    """``$SEEDANCE_NB_HOME/tasks.sqlite``; loads pandas the first time: build it in a worker thread."""
    from ..tasklog import TaskLog

    return TaskLog()


@asynccontextmanager
async def client_and_log(client: Client | None, log: TaskLog | None) -> AsyncIterator[tuple[Client, TaskLog]]:
    """The given client and log, or defaults built here (in worker threads) and closed when the block ends."""
    client_ = client if client is not None else await asyncio.to_thread(_default_client)
    try:
        log_ = log if log is not None else await asyncio.to_thread(default_log)
        try:
            yield client_, log_
        finally:
            if log is None:
                await asyncio.to_thread(log_.close)
    finally:
        if client is None:
            await client_.aclose()


def ledger_for(log: TaskLog | None) -> Ledger:
    """The ledger of ``log`` (default: ``$SEEDANCE_NB_HOME/tasks.sqlite``); loads pandas: call it off the loop."""
    from ..tasklog import TaskLog
    from ..tasklog._ledger import Ledger

    return Ledger(log if log is not None else TaskLog())


@asynccontextmanager
async def open_job(*, client: Client | None = None, log: TaskLog | None = None, **options: Any
                   ) -> AsyncIterator[Job]:
    """A ``Job`` on the given client and log, or on defaults that are built (and closed) here.

    Everything slow here runs in worker threads: building a client (an SSL context, 30–40 ms), loading the
    task log's modules the first time (pandas, about 200 ms) and creating a new log (its schema, fsync'd).
    """
    own = client is None
    client_ = client if client is not None else await asyncio.to_thread(_default_client)
    try:
        # A caller's own log means its modules are loaded: its ledger is built here, without a thread's round trip.
        ledger = ledger_for(log) if log is not None else await asyncio.to_thread(ledger_for, log)
        yield Job(client=client_, ledger=ledger, **options)
    finally:
        if own:
            await client_.aclose()
