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

__all__ = ["LogDatabase", "connect"]


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
        self.fetch("SELECT 1")  # create the file and the schema now, so errors show at once

    def close(self) -> None:
        """Close every connection opened in this process (the next call opens a new one)."""
        with self._lock:
            _close_all(self._conns, os.getpid())
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        conn = connect(self.path, self.busy_timeout_s)
        with self._lock:
            self._conns.append((os.getpid(), conn))
        self._local.conn, self._local.pid = conn, os.getpid()
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
        with self.errors():
            conn = self._conn()
            if durable:
                conn.execute("PRAGMA synchronous = FULL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                if durable:
                    conn.execute("PRAGMA synchronous = NORMAL")
