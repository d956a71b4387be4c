"""The task log's DataFrame, built fast from SQLite rows (the columns and dtypes come from ``tasklog_schema``).

Reading 100,000 rows is dominated by the Python objects ``sqlite3`` creates per value and by the cyclic GC
walking them. So ``FRAME_SELECT`` reads the ungrouped columns as they are plus one ``json_array()`` per
column group, ``build_frame`` decodes each distinct group value once and expands it with numpy takes, and
the caller pauses the GC while building.

Example:
    >>> frame = build_frame([])
    >>> frame.shape[0], str(frame["duration"].dtype)
    (0, 'Int64')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._schema import BY_NAME, SHOWN, Column, Kind

__all__ = ["EVENT_COLUMNS", "FRAME_SELECT", "build_events", "build_frame"]

_NA_TIME = np.iinfo(np.int64).min  # numpy's NaT, as int64
_GROUPS: Mapping[str, tuple[Column, ...]] = {
    g: tuple(c for c in SHOWN if c.group == g) for g in dict.fromkeys(c.group for c in SHOWN if c.group)
}
_DIRECT: tuple[str, ...] = tuple(c.name for c in SHOWN if c.stored and c.group is None)
_PACKED = tuple(
    "json_array(" + ", ".join(f"json({c.name})" if c.kind == "list" else c.name for c in cols) + ")"
    for cols in _GROUPS.values()
)
FRAME_SELECT: str = "SELECT " + ", ".join([*_DIRECT, *_PACKED]) + " FROM tasks"


def _lists(items: Sequence[Any], codes: np.ndarray[Any, Any] | None = None) -> np.ndarray[Any, Any]:
    # Every row gets its own list: shared list objects would let an edit of one cell change others.
    # fromiter keeps each list one object (slice assignment would broadcast equal-length lists to 2-D).
    if codes is None or len(items) == len(codes):  # each decoded list is used once: no copies needed
        return np.fromiter((list(v or ()) if not isinstance(v, list) else v for v in items), dtype=object,
                           count=len(items))
    decoded = [tuple(v or ()) for v in items]
    return np.fromiter((list(decoded[i]) for i in codes.tolist()), dtype=object, count=len(codes))


def _loads(texts: Sequence[Any]) -> list[Any]:
    # One json.loads over all texts runs the whole loop in C: 100,000 small calls cost 5x more.
    return list(json.loads("[" + ",".join(t if isinstance(t, str) else "[]" for t in texts) + "]"))


def _micros(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    missing = pd.isna(values)
    out = np.full(len(values), _NA_TIME, dtype=np.int64)
    out[~missing] = values[~missing].astype(np.int64)
    return out


def _column(kind: Kind, values: np.ndarray[Any, Any]) -> Any:
    if kind in ("str", "json"):
        return pd.array(values, dtype="string")
    if kind == "int":
        return pd.array(values, dtype="Int64")
    if kind == "bool":
        return pd.array(values, dtype="Int64").astype("boolean")
    if kind == "float":
        return values.astype(np.float64)
    if kind == "time":
        return pd.DatetimeIndex(_micros(values).view("datetime64[us]"), tz="UTC").array
    return _lists(_loads(list(values)))


def _group_columns(cols: Sequence[Column], texts: np.ndarray[Any, Any]) -> dict[str, Any]:
    codes, uniques = pd.factorize(texts)
    table = _loads(list(uniques))
    columns = list(zip(*table, strict=True)) if table else [() for _ in cols]
    out: dict[str, Any] = {}
    for col, values in zip(cols, columns, strict=True):
        if col.kind == "list":
            out[col.name] = _lists(values, codes)
        else:
            out[col.name] = _column(col.kind, np.array(values, dtype=object)).take(codes)
    return out


def build_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows of ``FRAME_SELECT`` as the log's DataFrame: every column, explicit dtypes, in order.

    ``rows`` is emptied as it is read (the row tuples are freed early: that lowers the peak memory).
    """
    width = len(_DIRECT) + len(_GROUPS)
    table = np.array(rows, dtype=object) if rows else np.empty((0, width), dtype=object)
    rows.clear()
    start = _micros(table[:, _DIRECT.index("submitted_at")])
    end = _micros(table[:, _DIRECT.index("finished_at")])
    data: dict[str, Any] = {"elapsed_s": np.where(end == _NA_TIME, np.nan, (end - start) / 1e6)}
    for i, name in enumerate(_DIRECT):
        data[name] = _column(BY_NAME[name].kind, table[:, i].copy())  # own copy: the slice is cleared next
        table[:, i] = None  # drop what is converted (ints, JSON texts) as we go: a lower peak
    for g, cols in enumerate(_GROUPS.values()):
        data |= _group_columns(cols, table[:, len(_DIRECT) + g])
        table[:, len(_DIRECT) + g] = None
    return pd.DataFrame({c.name: data[c.name] for c in SHOWN}, copy=False)


EVENT_COLUMNS = ("seq", "local_id", "at", "status", "detail")
_EVENT_KINDS: tuple[Kind, ...] = ("int", "str", "time", "str", "json")


def build_events(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Rows of the events table (``EVENT_COLUMNS``) as a DataFrame: Int64, string, datetime64[us, UTC]."""
    table = np.array(rows, dtype=object) if rows else np.empty((0, len(EVENT_COLUMNS)), dtype=object)
    data = {name: _column(kind, table[:, i].copy()) for i, (name, kind) in enumerate(zip(EVENT_COLUMNS,
                                                                                       _EVENT_KINDS, strict=True))}
    return pd.DataFrame(data, copy=False)
