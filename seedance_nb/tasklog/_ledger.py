"""The write-ahead ledger: the only writer of task rows, used by ``generate()``, ``resume()`` and ``resubmit()``.

A row is committed ``submitting`` *before* CreateTask is sent (fsync'd), so a kernel killed at any instant
loses no task the server created; every status change is an event row. It is internal: a notebook reads
and annotates through ``TaskLog`` and cannot corrupt the records that guard paid tasks.

Example:
    >>> import tempfile, pathlib
    >>> from seedance_nb.tasklog import TaskLog
    >>> ledger = Ledger(TaskLog(pathlib.Path(tempfile.mkdtemp()) / "tasks.sqlite"))
    >>> lid = ledger.begin({"model": "m", "input": {"prompt": "hi"}}, "h1")
    >>> ledger.mark_pending(lid, "task-1"), ledger.log.get(lid)["status"]
    (True, 'pending')
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from .._limits import REFERENCE_FIELDS
from ._log import FINAL, IN_FLIGHT, OLDEST_FIRST, TaskLog
from ._schema import encode, from_us, guard_secret, new_local_id, payload_columns, redact_secrets, to_us, unique_texts

__all__ = ["Ledger"]

_RESULT_FIELDS = ("task_id", "finished_at", "credits", "error_code", "error_message", "video_url",
                  "last_frame_url", "video_path", "video_sha256", "last_frame_path", "width", "height", "fps",
                  "video_duration_s", "has_audio", "media_error", "task_info")

# An identical request that may still become (or be) a task at Crun: anything not final, ``unknown`` included.
_TWIN = ("SELECT local_id FROM tasks WHERE request_hash = ? AND status NOT IN (?, ?, ?) "
         "ORDER BY submitted_at DESC, local_id DESC LIMIT 1")


class Ledger:
    """The writers of one ``TaskLog`` (same file, same connections, same clock).

    Args:
        log: the task log to write.
    """

    def __init__(self, log: TaskLog) -> None:
        self.log = log
        self.path = log.path
        self._db = log._db
        self._clock = log._clock

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def now(self) -> datetime:
        """The current time as the log's clock tells it (aware, UTC; a test's fake clock)."""
        return self._clock()

    def _now(self) -> int:
        return to_us(self._clock())

    def begin(self, payload: Mapping[str, Any], request_hash: str, *, simulated: bool = False,
              sweep_id: str | None = None, repeat: int | None = None, tags: Sequence[str] = (),
              local_paths: Mapping[str, str] | None = None) -> str:
        """Commit a ``submitting`` row for a request about to be sent; return its new local id.

        Call it *before* CreateTask. ``payload`` is the exact CreateTask body; it is stored verbatim and
        its request fields are spread into columns.

        Raises:
            ValueError: the payload has no ``input`` object, or holds something shaped like an API key.

        Example:
            >>> import tempfile
            >>> ledger = Ledger(TaskLog(tempfile.mkdtemp() + "/tasks.sqlite"))
            >>> lid = ledger.begin({"model": "m", "input": {"prompt": "hi"}}, "h1")
            >>> ledger.log.get(lid)["status"], ledger.log.get(lid)["prompt"]
            ('submitting', 'hi')
        """
        local_id, _ = self.begin_or_attach(payload, request_hash, attach=False, simulated=simulated,
                                           sweep_id=sweep_id, repeat=repeat, tags=tags, local_paths=local_paths)
        return local_id

    def begin_or_attach(self, payload: Mapping[str, Any], request_hash: str, *, attach: bool = True,
                        simulated: bool = False, sweep_id: str | None = None, repeat: int | None = None,
                        tags: Sequence[str] = (), local_paths: Mapping[str, str] | None = None) -> tuple[str, bool]:
        """``(local_id, True)`` for a new ``submitting`` row, or ``(twin's local_id, False)`` when ``attach``
        finds an identical request that is not final (in flight, or ``unknown``: it may exist at Crun). The
        look-up and the insert are one transaction, so two writers (coroutines, threads or processes) can
        never both begin the same request.

        Example:
            >>> import tempfile
            >>> ledger = Ledger(TaskLog(tempfile.mkdtemp() + "/tasks.sqlite"))
            >>> first, created = ledger.begin_or_attach({"model": "m", "input": {"prompt": "hi"}}, "h1")
            >>> twin, again = ledger.begin_or_attach({"model": "m", "input": {"prompt": "hi"}}, "h1")
            >>> created, again, twin == first
            (True, False, True)
        """
        row = payload_columns(payload)
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        paths = json.dumps(dict(local_paths), ensure_ascii=False) if local_paths else None
        for name, value in (("payload", text), ("local_paths", paths), ("tags", " ".join(map(str, tags)))):
            guard_secret(name, value)
        now = self._now()
        row |= {"status": "submitting", "request_hash": request_hash, "submitted_at": now, "updated_at": now,
                "simulated": int(simulated), "sweep_id": sweep_id, "repeat": repeat,
                "tags": encode("tags", unique_texts(tags)), "payload": text, "local_paths": paths,
                "reference_files": encode("reference_files", _file_names(payload, local_paths or {}))}
        for _ in range(5):
            row["local_id"] = new_local_id(self._clock())
            try:
                with self._db.write(durable=True) as conn:
                    twin = conn.execute(_TWIN, (request_hash, *FINAL)).fetchone() if attach else None
                    if twin is not None:
                        return str(twin[0]), False
                    _insert(conn, row)
                    _event(conn, row["local_id"], now, "submitting", {"request_hash": request_hash})
                return str(row["local_id"]), True
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

    def record_status(self, local_id: str, status: str | None, *, credits: float | None = None,
                      error_code: int | None = None, error_message: str | None = None,
                      video_url: str | None = None, last_frame_url: str | None = None,
                      finished_at: datetime | None = None, task_info: Mapping[str, Any] | None = None) -> bool:
        """Record what TaskInfo (or a callback) said. ``None`` arguments mean "nothing new", not "clear"
        (``status=None``: Crun sent no status we can use; the row keeps its own).

        Returns True when an event was appended (the status changed or something new arrived).

        Example:
            >>> import tempfile
            >>> ledger = Ledger(TaskLog(tempfile.mkdtemp() + "/tasks.sqlite"))
            >>> lid = ledger.begin({"model": "m", "input": {"prompt": "hi"}}, "h1")
            >>> ledger.mark_pending(lid, "task-1")
            True
            >>> ledger.record_status(lid, "success", credits=23.4, video_url="https://cdn/x.mp4")
            True
            >>> ledger.record_status(lid, "running")    # a stale answer does not reopen a finished task
            False
            >>> ledger.log.get(lid)["status"]
            'success'
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
        # What Crun answered is recorded whatever it holds (the task is paid for), a key-shaped word redacted.
        encoded = {k: redact_secrets(v) if isinstance(v, str) else v
                   for k, v in ((k, encode(k, v)) for k, v in changes.items())}
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

    def submitted_at(self, local_id: str) -> datetime | None:
        """When a task was recorded as submitted (one column of one row: what following it needs to start)."""
        found = self._db.fetch("SELECT submitted_at FROM tasks WHERE local_id = ?", (local_id,))
        return from_us(found[0][0]) if found and found[0][0] is not None else None

    def find_in_flight(self, request_hash: str) -> dict[str, Any] | None:
        """The newest task with this request hash still submitting, pending or running (attach, don't pay twice)."""
        found = self.log._query("WHERE request_hash = ? AND status IN (?, ?, ?)", (request_hash, *IN_FLIGHT),
                            "ORDER BY submitted_at DESC, local_id DESC LIMIT 1")
        return found[0] if found else None

    def stale_submitting(self, older_than_s: float = 300.0) -> list[dict[str, Any]]:
        """Rows still ``submitting`` after ``older_than_s``: their process died mid-request (treat as unknown)."""
        cutoff = self._now() - int(older_than_s * 1_000_000)
        return self.log._query("WHERE status = 'submitting' AND submitted_at < ?", (cutoff,), OLDEST_FIRST)


def _file_names(payload: Mapping[str, Any], local_paths: Mapping[str, str]) -> list[str]:
    """The base names of the local files behind the uploaded references, in the order the request lists them."""
    fields = payload.get("input") or {}
    sent = [str(ref) for name in REFERENCE_FIELDS for ref in (fields.get(name) or [])]
    ordered = [url for url in dict.fromkeys(sent) if url in local_paths]
    ordered += [url for url in local_paths if url not in ordered]  # not in the payload: kept, at the end
    return [PurePath(local_paths[url]).name for url in ordered]


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
