"""What ``sn.board()`` shows, without widgets: the rows it reads, their order, their action and their HTML.

The board (``_board.py``) only holds widgets and a polling task; everything it displays is computed here from
row dicts as ``TaskLog.get()`` returns them. ``read_snapshot`` and ``read_token`` read the log (call them in
a worker thread); the rest is pure. Every text is escaped; no JavaScript.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    >>> rows = [{"local_id": "t1", "status": "success", "submitted_at": now - timedelta(hours=1)},
    ...         {"local_id": "t2", "status": "running", "submitted_at": now - timedelta(seconds=75)}]
    >>> [row["local_id"] for row in order_rows(rows, limit=20)], elapsed_text(rows[1], now)
    (['t2', 't1'], '1m15s')
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._generate.submit import STALE_SUBMITTING_S
from ..tasklog._log import FINAL
from ._progress import clock_text
from ._table import LogView, badge_html, credits_text, shorten, thumbnail_html

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["Action", "Snapshot", "board_text", "elapsed_text", "error_text", "header_html", "heading",
           "order_rows", "read_snapshot", "read_token", "row_action", "row_html"]

Action = Literal["resume", "resubmit", "confirm"]
PROMPT_CHARS = 70
_ERROR_CHARS = 90
_FAILED = ("failed", "rejected")
_NEWEST_FIRST = "ORDER BY submitted_at DESC, local_id DESC LIMIT ?"
_COLUMNS = "76px 96px minmax(0,3fr) 58px 58px minmax(0,2fr) 150px"
_HEADS = ("", "status", "prompt", "elapsed", "credits", "error", "local_id")
_GRID = f"display:grid;grid-template-columns:{_COLUMNS};gap:6px;align-items:center;font-family:sans-serif;" \
        "font-size:90%;padding:2px 4px;min-height:22px"
_CLIP = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap"
_STAND_OUT = {"unknown": "background:#fffbeb;border-left:3px solid #d97706",
              "failed": "background:#fef2f2;border-left:3px solid #dc2626",
              "rejected": "background:#fef2f2;border-left:3px solid #dc2626"}
_PLAIN = "border-left:3px solid transparent"


@dataclass(frozen=True)
class Snapshot:
    """What one read of the log gave: the change token, the rows to show, the log's size, the thumbnails.

    Example:
        >>> Snapshot(token=(None, None)).rows
        ()
    """

    token: tuple[Any, ...]
    rows: tuple[dict[str, Any], ...] = ()
    total: int = 0
    thumbnails: Mapping[str, str] = field(default_factory=dict)


def read_token(log: TaskLog) -> tuple[Any, ...]:
    """A cheap fingerprint of the log that changes whenever a task is added or changes status (an event).

    Two primary-key maxima: it costs microseconds whatever the log's size, so the board can ask every second.

    Example:
        >>> import tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> before = read_token(log)
        >>> log.import_records([{"local_id": "t1", "status": "success"}])
        1
        >>> read_token(log) != before
        True
    """
    found = log._db.fetch("SELECT (SELECT max(seq) FROM events), (SELECT max(rowid) FROM tasks)")
    return tuple(found[0])


def read_snapshot(log: TaskLog, limit: int, cwd: Path | None = None) -> Snapshot:
    """Read what the board shows: tasks not final first, then the most recent others, ``limit`` in all.

    Reads files for the thumbnails too: call it in a worker thread, never on the event loop.

    Example:
        >>> import tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> log.import_records([{"local_id": "t1", "status": "success"}, {"local_id": "t2", "status": "unknown"}])
        2
        >>> snap = read_snapshot(log, limit=5)
        >>> [row["local_id"] for row in snap.rows], snap.total
        (['t2', 't1'], 2)
    """
    token = read_token(log)  # first: a change after it shows up as a new token on the next poll
    waiting = log._query(f"WHERE status NOT IN ({', '.join('?' * len(FINAL))})", (*FINAL, limit), _NEWEST_FIRST)
    recent = log._query(f"WHERE status IN ({', '.join('?' * len(FINAL))})", (*FINAL, limit), _NEWEST_FIRST)
    rows = order_rows([*waiting, *recent], limit)
    thumbnails = {str(row["local_id"]): thumbnail_html(row, cwd) for row in rows}
    return Snapshot(token, tuple(rows), len(log), thumbnails)


def in_flight(row: Mapping[str, Any]) -> bool:
    """Not final: submitting, pending, running, unknown, or any status Crun invented.

    Example:
        >>> in_flight({"status": "unknown"}), in_flight({"status": "rejected"})
        (True, False)
    """
    return str(row.get("status") or "") not in FINAL


def order_rows(rows: Sequence[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Tasks in flight first, then the others; newest first within each; at most ``limit``.

    Example:
        >>> order_rows([{"local_id": "a", "status": "failed"}, {"local_id": "b", "status": "pending"}], 1)
        [{'local_id': 'b', 'status': 'pending'}]
    """
    def newest(row: Mapping[str, Any]) -> tuple[float, str]:
        moment = row.get("submitted_at")
        return (moment.timestamp() if isinstance(moment, datetime) else float("-inf"), str(row.get("local_id")))

    ordered = sorted(rows, key=newest, reverse=True)
    return ([r for r in ordered if in_flight(r)] + [r for r in ordered if not in_flight(r)])[: max(0, limit)]


