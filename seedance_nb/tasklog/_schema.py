"""The task log's schema, in one place: columns, SQL, dtypes and the conversions between them.

``COLUMNS`` is the single source. The ``CREATE TABLE`` statement, the DataFrame dtypes, the conversions
between Python and SQLite values here and the fast DataFrame build in ``tasklog_frame.py`` are all derived
from it, so they cannot drift apart. ``tasklog.py`` documents what every column means.

Storage choices (why): timestamps are INTEGER microseconds since the Unix epoch, UTC (exact, and
vectorised into ``datetime64[us, UTC]`` without parsing text); booleans are INTEGER 0/1; lists of strings
and JSON documents are JSON text (``json_each()`` works in plain SQL).

Example:
    >>> [c.name for c in COLUMNS][:3]
    ['local_id', 'task_id', 'status']
    >>> DTYPES["duration"], DTYPES["submitted_at"]
    ('Int64', 'datetime64[us, UTC]')
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pandas as pd

from .._limits import COUNT_FIELDS, INPUT_FIELDS, KEY_IN_TEXT, REFERENCE_FIELDS
from ..errors import Problem, SeedanceError, ValidationError

__all__ = [
    "BY_NAME",
    "COLUMNS",
    "DTYPES",
    "MIGRATIONS",
    "READ",
    "SCHEMA_VERSION",
    "SHOWN",
    "STORED",
    "Column",
    "encode",
    "ensure_schema",
    "from_us",
    "guard_secret",
    "new_local_id",
    "payload_columns",
    "record_row",
    "redact_secrets",
    "row_to_dict",
    "to_us",
    "unique_texts",
]

SCHEMA_VERSION = 2
Kind = Literal["str", "int", "float", "bool", "time", "list", "json"]


@dataclass(frozen=True)
class Column:
    """One column: its name (same in SQL and in the DataFrame), kind, SQL constraint and read group."""

    name: str
    kind: Kind
    sql: str = ""
    stored: bool = True  # False: computed when read (elapsed_s)
    shown: bool = True  # False: kept in SQLite but not in df()/get() (task_info: large, read on request)
    framed: bool = True  # False: in get() but not in df() (raw JSON the spread columns already show)
    # df() reads the columns of a group as one json_array() per row and decodes each distinct array once:
    # sweeps repeat the same shape, status and references thousands of times (see build_frame).
    group: str | None = None


def _c(
    name: str, kind: Kind, sql: str = "", *, group: str | None = None, stored: bool = True, shown: bool = True,
    framed: bool = True,
) -> Column:
    return Column(name, kind, sql, stored, shown, framed, group)


_F, _R = "facts", "request"  # floats stay out of groups: SQLite's JSON prints them with 15 digits only
COLUMNS: tuple[Column, ...] = (
    _c("local_id", "str", "PRIMARY KEY"),
    _c("task_id", "str"),
    _c("status", "str", "NOT NULL", group=_F),
    _c("model", "str", group=_F),
    _c("prompt", "str"),
    _c("reference_images", "list", "NOT NULL DEFAULT '[]'", group=_R),
    _c("reference_videos", "list", "NOT NULL DEFAULT '[]'", group=_R),
    _c("reference_audios", "list", "NOT NULL DEFAULT '[]'", group=_R),
    _c("resolution", "str", group=_F),
    _c("aspect_ratio", "str", group=_F),
    _c("duration", "int", group=_F),
    _c("audio", "bool", group=_F),
    _c("return_last_frame", "bool", group=_F),
    _c("n_images", "int", "NOT NULL DEFAULT 0", group=_F),
    _c("n_videos", "int", "NOT NULL DEFAULT 0", group=_F),
    _c("n_audios", "int", "NOT NULL DEFAULT 0", group=_F),
    _c("submitted_at", "time", "NOT NULL"),
    _c("finished_at", "time"),
    _c("elapsed_s", "float", stored=False),
    _c("credits", "float"),
    _c("error_code", "int", group=_F),
    _c("error_message", "str", group=_F),
    _c("video_url", "str"),
    _c("video_path", "str"),
    _c("video_sha256", "str"),
    _c("last_frame_url", "str"),
    _c("last_frame_path", "str"),
    _c("width", "int", group=_F),
    _c("height", "int", group=_F),
    _c("fps", "float"),
    _c("video_duration_s", "float"),
    _c("has_audio", "bool", group=_F),
    _c("simulated", "bool", "NOT NULL DEFAULT 0", group=_F),
    _c("sweep_id", "str", group=_F),
    _c("repeat", "int", group=_F),
    _c("tags", "list", "NOT NULL DEFAULT '[]'", group=_R),
    _c("rating", "int", group=_F),
    _c("notes", "str", group=_F),
    _c("request_hash", "str", "NOT NULL"),
    _c("media_error", "str", group=_F),
    _c("payload", "json", "NOT NULL", framed=False),
    _c("local_paths", "json", framed=False),
    _c("task_info", "json", shown=False),
    _c("updated_at", "time", "NOT NULL"),
    # Added in schema 2, last so earlier columns keep their positions (migrated logs append it there too).
    _c("reference_files", "list", "NOT NULL DEFAULT '[]'", group=_R),
)
BY_NAME: Mapping[str, Column] = {c.name: c for c in COLUMNS}
STORED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.stored)
READ: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.stored and c.shown)  # what get() selects
SHOWN: tuple[Column, ...] = tuple(c for c in COLUMNS if c.shown and c.framed)  # the columns of df(), in order

_DTYPE_OF_KIND: Mapping[Kind, str] = {
    "str": "string",
    "json": "string",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "time": "datetime64[us, UTC]",
    "list": "object",
}
DTYPES: Mapping[str, str] = {c.name: _DTYPE_OF_KIND[c.kind] for c in SHOWN}
_SQL_TYPE: Mapping[Kind, str] = {
    "str": "TEXT", "json": "TEXT", "list": "TEXT", "int": "INTEGER", "bool": "INTEGER",
    "time": "INTEGER", "float": "REAL",
}

_TASKS_DDL = "CREATE TABLE tasks (\n  " + ",\n  ".join(
    f"{c.name} {_SQL_TYPE[c.kind]} {c.sql}".rstrip() for c in COLUMNS if c.stored
) + "\n)"
_DDL: tuple[str, ...] = (
    _TASKS_DDL,
    "CREATE INDEX tasks_by_submitted ON tasks(submitted_at, local_id)",
    "CREATE INDEX tasks_by_status ON tasks(status)",
    "CREATE INDEX tasks_by_hash ON tasks(request_hash)",
    "CREATE TABLE events (\n  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  local_id TEXT NOT NULL REFERENCES tasks(local_id),\n  at INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL,\n  detail TEXT NOT NULL DEFAULT '{}'\n)",
    "CREATE INDEX events_by_task ON events(local_id, seq)",
)
# MIGRATIONS[v] upgrades a log from schema v to v + 1; add entries, never edit old ones. A new log gets
# every column from _DDL directly (version 0 runs no migration).
MIGRATIONS: Mapping[int, tuple[str, ...]] = {
    1: ("ALTER TABLE tasks ADD COLUMN reference_files TEXT NOT NULL DEFAULT '[]'",),
}


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema of a fresh or older log; refuse a log from a newer version.

    Safe when several processes open a new log at once: the check runs inside ``BEGIN IMMEDIATE``.
    """
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SeedanceError(
                f"This task log has schema version {version}, newer than this seedance_nb understands "
                f"({SCHEMA_VERSION}). Upgrade seedance_nb to read it."
            )
        if version == 0:
            for statement in _DDL:
                conn.execute(statement)
        else:
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# --- local ids ------------------------------------------------------------------------------------------

