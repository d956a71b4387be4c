"""The task log: a write-ahead ledger of every task on SQLite (WAL), with an event history and a DataFrame view.

A row is committed with status ``submitting`` *before* CreateTask is sent, so a kernel killed at any
instant loses no task the server created. Several processes and kernels may write at once (WAL, a 30 s
busy timeout, one connection per thread, short ``BEGIN IMMEDIATE`` transactions) and read while others
write. What the columns mean is here; the schema itself (SQL, dtypes, conversions) is ``tasklog_schema.py``,
the connections ``tasklog_db.py`` and the fast DataFrame build ``tasklog_frame.py``.

Statuses: ``submitting`` (row written, CreateTask not yet answered) → ``pending`` + task id, or
``rejected`` (a definite refusal) or ``unknown`` (the request left but no answer came: never resubmitted
automatically) → ``running`` → ``success`` | ``failed``. Any other status Crun sends is kept verbatim.
``success``, ``failed`` and ``rejected`` are final: a late, stale ``pending``/``running`` does not undo them.

Columns of ``df()`` (and keys of ``get()``), in order. Strings are pandas ``"string"`` (missing: ``pd.NA``),
integers ``"Int64"``, flags ``"boolean"``, measurements ``float64`` (missing: NaN), times
``datetime64[us, UTC]`` (missing: NaT), lists are ``object`` columns holding Python ``list[str]``.

==================  ======================  ==========================================================
local_id            string                  the ledger's own id, ``t`` + 16 hex, time-ordered, unique
task_id             string                  Crun's task id (NA until CreateTask answered)
status              string                  see above
model               string                  the Crun model id of the request
prompt              string                  the prompt as sent
reference_images    object (list[str])      image URLs / ``asset://`` ids as sent
reference_videos    object (list[str])      video references as sent
reference_audios    object (list[str])      audio references as sent
resolution          string                  ``480p`` / ``720p``
aspect_ratio        string                  e.g. ``16:9``
duration            Int64                   requested seconds
audio               boolean                 native audio requested
return_last_frame   boolean                 last frame requested
n_images            Int64                   len(reference_images)
n_videos            Int64                   len(reference_videos)
n_audios            Int64                   len(reference_audios)
submitted_at        datetime64[us, UTC]     when the row was written (just before CreateTask)
finished_at         datetime64[us, UTC]     when a final status was recorded (or Crun's complete time)
elapsed_s           float64                 finished_at − submitted_at, NaN while unfinished
credits             float64                 credits Crun charged
error_code          Int64                   Crun's code of a rejection or failure
error_message       string                  Crun's message, or why the submission is unknown
video_url           string                  the result MP4 URL (expires after about 14 days)
video_path          string                  absolute path of the archived MP4
video_sha256        string                  its SHA-256 (the archive's file name)
last_frame_url      string                  the last-frame image URL, when requested
last_frame_path     string                  absolute path of the archived last frame
width, height       Int64                   pixel size of the archived video
fps                 float64                 frame rate of the archived video
video_duration_s    float64                 duration of the archived video
has_audio           boolean                 the archived video has an audio track
simulated           boolean                 produced by the Crun simulator, not the real service
sweep_id            string                  the sweep this task belongs to
repeat              Int64                   the repeat number within the sweep
tags                object (list[str])      user tags
rating              Int64                   user rating
notes               string                  user notes
request_hash        string                  hash of the request (identical requests attach, not pay twice)
media_error         string                  why the media could not be archived (e.g. ``expired``)
payload             string                  the exact CreateTask JSON body (never holds a key)
local_paths         string                  JSON {uploaded URL: local file it came from}, or NA
updated_at          datetime64[us, UTC]     last change of the row
==================  ======================  ==========================================================

The last TaskInfo answer is stored too but kept out of the frame (it is large): ``log.task_info(local_id)``.

Example:
    >>> log = TaskLog(path)                                    # doctest: +SKIP
    >>> lid = log.begin(payload, request_hash)                 # doctest: +SKIP
    >>> log.mark_pending(lid, "d695…"); log.df().status.tolist()  # doctest: +SKIP
    ['pending']
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .config import home_dir
from .tasklog_db import LogDatabase
from .tasklog_frame import EVENT_COLUMNS, FRAME_SELECT, build_events, build_frame
from .tasklog_schema import (
    READ,
    STORED,
    encode,
    from_us,
    guard_secret,
    new_local_id,
    payload_columns,
    record_row,
    row_to_dict,
    to_us,
)

__all__ = ["FINAL", "IN_FLIGHT", "TaskLog", "new_local_id"]

IN_FLIGHT = ("submitting", "pending", "running")
FINAL = ("success", "failed", "rejected")
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another process's transaction
_SHAPE_KEYS = ("model", "resolution", "aspect_ratio", "duration", "audio", "return_last_frame",
               "n_images", "n_videos", "n_audios", "simulated")
_RESULT_FIELDS = ("task_id", "finished_at", "credits", "error_code", "error_message", "video_url",
                  "last_frame_url", "video_path", "video_sha256", "last_frame_path", "width", "height", "fps",
                  "video_duration_s", "has_audio", "media_error", "task_info")
_SELECT = "SELECT " + ", ".join(READ) + " FROM tasks"
_OLDEST_FIRST = "ORDER BY submitted_at, local_id"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TaskLog:
    """The task log on SQLite: every task ever run, its events, and a DataFrame view.

    Args:
        path: the SQLite file; default ``home_dir() / "tasks.sqlite"`` (``$SEEDANCE_NB_HOME``), resolved
            now, not at import. Its folder is created.
        clock: returns the current time as an aware datetime (tests inject a fake one).
        busy_timeout_s: how long a write waits while another process or thread holds the log.

    Example:
        >>> with TaskLog("/tmp/demo/tasks.sqlite") as log:       # doctest: +SKIP
        ...     "local_id" in log.df().columns
        True
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 clock: Callable[[], datetime] | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path).expanduser().absolute() if path is not None else home_dir() / "tasks.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock or _utcnow
        self._db = LogDatabase(self.path, busy_timeout_s=busy_timeout_s)

    def __repr__(self) -> str:
        return f"TaskLog({str(self.path)!r})"

    def __enter__(self) -> TaskLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this log opened in this process (it reopens on next use)."""
        self._db.close()

    def _now(self) -> int:
        return to_us(self._clock())

    def _query(self, where: str = "", params: Sequence[Any] = (), tail: str = "") -> list[dict[str, Any]]:
        sql = f"{_SELECT} {where} {tail}"
        return [row_to_dict(READ, r) for r in self._db.fetch(sql, params)]

    # --- writing: the ledger ---------------------------------------------------------------------------

    def begin(self, payload: Mapping[str, Any], request_hash: str, *, simulated: bool = False,
              sweep_id: str | None = None, repeat: int | None = None, tags: Sequence[str] = (),
              local_paths: Mapping[str, str] | None = None) -> str:
        """Commit a ``submitting`` row for a request about to be sent; return its new local id.

        Call it *before* CreateTask. ``payload`` is the exact CreateTask body; it is stored verbatim and
        its request fields are spread into columns.

        Raises:
            ValueError: the payload has no ``input`` object, or holds something shaped like an API key.

        Example:
            >>> lid = log.begin({"model": "m", "input": {"prompt": "hi"}}, "h1")  # doctest: +SKIP
            >>> log.get(lid)["status"]                                             # doctest: +SKIP
            'submitting'
        """
        row = payload_columns(payload)
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        paths = json.dumps(dict(local_paths), ensure_ascii=False) if local_paths else None
        for name, value in (("payload", text), ("local_paths", paths), ("tags", " ".join(map(str, tags)))):
            guard_secret(name, value)
        now = self._now()
        row |= {"status": "submitting", "request_hash": request_hash, "submitted_at": now, "updated_at": now,
                "simulated": int(simulated), "sweep_id": sweep_id, "repeat": repeat,
                "tags": encode("tags", _unique(tags)), "payload": text, "local_paths": paths}
        for _ in range(5):
            row["local_id"] = new_local_id(self._clock())
            try:
                with self._db.write(durable=True) as conn:
                    _insert(conn, row)
                    _event(conn, row["local_id"], now, "submitting", {"request_hash": request_hash})
                return str(row["local_id"])
            except sqlite3.IntegrityError:
                continue  # another process drew the same id in the same millisecond
        raise RuntimeError("could not draw a unique local id in 5 attempts")  # pragma: no cover

    def mark_pending(self, local_id: str, task_id: str) -> bool:
        """CreateTask answered with ``task_id``: the task exists and is paid for (committed durably)."""
        return self._apply(local_id, "pending", {"task_id": task_id}, durable=True)

    def mark_rejected(self, local_id: str, code: int | None, message: str) -> bool:
        """CreateTask was refused with a definite answer (validation, credits, moderation): nothing to pay."""
        changes = {"error_code": code, "error_message": message}
        return self._apply(local_id, "rejected", changes, stamp_finish=True, durable=True)

    def mark_unknown(self, local_id: str, message: str) -> bool:
        """The request left but no answer came: the task may exist. Only an explicit resubmit sends it again."""
        return self._apply(local_id, "unknown", {"error_message": message}, durable=True)

    def mark_submitting(self, local_id: str) -> bool:
        """Reset a row for an explicit resubmit: ``submitting`` again, task id and results cleared."""
        changes: dict[str, Any] = dict.fromkeys(_RESULT_FIELDS)
        changes["submitted_at"] = self._clock()
        return self._apply(local_id, "submitting", changes, force=True, durable=True)

    def record_status(self, local_id: str, status: str, *, credits: float | None = None,
                      error_code: int | None = None, error_message: str | None = None,
                      video_url: str | None = None, last_frame_url: str | None = None,
                      finished_at: datetime | None = None, task_info: Mapping[str, Any] | None = None) -> bool:
        """Record what TaskInfo (or a callback) said. ``None`` arguments mean "nothing new", not "clear".

        Returns True when an event was appended (the status changed or something new arrived).

        Example:
            >>> log.record_status(lid, "success", credits=23.4, video_url="https://cdn/x.mp4")  # doctest: +SKIP
            True
        """
        given = {"credits": credits, "error_code": error_code, "error_message": error_message,
                 "video_url": video_url, "last_frame_url": last_frame_url, "finished_at": finished_at,
                 "task_info": task_info}
        changes = {k: v for k, v in given.items() if v is not None}
        return self._apply(local_id, status, changes, stamp_finish=status in FINAL)

    def record_media(self, local_id: str, *, video_path: str | os.PathLike[str], video_sha256: str,
                     width: int | None, height: int | None, fps: float | None, video_duration_s: float | None,
                     has_audio: bool | None, last_frame_path: str | os.PathLike[str] | None = None,
                     media_error: str | None = None) -> bool:
        """Point the row at its archived video (and last frame); paths are stored absolute."""
        changes: dict[str, Any] = {
            "video_path": str(Path(video_path).expanduser().absolute()), "video_sha256": video_sha256,
            "width": width, "height": height, "fps": fps, "video_duration_s": video_duration_s,
            "has_audio": has_audio, "media_error": media_error}
        if last_frame_path is not None:
            changes["last_frame_path"] = str(Path(last_frame_path).expanduser().absolute())
        return self._apply(local_id, None, changes)

    def record_media_error(self, local_id: str, message: str) -> bool:
        """Record why the media could not be archived (e.g. ``"expired"``, ``"corrupt after 3 tries"``)."""
        return self._apply(local_id, None, {"media_error": message})

    def _apply(self, local_id: str, status: str | None, changes: Mapping[str, Any], *, force: bool = False,
               stamp_finish: bool = False, durable: bool = False) -> bool:
        encoded = {k: encode(k, v) for k, v in changes.items()}
        for name, value in encoded.items():
            if isinstance(value, str):
                guard_secret(name, value)
        now = self._now()
        with self._db.write(durable=durable) as conn:
            names = ["status", "finished_at", *encoded]
            current = conn.execute(f"SELECT {', '.join(names)} FROM tasks WHERE local_id = ?",
                                   (local_id,)).fetchone()
            if current is None:
                raise KeyError(f"no task {local_id!r} in the task log {self.path}")
            old = dict(zip(names, current, strict=True))
            new_status = old["status"] if status is None else status
            if not force and old["status"] in FINAL and new_status not in FINAL:
                new_status = old["status"]  # a stale poll answer must not reopen a finished task
            if stamp_finish and "finished_at" not in encoded and old["finished_at"] is None:
                encoded["finished_at"] = now
            diff = {k: v for k, v in encoded.items() if old.get(k) != v}
            news = {k: v for k, v in diff.items() if k != "task_info"}  # a re-polled TaskInfo is not news
            if new_status == old["status"] and not diff:
                return False
            sets = ", ".join(f"{k} = ?" for k in diff)
            conn.execute(f"UPDATE tasks SET status = ?, updated_at = ?{', ' if sets else ''}{sets} "
                         "WHERE local_id = ?", (new_status, now, *diff.values(), local_id))
            if new_status == old["status"] and not news:
                return False
            _event(conn, local_id, now, new_status, news)
            return True

    # --- writing: the user's notes -----------------------------------------------------------------------

    def rate(self, local_id: str, rating: int | None) -> None:
        """Set (or clear, with ``None``) the user's rating of a task."""
        self._set(local_id, "rating", rating)

    def annotate(self, local_id: str, notes: str) -> None:
        """Replace the user's notes on a task."""
        self._set(local_id, "notes", notes)

    def tag(self, local_id: str, *tags: str) -> None:
        """Add tags to a task (kept in order, without duplicates)."""
        with self._db.write() as conn:
            found = conn.execute("SELECT tags FROM tasks WHERE local_id = ?", (local_id,)).fetchone()
            if found is None:
                raise KeyError(f"no task {local_id!r} in the task log {self.path}")
            merged = encode("tags", _unique([*json.loads(found[0]), *tags]))
            guard_secret("tags", merged)
            conn.execute("UPDATE tasks SET tags = ?, updated_at = ? WHERE local_id = ?",
                         (merged, self._now(), local_id))

    def _set(self, local_id: str, name: str, value: Any) -> None:
        stored = encode(name, value)
        guard_secret(name, stored if isinstance(stored, str) else None)
        with self._db.write() as conn:
            cur = conn.execute(f"UPDATE tasks SET {name} = ?, updated_at = ? WHERE local_id = ?",
                               (stored, self._now(), local_id))
            if cur.rowcount == 0:
                raise KeyError(f"no task {local_id!r} in the task log {self.path}")

    def import_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Bulk-insert complete rows in one transaction; existing local ids are skipped. Returns rows added.

        Each record uses the ``df()``/``get()`` column names and Python or pandas values (missing ones
        default; ``local_id`` is drawn when absent). No events are written. Use it to merge another
        log (``other.df().to_dict("records")``) or to build a large log quickly (the benchmark does).

        Example:
            >>> log.import_records(other.df().to_dict("records"))  # doctest: +SKIP
            120
        """
        now = self._clock()
        rows = ([r[n] for n in STORED] for r in (record_row(rec, now, new_local_id(now)) for rec in records))
        sql = f"INSERT OR IGNORE INTO tasks ({', '.join(STORED)}) VALUES ({', '.join('?' * len(STORED))})"
        with self._db.write() as conn:  # a refused record (an API key) rolls the whole import back
            before = conn.total_changes
            conn.executemany(sql, rows)
            return conn.total_changes - before

    # --- reading -----------------------------------------------------------------------------------------

    def get(self, local_id: str) -> dict[str, Any] | None:
        """One task as a dict keyed like ``df()`` with Python values (``None`` when missing), or None."""
        found = self._query("WHERE local_id = ?", (local_id,))
        return found[0] if found else None

    def task_info(self, local_id: str) -> dict[str, Any] | None:
        """The last TaskInfo ``data`` recorded for a task (kept out of ``df()``: it is large), or None."""
        found = self._db.fetch("SELECT task_info FROM tasks WHERE local_id = ?", (local_id,))
        return json.loads(found[0][0]) if found and found[0][0] else None

    def find_in_flight(self, request_hash: str) -> dict[str, Any] | None:
        """The newest task with this request hash still submitting, pending or running (attach, don't pay twice)."""
        found = self._query("WHERE request_hash = ? AND status IN (?, ?, ?)", (request_hash, *IN_FLIGHT),
                            "ORDER BY submitted_at DESC, local_id DESC LIMIT 1")
        return found[0] if found else None

    def unfinished(self) -> list[dict[str, Any]]:
        """Tasks Crun has (a task id) that are pending or running: what ``resume()`` polls."""
        return self._query("WHERE status IN ('pending', 'running') AND task_id IS NOT NULL", tail=_OLDEST_FIRST)

    def unknown(self) -> list[dict[str, Any]]:
        """Tasks whose submission is unknown (may exist at Crun): shown loudly, resubmitted only on request."""
        return self._query("WHERE status = 'unknown'", tail=_OLDEST_FIRST)

    def stale_submitting(self, older_than_s: float = 300.0) -> list[dict[str, Any]]:
        """Rows still ``submitting`` after ``older_than_s``: their process died mid-request (treat as unknown)."""
        cutoff = self._now() - int(older_than_s * 1_000_000)
        return self._query("WHERE status = 'submitting' AND submitted_at < ?", (cutoff,), _OLDEST_FIRST)

    def missing_media(self) -> list[dict[str, Any]]:
        """Successful tasks with a video URL but no archived file and no recorded media error."""
        return self._query("WHERE status = 'success' AND video_url IS NOT NULL AND video_path IS NULL "
                           "AND media_error IS NULL", tail=_OLDEST_FIRST)

    def durations(self, shape: Mapping[str, Any] | None = None, limit: int = 50) -> list[float]:
        """Elapsed seconds of the most recent successful tasks (newest first), optionally of one shape.

        ``shape`` filters on equal values of ``model``, ``resolution``, ``aspect_ratio``, ``duration``,
        ``audio``, ``return_last_frame``, ``n_images``/``n_videos``/``n_audios`` or ``simulated``.

        Example:
            >>> log.durations({"resolution": "720p", "duration": 5, "simulated": False})  # doctest: +SKIP
            [171.2, 183.9]
        """
        shape = dict(shape or {})
        unknown_keys = sorted(set(shape) - set(_SHAPE_KEYS))
        if unknown_keys:
            raise ValueError(f"durations() cannot filter on {unknown_keys}; use some of {list(_SHAPE_KEYS)}")
        where = "".join(f" AND {k} = ?" for k in shape)
        sql = ("SELECT (finished_at - submitted_at) / 1e6 AS s FROM tasks WHERE status = 'success' "
               f"AND finished_at > submitted_at{where} ORDER BY finished_at DESC LIMIT ?")
        params = [encode(k, v) for k, v in shape.items()]
        return [float(r[0]) for r in self._db.fetch(sql, (*params, int(limit)))]

    def events(self, local_id: str | None = None) -> pd.DataFrame:
        """The event history (all tasks, or one): seq, local_id, at (UTC), status, detail (JSON string)."""
        where, params = ("WHERE local_id = ?", (local_id,)) if local_id is not None else ("", ())
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events {where} ORDER BY seq"
        return build_events(self._db.fetch(sql, params))

    def df(self) -> pd.DataFrame:
        """Every task, one row each, stable columns with explicit dtypes (see the module docstring).

        Sorted by ``submitted_at``. An empty log gives an empty frame with the same columns and dtypes.

        Example:
            >>> TaskLog().df().groupby("status").size()  # doctest: +SKIP
        """
        paused = gc.isenabled()
        gc.disable()  # the cyclic GC would walk every new row object again and again: +40 % at 100k rows
        try:
            return build_frame(self._db.fetch(f"{FRAME_SELECT} {_OLDEST_FIRST}"))
        finally:
            if paused:
                gc.enable()

    def __len__(self) -> int:
        return int(self._db.fetch("SELECT count(*) FROM tasks")[0][0])


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(i) for i in items))


def _insert(conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    names = list(row)
    conn.execute(f"INSERT INTO tasks ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                 [row[n] for n in names])


def _event(conn: sqlite3.Connection, local_id: str, at: int, status: str, detail: Mapping[str, Any]) -> None:
    shown = {k: _iso(v) if k.endswith("_at") else v for k, v in detail.items()}
    conn.execute("INSERT INTO events (local_id, at, status, detail) VALUES (?, ?, ?, ?)",
                 (local_id, at, status, json.dumps(shown, ensure_ascii=False, separators=(",", ":"))))


def _iso(us: Any) -> Any:
    moment = from_us(us) if isinstance(us, int) else None
    return moment.isoformat() if moment is not None else us