def _ticking(row: Mapping[str, Any]) -> bool:
    return in_flight(row) and row.get("status") != "unknown"


def elapsed_seconds(row: Mapping[str, Any], now: datetime) -> float | None:
    """Seconds since submission for a task in flight (it ticks), the recorded ``elapsed_s`` for the others.

    Example:
        >>> from datetime import UTC, datetime
        >>> elapsed_seconds({"status": "success", "elapsed_s": 41.6}, datetime.now(UTC))
        41.6
    """
    submitted = row.get("submitted_at")
    if _ticking(row) and isinstance(submitted, datetime):
        return max(0.0, (now - submitted).total_seconds())
    value = row.get("elapsed_s")
    return float(value) if value is not None else None


def elapsed_text(row: Mapping[str, Any], now: datetime) -> str:
    """``elapsed_seconds`` as ``1m15s`` (``""`` when unknown)."""
    seconds = elapsed_seconds(row, now)
    return clock_text(seconds) if seconds is not None else ""


def error_text(row: Mapping[str, Any]) -> str:
    """Code and message of a failed, rejected or unknown task (why the media is missing for a success).

    Example:
        >>> error_text({"status": "failed", "error_code": 501, "error_message": "the render crashed"})
        '501 · the render crashed'
        >>> error_text({"status": "success", "media_error": "expired: 404"})
        'media not archived: expired: 404'
    """
    status = row.get("status")
    if status in (*_FAILED, "unknown"):
        parts = [str(row["error_code"]) if row.get("error_code") is not None else "", row.get("error_message") or ""]
        return " · ".join(p for p in parts if p) or status
    media = row.get("media_error")
    return f"media not archived: {media}" if status == "success" and media else ""


def row_action(row: Mapping[str, Any], followed: Collection[str], now: datetime) -> Action | None:
    """The action a row offers: ``resubmit`` (failed, rejected), ``confirm`` (unknown: resubmitting may pay
    twice, so it takes a second click), ``resume`` (in flight, and nothing in this kernel follows it).

    Example:
        >>> from datetime import UTC, datetime
        >>> now = datetime.now(UTC)
        >>> running = {"local_id": "t1", "status": "running", "task_id": "c0ffee", "submitted_at": now}
        >>> row_action(running, followed=set(), now=now), row_action(running, followed={"t1"}, now=now)
        ('resume', None)
        >>> row_action({"local_id": "t2", "status": "unknown"}, followed=set(), now=now)
        'confirm'
    """
    status, local_id = row.get("status"), str(row.get("local_id"))
    if status in _FAILED:
        return "resubmit"
    if status == "unknown":
        return "confirm"
    if not in_flight(row) or local_id in followed:
        return None
    if row.get("task_id"):
        return "resume"
    submitted = row.get("submitted_at")  # a `submitting` row whose process died: resume() marks it unknown
    stale = isinstance(submitted, datetime) and (now - submitted).total_seconds() > STALE_SUBMITTING_S
    return "resume" if stale else None


