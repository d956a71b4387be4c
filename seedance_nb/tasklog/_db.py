"""The task log's SQLite plumbing: one connection per thread and process, short transactions, one error map.

``LogDatabase`` knows nothing about tasks. It opens the file in WAL mode with a busy timeout (so several
processes and kernels write at once and read while others write), hands each thread its own connection
(a forked child opens its own), runs writes in ``BEGIN IMMEDIATE`` transactions, and turns sqlite3's errors
into ``SeedanceError`` in one place.

Example:
    >>> import tempfile, pathlib
    >>> db = LogDatabase(pathlib.Path(tempfile.mkdtemp()) / "t.sqlite", busy_timeout_s=5)
    >>> db.fetch("SELECT count(*) FROM tasks")
    [(0,)]
    >>> db.close()
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import SeedanceError
from ._schema import ensure_schema

__all__ = ["Deferred", "LogBusy", "LogDatabase", "connect"]


class LogBusy(Exception):
    """Another writer holds the log: a write tried on the event loop goes to a worker thread instead."""


class Deferred:
    """What the writes of a ``deferring()`` block owe: the fsync of the WAL, once one of them was durable."""

    def __init__(self) -> None:
        self.ticket = 0  # the deferred durable commit this block waits for (0: none)


def connect(path: str | os.PathLike[str], busy_timeout_s: float) -> sqlite3.Connection:
    """Open the log in WAL mode with a busy timeout, in autocommit (transactions are explicit), schema ready.

    Switching a new file to WAL takes an exclusive lock and can answer "database is locked" at once, without
    waiting on the busy handler, while another process creates the same log; opening is retried until the
    busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            return _open(path, busy_timeout_s)
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.04)


def _open(path: str | os.PathLike[str], busy_timeout_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")  # persistent: readers never block writers, nor writers readers
        conn.execute("PRAGMA synchronous = NORMAL")  # in WAL: survives any process crash, fast commits
        conn.execute("PRAGMA foreign_keys = ON")
        ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def _committed(conn: sqlite3.Connection) -> Iterator[None]:
    """The body of an open transaction: COMMIT after it, ROLLBACK if it raised."""
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _close_all(conns: list[tuple[int, sqlite3.Connection]], pid: int) -> None:
    # A forked child must not close its parent's SQLite handles (that would drop the parent's locks).
    for owner, conn in conns:
        if owner == pid == os.getpid():
            conn.close()
    conns.clear()


class LogDatabase:
    """Connections to one SQLite file: per thread, per process, closed together."""

    def __init__(self, path: Path, *, busy_timeout_s: float) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._conns: list[tuple[int, sqlite3.Connection]] = []
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _close_all, self._conns, os.getpid())
        self._commits = 0  # durable commits made without their fsync (deferring) ...
        self._synced = 0  # ... and how many of them an fsync of the WAL covers
        self._syncing: asyncio.Future[None] | None = None
        self.fetch("SELECT 1")  # create the file and the schema now, so errors show at once

    def close(self) -> None:
        """Close every connection opened in this process (the next call opens a new one)."""
        with self._lock:
            _close_all(self._conns, os.getpid())
        self._local = threading.local()

    def _conn(self, name: str = "conn", busy_timeout_s: float | None = None) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, name, None)
        if conn is not None and getattr(self._local, f"{name}_pid", None) == os.getpid():
            return conn
        conn = connect(self.path, self.busy_timeout_s if busy_timeout_s is None else busy_timeout_s)
        with self._lock:
            self._conns.append((os.getpid(), conn))
        setattr(self._local, name, conn)
        setattr(self._local, f"{name}_pid", os.getpid())
        return conn

    @contextmanager
    def errors(self) -> Iterator[None]:
        """The one place sqlite3's errors become ``SeedanceError`` (IntegrityError passes: it is a signal)."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise SeedanceError(
                f"The task log {self.path} failed: {exc}. If another process held it for over "
                f"{self.busy_timeout_s:g} s, try again; if the file is damaged, move it aside "
                "(a new log starts empty)."
            ) from exc

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one read (a consistent snapshot: WAL readers never wait for writers)."""
        with self.errors():
            rows: list[tuple[Any, ...]] = self._conn().execute(sql, params).fetchall()
            return rows

    @contextmanager
    def write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A short write transaction; ``durable`` also fsyncs its commit (for records that guard paid tasks)."""
        # BEGIN IMMEDIATE takes the write lock up front, so a read-then-write never fails half way with
        # SQLITE_BUSY; other writers wait up to busy_timeout_s.
        owed: Deferred | None = getattr(self._local, "deferred", None)
        if owed is not None:
            with self._deferred_write(owed, durable) as conn:
                yield conn
            return
        with self.errors():
            conn = self._conn()
            if durable:
                conn.execute("PRAGMA synchronous = FULL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                with _committed(conn):
                    yield conn
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def deferring(self) -> Iterator[Deferred]:
        """Writes in this block (on this thread) never wait for the lock (``LogBusy`` instead: nothing was
        written) and commit without fsync; a durable one leaves its ticket for ``synced()``.

        For writes on an event loop: a transaction there takes a fraction of a millisecond, and the fsync a
        durable one needs is then done in a worker thread, shared by every commit made before it.
        """
        owed = Deferred()
        self._local.deferred = owed
        try:
            yield owed
        finally:
            self._local.deferred = None

    @contextmanager
    def _deferred_write(self, owed: Deferred, durable: bool) -> Iterator[sqlite3.Connection]:
        with self.errors():
            try:
                conn = self._conn("loop_conn", busy_timeout_s=0.0)  # synchronous=NORMAL: commits are not fsync'd
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise LogBusy(str(exc)) from None
                raise
            with _committed(conn):
                yield conn
        if durable:
            with self._lock:
                self._commits += 1
                owed.ticket = self._commits

    async def synced(self, ticket: int) -> None:
        """Wait until an fsync of the WAL covers deferred commit ``ticket``; waiters share one fsync at a time."""
        while self._synced < ticket:
            running = self._syncing
            if running is None or running.done() or running.get_loop() is not asyncio.get_running_loop():
                running = self._syncing = asyncio.ensure_future(self._sync_now())
            await asyncio.shield(running)

    async def _sync_now(self) -> None:
        target = self._commits
        await asyncio.to_thread(self.sync_wal)
        self._synced = max(self._synced, target)

    def sync_wal(self) -> None:
        """fsync the write-ahead log and its folder: every commit made before this call is then on disk.

        A commit at ``synchronous=NORMAL`` has written its pages into the WAL; this is the fsync that
        ``synchronous=FULL`` would have made (the folder too, for a WAL file created since the last one).
        """
        wal = Path(f"{self.path}-wal")
        # Read-write: Windows flushes only a handle that may write. A folder can be synced on POSIX only.
        targets = [(wal if wal.exists() else self.path, os.O_RDWR)]
        if os.name == "posix":
            targets.append((self.path.parent, os.O_RDONLY))
        try:
            for target, mode in targets:
                fd = os.open(target, mode)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise SeedanceError(f"The task log {self.path} could not be synced to disk: {exc}.") from exc