_id_lock = threading.Lock()
_last_id = (0, 0)


def new_local_id(now: datetime) -> str:
    """A new local id: ``t`` + 11 hex of milliseconds + 5 hex counter started at random.

    Sortable by creation time, strictly increasing within a process, and unique across processes with
    overwhelming probability (the PRIMARY KEY catches the rest: ``TaskLog.begin`` then draws again).

    Example:
        >>> a, b = new_local_id(datetime.now(UTC)), new_local_id(datetime.now(UTC))
        >>> len(a), a < b
        (17, True)
    """
    global _last_id
    ms = to_us(now) // 1000
    with _id_lock:
        last_ms, last_n = _last_id
        if ms > last_ms:
            n = secrets.randbits(19)
        else:
            ms, n = last_ms, last_n + 1
            if n > 0xFFFFF:
                ms, n = ms + 1, secrets.randbits(19)
        _last_id = (ms, n)
    return f"t{ms:011x}{n:05x}"



# --- secrets -------------------------------------------------------------------------------------------

def guard_secret(field: str, text: str | None) -> None:
    """Refuse to store what a user gives (a note, a tag) holding something shaped like a Crun API key.

    Raises:
        ValidationError: naming the field; the key is never echoed.

    Example:
        >>> guard_secret("notes", "fine") is None
        True
        >>> guard_secret("notes", "my key is ak_" + "x" * 32)
        Traceback (most recent call last):
        ...
        seedance_nb.errors.ValidationError: ...notes...looks like a Crun API key...
    """
    if text and KEY_IN_TEXT.search(text):
        raise ValidationError([Problem(field, "ak_…", "looks like a Crun API key, which must never reach the log",
                                       "Remove the key from the text and try again.")])


