"""What ``sn.gallery()`` shows, without widgets: the rows of its videos, their groups and their ``Generation``s.

A gallery starts from a DataFrame of ``TaskLog.df()`` (filtered, sorted, with columns of the user's own),
a list of local ids, or what ``sn.generate_many()`` returned. The rows are read again from the task log for
what ``df()`` leaves out (the request payload, which rebuilds the request with its local file names) and
for the current rating and tags; the cards are the grid's own (``_grid.cell_html``).

Example:
    >>> groups({"t1": {"aspect_ratio": "16:9"}, "t2": {"aspect_ratio": "9:16"}, "t3": {"aspect_ratio": "16:9"}},
    ...        "aspect_ratio")
    [('16:9', ['t1', 't3']), ('9:16', ['t2'])]
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._answers import TaskInfo
from .._generate.follow import request_from_row
from .._models import R2VRequest
from ..errors import Problem, ValidationError, safe_text
from ._board_rows import error_text
from ._generation import Generation
from ._grid import Failed

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["check_by", "generation_of", "group_title", "groups", "read_rows", "value_text"]

_FRESH = ("rating", "tags")  # what the gallery edits: always the log's current value
_CHUNK = 500  # local ids per query (SQLite limits the parameters of one statement)


def _plain(value: Any) -> Any:
    """A pandas or numpy value as plain Python: missing values (NA, NaN, NaT) become None."""
    if isinstance(value, (str, list, tuple, dict)) or value is None:
        return value
    try:
        missing = pd.isna(value)
    except (TypeError, ValueError):
        return value
    if missing is True:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, datetime) else value


def _records(source: Any) -> list[dict[str, Any]]:
    if isinstance(source, pd.DataFrame):
        if len(source) and "local_id" not in source.columns:
            raise ValidationError([Problem("df", safe_text(list(source.columns), 60), "has no local_id column",
                                           "Pass sn.TaskLog().df() or rows of it (filtered, sorted, with columns "
                                           "of your own).")])
        return [{str(k): _plain(v) for k, v in rec.items()} for rec in source.to_dict("records")]
    if isinstance(source, (str, Generation, Failed)) or not isinstance(source, Iterable):
        source = [source]
    records = []
    for i, item in enumerate(source):
        local_id = item if isinstance(item, str) else getattr(item, "local_id", None)
        if not isinstance(local_id, str):
            raise ValidationError([Problem(f"df[{i}]", safe_text(item, 40), "names no task of the log",
                                           "Pass sn.TaskLog().df(), local ids, or what sn.generate_many() returned.")])
        records.append({"local_id": local_id})
    return records


def read_rows(source: Any, log: TaskLog) -> list[dict[str, Any]]:
    """The rows of a gallery, in the order given, once per local id: the DataFrame's values (columns of the
    user's own included) over the log's row, except rating and tags, which are always the log's.

    Raises:
        ValidationError: ``source`` is neither a DataFrame (with a ``local_id`` column) nor a list of local ids
            or ``Generation``s; or it names local ids the log does not hold.

    Example:
        >>> import tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> log.import_records([{"local_id": "t1", "status": "success", "rating": 4}])
        1
        >>> frame = log.df().assign(score=0.5)
        >>> log.rate("t1", 5)
        >>> row = read_rows(frame, log)[0]
        >>> row["score"], row["rating"], row["payload"]
        (0.5, 5, '{}')
    """
    records = _records(source)
    ids = list(dict.fromkeys(str(r.get("local_id")) for r in records))
    stored: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        stored |= {r["local_id"]: r for r in log._query(f"WHERE local_id IN ({', '.join('?' * len(chunk))})", chunk)}
    missing = [i for i in ids if i not in stored]
    if missing and all(set(r) == {"local_id"} for r in records):  # bare ids: nothing to show for those
        raise ValidationError([Problem("df", safe_text(missing, 60), f"{len(missing)} of these local ids are not "
                                       f"in the task log {log.path}", "Pass ids of this log, or log=<its TaskLog>.")])
    rows, seen = [], set()
    for record in records:
        local_id = str(record.get("local_id"))
        if local_id in seen:
            continue
        seen.add(local_id)
        fresh = stored.get(local_id, {})
        rows.append({**fresh, **record, **{k: fresh[k] for k in _FRESH if k in fresh}})
    return rows


def _request(row: Mapping[str, Any]) -> R2VRequest:
    """The request of a row (from its payload, with local file names; else from its columns)."""
    return request_from_row(row)


def generation_of(row: Mapping[str, Any]) -> Generation:
    """The ``Generation`` a log row stands for: what the grid's cards are drawn from.

    Example:
        >>> gen = generation_of({"local_id": "t1", "status": "failed", "prompt": "[Image1] waves", "duration": 4,
        ...                      "error_code": 501, "error_message": "the render crashed"})
        >>> gen.request.duration, gen.info.result_message
        (4, '501 · the render crashed')
    """
    status = str(row.get("status") or "unknown")
    urls = [row[k] for k in ("video_url", "last_frame_url") if row.get(k)]
    info = TaskInfo.from_data({"task_id": row.get("task_id") or "", "status": status,
                               "result": {"media_urls": urls, "message": error_text(row) or None}})

    def path(name: str) -> Path | None:
        return Path(row[name]) if row.get(name) else None

    return Generation(local_id=str(row.get("local_id")), task_id=row.get("task_id"), status=status,
                      request=_request(row), info=info, video_path=path("video_path"),
                      last_frame_path=path("last_frame_path"), credits=row.get("credits"),
                      elapsed=row.get("elapsed_s"), simulated=bool(row.get("simulated")),
                      media_error=row.get("media_error"))


def _key(value: Any) -> Any:
    """A hashable stand-in for a group value (lists of tags, say)."""
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def groups(rows: Mapping[str, Mapping[str, Any]], by: str | None) -> list[tuple[Any, list[str]]]:
    """Local ids grouped by the value of column ``by``, groups in the order they first appear.

    Example:
        >>> groups({"t1": {"tags": ["a"]}, "t2": {"tags": []}, "t3": {"tags": ["a"]}}, "tags")
        [(['a'], ['t1', 't3']), ([], ['t2'])]
    """
    if by is None:
        return [(None, list(rows))]
    found: dict[Any, tuple[Any, list[str]]] = {}
    for local_id, row in rows.items():
        value = row.get(by)
        found.setdefault(_key(value), (value, []))[1].append(local_id)
    return list(found.values())


def value_text(value: Any) -> str:
    """A group value as a title says it.

    Example:
        >>> value_text(None), value_text(["dusk", "keeper"]), value_text(4.0), value_text("16:9")
        ('(none)', 'dusk, keeper', '4', '16:9')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "(none)"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def group_title(by: str, value: Any, count: int) -> str:
    """``aspect_ratio = 16:9 · 4 videos``.

    Example:
        >>> group_title("rating", 5, 1)
        'rating = 5 · 1 video'
    """
    return f"{by} = {value_text(value)} · {count} video{'s' if count != 1 else ''}"


def check_by(by: str | None, rows: Sequence[Mapping[str, Any]], columns: Iterable[str] = ()) -> None:
    """Refuse a ``by`` that names no column (the message lists the ones there are).

    Raises:
        ValueError: no row has a column ``by``.

    Example:
        >>> check_by("aspect", [{"aspect_ratio": "16:9", "duration": 4}])
        Traceback (most recent call last):
        ...
        ValueError: gallery(by='aspect'): no such column; use one of aspect_ratio, duration
    """
    names = set(columns) | {k for row in rows for k in row}
    if by is not None and by not in names:
        raise ValueError(f"gallery(by={by!r}): no such column; use one of {', '.join(sorted(names))}")