def header_html() -> str:
    """The column headings, on the grid the rows use.

    Example:
        >>> ">prompt<" in header_html()
        True
    """
    cells = "".join(f'<div style="{_CLIP};color:#555"><b>{h}</b></div>' for h in _HEADS)
    return f'<div class="seedance-board-head" style="{_GRID};{_PLAIN}">{cells}</div>'


def row_html(row: Mapping[str, Any], now: datetime, thumbnail: str = "") -> str:
    """One row: thumbnail, status badge, prompt (whole in a tooltip), elapsed, credits, error, local id.

    Example:
        >>> from datetime import UTC, datetime
        >>> page = row_html({"local_id": "t1", "status": "unknown", "prompt": "<b>waves</b>",
        ...                  "error_message": "no answer"}, datetime.now(UTC))
        >>> "&lt;b&gt;waves&lt;/b&gt;" in page, "no answer" in page, "#fffbeb" in page
        (True, True, True)
    """
    status = str(row.get("status") or "")
    prompt, error = str(row.get("prompt") or ""), error_text(row)
    local_id = html.escape(str(row.get("local_id") or ""))
    cells = [(thumbnail, ""), (badge_html(status), ""), (html.escape(shorten(prompt, PROMPT_CHARS)), prompt),
             (elapsed_text(row, now), ""), (credits_text(row), ""),
             (f'<span style="color:#b91c1c">{html.escape(shorten(error, _ERROR_CHARS))}</span>', error),
             (f"<code>{local_id}</code>", "")]
    body = "".join(f'<div style="{_CLIP}"' + (f' title="{html.escape(tip)}"' if tip else "") + f">{cell}</div>"
                   for cell, tip in cells)
    return (f'<div class="seedance-board-row" data-status="{html.escape(status)}" '
            f'style="{_GRID};{_STAND_OUT.get(status, _PLAIN)}">{body}</div>')


def heading(rows: Sequence[Mapping[str, Any]], total: int) -> str:
    """``5 of 120 tasks, in flight first · 2 in flight · 1 unknown · 1 failed`` (or that the log is empty).

    Example:
        >>> heading([{"status": "running"}, {"status": "unknown"}, {"status": "failed"}], 9)
        '3 of 9 tasks, in flight first · 1 in flight · 1 unknown · 1 failed'
    """
    if not rows:
        return "no tasks in the log"
    statuses = [str(r.get("status") or "") for r in rows]
    counts = {"in flight": sum(_ticking(r) for r in rows), "unknown": statuses.count("unknown"),
              "failed": sum(s in _FAILED for s in statuses)}
    parts = [f"{len(rows)} of {max(total, len(rows))} tasks, in flight first",
             *(f"{n} {what}" for what, n in counts.items() if n)]
    return " · ".join(parts)


def board_text(rows: Sequence[Mapping[str, Any]], total: int, now: datetime) -> str:
    """The board as text for a terminal: its heading, then the log view's table with live elapsed times.

    Example:
        >>> from datetime import UTC, datetime
        >>> print(board_text([{"local_id": "t1", "status": "failed", "prompt": "waves", "credits": 5}], 3,
        ...                  datetime.now(UTC)))
        1 of 3 tasks, in flight first · 1 failed
        local_id  status  credits  elapsed  shape  prompt
        t1        failed        5                  waves
    """
    if not rows:
        return heading(rows, total)
    live = tuple({**row, "elapsed_s": elapsed_seconds(row, now)} for row in rows)
    table = repr(LogView(live, total=total)).split("\n", 1)[1]
    return f"{heading(rows, total)}\n{table}"
