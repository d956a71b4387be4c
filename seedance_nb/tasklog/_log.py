"""``TaskLog``: every task ever run, read as rows and a DataFrame, annotated and exported.

What the columns mean is in the package docstring (``seedance_nb.tasklog``). The log is written by the
ledger (``_ledger.py``) as ``generate()`` runs; a user reads, rates, tags, writes notes and exports here.

Example:
    >>> import tempfile, pathlib
    >>> log = TaskLog(pathlib.Path(tempfile.mkdtemp()) / "tasks.sqlite")
    >>> log.df().shape[0]
    0
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._limits import SHAPE_FIELDS
from ..config import home_dir
from ._db import LogDatabase
from ._export import check_suffix, write_frame
from ._frame import EVENT_COLUMNS, FRAME_SELECT, build_events, build_frame
from ._schema import READ, STORED, encode, guard_secret, new_local_id, record_row, row_to_dict, to_us, unique_texts

if TYPE_CHECKING:
    from ..notebook._table import LogView

__all__ = ["FINAL", "IN_FLIGHT", "TaskLog"]

IN_FLIGHT = ("submitting", "pending", "running")
FINAL = ("success", "failed", "rejected")
_FINAL_SQL = ", ".join(f"'{status}'" for status in FINAL)
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another process's transaction
_SHAPE_KEYS = (*SHAPE_FIELDS, "simulated")
_SELECT = "SELECT " + ", ".join(READ) + " FROM tasks"
OLDEST_FIRST = "ORDER BY submitted_at, local_id"


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
        >>> import tempfile, seedance_nb as sn
        >>> with sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite") as log:
        ...     print(len(log), list(log.df().columns[:3]))
        0 ['local_id', 'task_id', 'status']
        >>> sn.TaskLog().path.name                     # the default: $SEEDANCE_NB_HOME/tasks.sqlite
        'tasks.sqlite'
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
        """Close every connection this log opened in this process (it reopens on next use).

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.close()
            >>> len(log)          # opened again
            0
        """
        self._db.close()

    def _now(self) -> int:
        return to_us(self._clock())

    def _query(self, where: str = "", params: Sequence[Any] = (), tail: str = "") -> list[dict[str, Any]]:
        sql = f"{_SELECT} {where} {tail}"
        return [row_to_dict(READ, r) for r in self._db.fetch(sql, params)]

    # --- writing: the user's notes -----------------------------------------------------------------------

    def rate(self, local_id: str, rating: int | None) -> None:
        """Set (or clear, with ``None``) the user's rating of a task.

        Raises:
            KeyError: no such task in the log.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "status": "success", "prompt": "[Image1] waves"}])
            1
            >>> log.rate("t1", 5)
            >>> log.get("t1")["rating"]
            5
        """
        self._set(local_id, "rating", rating)

    def annotate(self, local_id: str, notes: str) -> None:
        """Replace the user's notes on a task.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "status": "success", "prompt": "[Image1] waves"}])
            1
            >>> log.annotate("t1", "best light so far; try 9:16")
            >>> log.df().loc[0, "notes"]
            'best light so far; try 9:16'
        """
        self._set(local_id, "notes", notes)

    def tag(self, local_id: str, *tags: str, replace: bool = False) -> None:
        """Add tags to a task (kept in order, without duplicates); ``replace=True`` sets exactly these.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "status": "success", "prompt": "[Image1] waves"}])
            1
            >>> log.tag("t1", "sunset", "keeper")
            >>> log.tag("t1", "sunset")
            >>> log.get("t1")["tags"]
            ['sunset', 'keeper']
            >>> log.tag("t1", "dusk", replace=True); log.get("t1")["tags"]
            ['dusk']
        """
        with self._db.write() as conn:
            found = conn.execute("SELECT tags FROM tasks WHERE local_id = ?", (local_id,)).fetchone()
            if found is None:
                raise KeyError(f"no task {local_id!r} in the task log {self.path}")
            merged = encode("tags", unique_texts([*([] if replace else json.loads(found[0])), *tags]))
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
            >>> import tempfile, seedance_nb as sn
            >>> other = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> other.import_records([{"prompt": "[Image1] waves", "status": "success", "credits": 29},
            ...                       {"prompt": "[Image1] jumps", "status": "failed", "error_code": 501}])
            2
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records(other.df().to_dict("records"))
            2
            >>> log.import_records(other.df().to_dict("records"))      # the same local ids: nothing new
            0
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
        """One task as a dict keyed like ``df()`` with Python values (``None`` when missing), or None.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "status": "success", "prompt": "[Image1] waves", "credits": 29}])
            1
            >>> row = log.get("t1")
            >>> row["status"], row["credits"], row["task_id"]
            ('success', 29.0, None)
            >>> log.get("t2") is None
            True
        """
        found = self._query("WHERE local_id = ?", (local_id,))
        return found[0] if found else None

    def task_info(self, local_id: str) -> dict[str, Any] | None:
        """The last TaskInfo ``data`` recorded for a task (kept out of ``df()``: it is large), or None.

        Example:
            >>> import seedance_nb as sn
            >>> try:
            ...     sn.generate_sync(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
            ...                      timeout=1, progress=False)     # stop waiting after 1 s; it goes on at Crun
            ... except sn.GenerationTimeout as exc:
            ...     local_id, task_id = exc.local_id, exc.task_id
            >>> data = sn.TaskLog().task_info(local_id)
            >>> data["task_id"] == task_id, data["param"]["input"]["prompt"]
            (True, '[Image1] waves')
        """
        found = self._db.fetch("SELECT task_info FROM tasks WHERE local_id = ?", (local_id,))
        return json.loads(found[0][0]) if found and found[0][0] else None

    def unfinished(self) -> list[dict[str, Any]]:
        """Tasks Crun has (a task id) that have not ended, whatever status text Crun sent: what ``resume()`` polls.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "task_id": "c0ffee", "status": "running"},
            ...                     {"local_id": "t2", "status": "success"}])
            2
            >>> [row["local_id"] for row in log.unfinished()]
            ['t1']
        """
        return self._query(f"WHERE task_id IS NOT NULL AND status NOT IN ({_FINAL_SQL})", tail=OLDEST_FIRST)

    def unknown(self) -> list[dict[str, Any]]:
        """Tasks that may exist at Crun without a task id in the log: shown loudly, resubmitted only on request.

        They are ``unknown`` (CreateTask left, no answer came) or still ``submitting`` (being sent right now,
        or their process died while sending: ``resume()`` turns those ``unknown`` after a while).

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "status": "unknown", "error_message": "no answer"},
            ...                     {"local_id": "t2", "status": "submitting"},
            ...                     {"local_id": "t3", "status": "running", "task_id": "c0ffee"}])
            3
            >>> [(row["local_id"], row["status"]) for row in log.unknown()]
            [('t1', 'unknown'), ('t2', 'submitting')]
        """
        return self._query("WHERE status IN ('unknown', 'submitting') AND task_id IS NULL", tail=OLDEST_FIRST)

    def missing_media(self) -> list[dict[str, Any]]:
        """Successful tasks with a video URL but no archived file: never downloaded, or a download that failed
        (tried again by ``resume()`` until it succeeds), unless the URL is gone for good (``expired``).

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "status": "success", "video_url": "https://cdn.example/1.mp4"},
            ...                     {"local_id": "t2", "status": "success", "video_url": "https://cdn.example/2.mp4",
            ...                      "media_error": "expired: 404"},
            ...                     {"local_id": "t3", "status": "success", "video_url": "https://cdn.example/3.mp4",
            ...                      "media_error": "download attempt 1 failed: the download broke off"}])
            3
            >>> [row["local_id"] for row in log.missing_media()]
            ['t1', 't3']
        """
        return self._query("WHERE status = 'success' AND video_url IS NOT NULL AND video_path IS NULL "
                           "AND (media_error IS NULL OR media_error NOT LIKE 'expired%')", tail=OLDEST_FIRST)

    def durations(self, shape: Mapping[str, Any] | None = None, limit: int = 50) -> list[float]:
        """Elapsed seconds of the most recent successful tasks (newest first), optionally of one shape.

        ``shape`` filters on equal values of ``model``, ``resolution``, ``aspect_ratio``, ``duration``,
        ``audio``, ``return_last_frame``, ``n_images``/``n_videos``/``n_audios`` or ``simulated``.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> from datetime import UTC, datetime, timedelta
            >>> start = datetime(2026, 1, 20, 9, tzinfo=UTC)
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"status": "success", "resolution": res, "duration": 5, "submitted_at": start,
            ...                      "finished_at": start + timedelta(seconds=s)}
            ...                     for res, s in (("720p", 171.2), ("480p", 95.0), ("720p", 183.9))])
            3
            >>> log.durations({"resolution": "720p", "duration": 5, "simulated": False})
            [183.9, 171.2]
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
        """The event history (all tasks, or one): seq, local_id, at (UTC), status, detail (JSON string).

        Example:
            >>> import seedance_nb as sn
            >>> try:
            ...     sn.generate_sync(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
            ...                      timeout=1, progress=False)     # stop waiting after 1 s; it goes on at Crun
            ... except sn.GenerationTimeout as exc:
            ...     events = sn.TaskLog().events(exc.local_id)
            >>> events.status.tolist()[:2]        # the row was written before CreateTask left
            ['submitting', 'pending']
            >>> list(events.columns)
            ['seq', 'local_id', 'at', 'status', 'detail']
        """
        where, params = ("WHERE local_id = ?", (local_id,)) if local_id is not None else ("", ())
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events {where} ORDER BY seq"
        return build_events(self._db.fetch(sql, params))

    def df(self) -> pd.DataFrame:
        """Every task, one row each, stable columns with explicit dtypes (see the module docstring).

        Sorted by ``submitted_at``. An empty log gives an empty frame with the same columns and dtypes.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"status": "success", "credits": 29}, {"status": "success", "credits": 23.2},
            ...                     {"status": "failed", "error_code": 501}])
            3
            >>> frame = log.df()
            >>> frame.groupby("status").size().to_dict(), float(frame.credits.sum()), str(frame.error_code.dtype)
            ({'failed': 1, 'success': 2}, 52.2, 'Int64')
        """
        paused = gc.isenabled()
        gc.disable()  # the cyclic GC would walk every new row object again and again: +40 % at 100k rows
        try:
            return build_frame(self._db.fetch(f"{FRAME_SELECT} {OLDEST_FIRST}"))
        finally:
            if paused:
                gc.enable()

    def view(self, limit: int = 20) -> LogView:
        """The ``limit`` most recent tasks, newest first, as a compact table for a notebook (or a terminal).

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> _ = log.import_records([{"local_id": "t1", "status": "success", "prompt": "waves", "credits": 29}])
            >>> print(log.view())
            1 of 1 tasks, newest first
            local_id  status   credits  elapsed  shape  prompt
            t1        success       29                  waves
        """
        from ..notebook._table import LogView
        newest = self._query("", (int(limit),), "ORDER BY submitted_at DESC, local_id DESC LIMIT ?")
        return LogView(tuple(newest), total=len(self))

    def export(self, path: str | os.PathLike[str]) -> Path:
        """Write ``df()`` to a file for sharing: ``.csv``, ``.jsonl`` or ``.json`` by the suffix of ``path``.

        Lists (references, tags) are written as JSON arrays in CSV, times as ISO 8601 UTC. The file holds no
        API key: the log never stores one.

        Returns:
            The absolute path written.

        Raises:
            ValueError: the suffix is not one of the three.

        Example:
            >>> import tempfile, pathlib, pandas as pd, seedance_nb as sn
            >>> folder = pathlib.Path(tempfile.mkdtemp())
            >>> log = sn.TaskLog(folder / "tasks.sqlite")
            >>> log.import_records([{"prompt": "[Image1] waves", "reference_images": ["https://x.org/a.png"]}])
            1
            >>> written = log.export(folder / "tasks.csv")
            >>> pd.read_csv(written).loc[0, ["prompt", "reference_images"]].tolist()
            ['[Image1] waves', '["https://x.org/a.png"]']
        """
        target = Path(path).expanduser().absolute()
        check_suffix(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_frame(self.df(), target)
        return target

    def __len__(self) -> int:
        return int(self._db.fetch("SELECT count(*) FROM tasks")[0][0])