REDACTED = "[redacted key]"


def redact_secrets(text: str) -> str:
    """What Crun answered, with anything shaped like an API key replaced: such text is recorded, not refused
    (the task is paid for; refusing the answer would lose it).

    Example:
        >>> redact_secrets("https://cdn.example/v.mp4?sig=ak_" + "x" * 32)
        'https://cdn.example/v.mp4?sig=[redacted key]'
    """
    return KEY_IN_TEXT.sub(REDACTED, text)


def unique_texts(items: Iterable[str]) -> list[str]:
    """Items as strings, first occurrence kept, in order (tags).

    Example:
        >>> unique_texts(["a", "b", "a"])
        ['a', 'b']
    """
    return list(dict.fromkeys(str(i) for i in items))


# --- Python value -> SQLite value ------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the Unix epoch (naive ones are refused)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware (got naive {moment!r}); use datetime.now(UTC)")
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int | None) -> datetime | None:
    """Integer microseconds since the epoch as an aware UTC datetime (``None`` stays ``None``)."""
    if value is None:
        return None
    return _EPOCH + timedelta(microseconds=int(value))  # exact, and a tenth of what pandas' Timestamp costs


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def encode(name: str, value: Any) -> Any:
    """A Python (or pandas) value of column ``name`` as the value SQLite stores."""
    kind = BY_NAME[name].kind
    if kind == "list":
        items = [] if _missing(value) else [str(v) for v in value]
        return json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    if _missing(value):
        return None
    if kind == "time":
        return to_us(value.to_pydatetime() if isinstance(value, pd.Timestamp) else value)
    if kind in ("int", "bool"):
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "json" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


# --- SQLite value -> Python value (one row) ----------------------------------------------------------------

def decode_value(name: str, value: Any) -> Any:
    """The Python value ``get()`` returns for a stored value of column ``name``."""
    kind = BY_NAME[name].kind
    if kind == "list":
        return list(json.loads(value)) if value else []
    if value is None:
        return None
    if kind == "time":
        return from_us(value)
    if kind == "bool":
        return bool(value)
    if kind == "float":
        return float(value)
    return value


def row_to_dict(names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A stored row as a dict keyed like the DataFrame, elapsed_s included, in DataFrame column order."""
    stored = {n: decode_value(n, v) for n, v in zip(names, row, strict=True)}
    start, end = stored.get("submitted_at"), stored.get("finished_at")
    stored["elapsed_s"] = (end - start).total_seconds() if start and end else None
    return {c.name: stored.get(c.name) for c in COLUMNS if c.shown}


# --- request payloads and imported records -> rows ----------------------------------------------------------

_COUNTS = tuple(COUNT_FIELDS.items())


def payload_columns(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The stored values of the request columns, spread out of a CreateTask body.

    Example:
        >>> payload_columns({"model": "m", "input": {"prompt": "p", "reference_images": ["u"]}})["n_images"]
        1
    """
    fields = payload.get("input") if isinstance(payload, Mapping) else None
    if not isinstance(fields, Mapping):
        raise ValueError("payload must be the CreateTask body: a dict with an 'input' object")
    row: dict[str, Any] = {"model": _lenient("model", payload.get("model"))}
    for name in INPUT_FIELDS:
        if name in BY_NAME and name not in REFERENCE_FIELDS:
            row[name] = _lenient(name, fields.get(name))
    for name, count in _COUNTS:
        refs = list(fields.get(name) or [])
        row[name], row[count] = encode(name, refs), len(refs)
    return row


def _lenient(name: str, value: Any) -> Any:
    # The payload is stored verbatim either way: a value of an unexpected type just leaves its column empty.
    try:
        return encode(name, value)
    except (TypeError, ValueError):
        return None


def record_row(record: Mapping[str, Any], now: datetime, new_id: str) -> dict[str, Any]:
    """The stored values of a complete record keyed like ``df()`` (for bulk imports); defaults filled in."""
    row = {n: encode(n, record.get(n)) for n in STORED}
    for name, value in row.items():
        if isinstance(value, str):
            guard_secret(name, value)
    for refs, count in _COUNTS:
        row[count] = len(json.loads(row[refs]))
    now_us = to_us(now)
    defaults = {"local_id": new_id, "status": "submitting", "request_hash": "", "payload": "{}",
                "simulated": 0, "submitted_at": now_us, "updated_at": now_us}
    for name, value in defaults.items():
        if row[name] is None:
            row[name] = value
    return row
