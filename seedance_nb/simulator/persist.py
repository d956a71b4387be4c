"""``SimStore``: the simulator's tasks, assets, uploads, balance and counters in one SQLite database.

Every change is written through at once, in a short transaction, so the state outlives the process: a new
simulator on the same file carries on after ``stop()``, a kernel restart or a ``kill -9`` (WAL with
``synchronous=NORMAL`` survives any process crash). Money moves inside ``BEGIN IMMEDIATE`` transactions, so
two simulators (two kernels) on one file share one account: neither loses the other's tasks, a task is
charged once and refunded once, and a callback is handed out once. ``SimStore(None)`` keeps the same tables
in memory, for one process only (a plain ``Simulator()``).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> store = SimStore(folder / "state.sqlite", balance=100.0)
    >>> store.bump("tasks_created"); store.close()
    >>> again = SimStore(folder / "state.sqlite", balance=5.0)   # an existing account keeps its balance
    >>> again.balance(), again.counters()["tasks_created"]
    (100.0, 1.0)
    >>> again.close()
"""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .records import Asset, InsufficientCredits, Task, Upload
from .validation import TaskRequest

__all__ = ["SCHEMA_VERSION", "SimStore"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS account (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL UNIQUE, request TEXT NOT NULL,
    created REAL NOT NULL, running_at REAL NOT NULL, final_at REAL NOT NULL, outcome TEXT NOT NULL,
    result_code INTEGER NOT NULL, result_message TEXT NOT NULL, credits REAL NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0, media_expired INTEGER NOT NULL DEFAULT 0,
    callback_due INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tasks_unsettled ON tasks (final_at) WHERE settled = 0;
CREATE INDEX IF NOT EXISTS tasks_callbacks ON tasks (final_at) WHERE callback_due = 1;
CREATE TABLE IF NOT EXISTS assets (
    asset_id TEXT PRIMARY KEY, name TEXT NOT NULL, asset_type TEXT NOT NULL, asset_url TEXT NOT NULL,
    created REAL NOT NULL, ready_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (
    token TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, content_type TEXT NOT NULL, expires_at REAL NOT NULL,
    path TEXT, size INTEGER NOT NULL DEFAULT 0);
"""
_TASK_COLUMNS = ("task_id, request, created, running_at, final_at, outcome, result_code, result_message, credits, "
                 "settled, media_expired")
_BUMP = ("INSERT INTO counters (name, value) VALUES (?, ?) "
         "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value")


class SimStore:
    """The durable (``path``) or in-memory (``None``) store of one simulator account; thread-safe.

    ``balance`` is the starting balance of a new store; an existing one keeps its own.

    Raises:
        RuntimeError: the file is not a simulator state, or a newer seedance_nb wrote it.

    Example:
        >>> store = SimStore(None, balance=10.0)
        >>> store.balance(), store.path
        (10.0, None)
    """

    def __init__(self, path: Path | None, *, balance: float) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._close_at_exit: weakref.finalize[Any, Any] | None = None
        self._initial_balance = float(balance)
        self._connection()

    # -- plumbing ----------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                self._conn = _open(self.path, self._initial_balance)
                self._close_at_exit = weakref.finalize(self, self._conn.close)
            return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (other processes wait on the busy timeout)."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        with self._lock:
            return self._connection().execute(sql, tuple(args)).fetchall()

    def close(self) -> None:
        """Release the file (used again, it is reopened); a store in memory keeps its tables until collected.

        Example:
            >>> SimStore(None, balance=1.0).close()
        """
        with self._lock:
            if self.path is not None and self._close_at_exit is not None:
                self._close_at_exit()
                self._conn = self._close_at_exit = None

    # -- money and counters ------------------------------------------------------------------------------
    def balance(self) -> float:
        """The account's balance now (what was booked; ``settle`` books what time implies)."""
        return float(self._read("SELECT value FROM account WHERE name = 'balance'")[0][0])

    def bump(self, counter: str, amount: float = 1) -> None:
        """Add ``amount`` to a counter."""
        with self._write() as db:
            db.execute(_BUMP, (counter, amount))

    def counters(self) -> dict[str, float]:
        """Every counter by name."""
        return {name: float(value) for name, value in self._read("SELECT name, value FROM counters")}

    def charge_and_add(self, task: Task) -> None:
        """Add ``task`` and charge its credits in one transaction.

        Raises:
            InsufficientCredits: the balance cannot pay; nothing is added or charged.
        """
        with self._write() as db:
            balance = float(db.execute("SELECT value FROM account WHERE name = 'balance'").fetchone()[0])
            if task.credits > balance + 1e-9:
                raise InsufficientCredits(task.credits, round(balance, 4))
            db.execute(f"INSERT INTO tasks ({_TASK_COLUMNS}, callback_due) VALUES ({', '.join('?' * 12)})",
                       (*_task_row(task), int(bool(task.request.callback_url))))
            db.execute("UPDATE account SET value = value - ? WHERE name = 'balance'", (task.credits,))
            db.execute(_BUMP, ("tasks_created", 1))
            db.execute(_BUMP, ("credits_charged", task.credits))

    def settle(self, now: float) -> list[tuple[str, bool]]:
        """Book every task that ended by ``now`` (a failed one gets its credits back), each exactly once.

        Returns:
            ``(task_id, refunded)`` for the tasks this call booked.
        """
        query = "SELECT task_id, outcome, credits FROM tasks WHERE settled = 0 AND final_at <= ?"
        if not self._read(query + " LIMIT 1", (now,)):
            return []  # the common case takes no write lock
        booked: list[tuple[str, bool]] = []
        with self._write() as db:
            for task_id, outcome, credits in db.execute(query, (now,)).fetchall():
                refund = outcome == "failed" and credits > 0
                db.execute("UPDATE tasks SET settled = 1, credits = ? WHERE task_id = ?",
                           (0.0 if refund else credits, task_id))
                if refund:
                    db.execute("UPDATE account SET value = value + ? WHERE name = 'balance'", (credits,))
                    db.execute(_BUMP, ("credits_refunded", credits))
                booked.append((task_id, refund))
        return booked

    # -- tasks -------------------------------------------------------------------------------------------
    def task(self, task_id: str) -> Task | None:
        """The stored task, or ``None``."""
        rows = self._read(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,))
        return _task_of(rows[0]) if rows else None

    def tasks(self) -> list[Task]:
        """Every stored task, oldest first."""
        return [_task_of(row) for row in self._read(f"SELECT {_TASK_COLUMNS} FROM tasks ORDER BY seq")]

    def claim_callbacks(self, now: float) -> list[str]:
        """The ids of tasks whose callback fell due by ``now``; each id is handed out once, to one caller."""
        query = "SELECT task_id FROM tasks WHERE callback_due = 1 AND final_at <= ? ORDER BY final_at"
        if not self._read(query, (now,)):
            return []
        with self._write() as db:
            ids = [row[0] for row in db.execute(query, (now,)).fetchall()]
            db.executemany("UPDATE tasks SET callback_due = 0 WHERE task_id = ?", [(i,) for i in ids])
        return ids

    def next_callback_at(self) -> float | None:
        """When the next callback falls due, if any."""
        value = self._read("SELECT min(final_at) FROM tasks WHERE callback_due = 1")[0][0]
        return None if value is None else float(value)

    def expire_media(self, task_ids: list[str] | None) -> list[str]:
        """Mark the media of these tasks (``None``: all) expired; returns the ids that exist."""
        with self._write() as db:
            if task_ids is None:
                ids = [row[0] for row in db.execute("SELECT task_id FROM tasks")]
            else:
                ids = [i for i in dict.fromkeys(task_ids)
                       if db.execute("SELECT 1 FROM tasks WHERE task_id = ?", (i,)).fetchone()]
            db.executemany("UPDATE tasks SET media_expired = 1 WHERE task_id = ?", [(i,) for i in ids])
        return ids

    # -- assets and uploads ------------------------------------------------------------------------------
    def add_asset(self, asset: Asset) -> bool:
        """Store a new asset and count it; ``False`` (nothing stored) when its id is taken."""
        try:
            with self._write() as db:
                db.execute("INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?)", dataclasses.astuple(asset))
                db.execute(_BUMP, ("assets_created", 1))
        except sqlite3.IntegrityError:
            return False
        return True

    def asset(self, asset_id: str) -> Asset | None:
        """The stored asset, or ``None``."""
        rows = self._read("SELECT * FROM assets WHERE asset_id = ?", (asset_id,))
        return Asset(*rows[0]) if rows else None

    def add_upload(self, upload: Upload) -> None:
        """Store an open upload slot."""
        with self._write() as db:
            db.execute("INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?)", dataclasses.astuple(upload))

    def open_upload(self, token: str) -> Upload | None:
        """The slot of ``token`` if no PUT has completed it yet, or ``None``."""
        rows = self._read("SELECT * FROM uploads WHERE token = ? AND path IS NULL", (token,))
        return Upload(*rows[0]) if rows else None

    def complete_upload(self, token: str, path: str, size: int) -> bool:
        """Record the stored file of an open slot; ``False`` when another PUT completed it first."""
        with self._write() as db:
            done = db.execute("UPDATE uploads SET path = ?, size = ? WHERE token = ? AND path IS NULL",
                              (path, size, token)).rowcount == 1
            if done:
                db.execute(_BUMP, ("uploads_completed", 1))
        return done

    def file(self, name: str) -> Upload | None:
        """The completed upload served under ``name``, or ``None``."""
        rows = self._read("SELECT * FROM uploads WHERE name = ? AND path IS NOT NULL", (name,))
        return Upload(*rows[0]) if rows else None


def _task_row(task: Task) -> tuple[Any, ...]:
    request = json.dumps(dataclasses.asdict(task.request), separators=(",", ":"))
    return (task.task_id, request, task.created, task.running_at, task.final_at, task.outcome, task.result_code,
            task.result_message, task.credits, int(task.settled), int(task.media_expired))


def _task_of(row: tuple[Any, ...]) -> Task:
    fields = json.loads(row[1])
    for name in ("reference_images", "reference_videos", "reference_audios"):
        fields[name] = tuple(fields[name])
    task_id, _, created, running_at, final_at, outcome, code, message, credits, settled, expired = row
    return Task(task_id, TaskRequest(**fields), created, running_at, final_at, outcome, code, message, credits,
                settled=bool(settled), media_expired=bool(expired))


def _open(path: Path | None, balance: float) -> sqlite3.Connection:
    """Open (and if new, create) the store; WAL for a file. Retried while another process creates it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return _open_once(path, balance)
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + random.random() * 0.04)


def _open_once(path: Path | None, balance: float) -> sqlite3.Connection:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    target = ":memory:" if path is None else str(path)
    conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if path is not None:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"The simulator state {path} was written by a newer seedance_nb (schema {version}); "
                               "upgrade, or give the simulator another folder.")
        for statement in filter(str.strip, _SCHEMA.split(";")):  # not executescript: it would commit
            conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO account (name, value) VALUES ('balance', ?)", (balance,))
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            raise
        raise RuntimeError(f"The simulator state {path} cannot be read ({exc}); delete it to start afresh.") from exc
    except BaseException:
        conn.close()
        raise
    return conn
