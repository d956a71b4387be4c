"""``LogView``: the recent tasks of the log as a compact table, what ``sn.TaskLog().view()`` returns.

``df()`` keeps every column (41 and more), which a notebook shows with the middle ones hidden and prompts
wrapped into narrow cells. This table shows what a person scans a log for: a thumbnail, the status as a
coloured badge, the prompt shortened (in full as a tooltip), the shape, credits, elapsed time, the local
reference files and the local id. It is plain HTML (every text escaped, no JavaScript) built from the rows
``TaskLog`` reads, without pandas; ``repr()`` gives a short text table for terminals.

Example:
    >>> view = LogView(({"local_id": "t1", "status": "failed", "prompt": "<b>waves</b>"},), total=1)
    >>> html_text = view._repr_html_()
    >>> "&lt;b&gt;waves&lt;/b&gt;" in html_text, "<script" in html_text
    (True, False)
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._generation import video_src
from ._progress import clock_text

__all__ = ["LogView", "badge_colours", "badge_html", "credits_text", "shape_text", "shorten", "thumbnail_html"]

PROMPT_CHARS = 60
_TEXT_PROMPT_CHARS = 40
_GREEN, _RED, _AMBER, _BLUE = ("#166534", "#dcfce7"), ("#991b1b", "#fee2e2"), ("#92400e", "#fef3c7"), \
    ("#1e40af", "#dbeafe")
_BADGES: Mapping[str, tuple[str, str]] = {"success": _GREEN, "failed": _RED, "rejected": _RED,
                                          "unknown": _AMBER, "submitting": _AMBER}
_CELL = "padding:2px 6px;text-align:left;vertical-align:middle;white-space:nowrap"
_THUMB = "height:40px;width:72px;object-fit:cover;display:block;border-radius:2px"
_HEADS = ("", "status", "prompt", "shape", "credits", "elapsed", "references", "local_id")


def badge_colours(status: str) -> tuple[str, str]:
    """(text colour, background) of a status badge: success green, failed/rejected red, unknown/submitting
    amber, anything still in flight (pending, running, or a status Crun invented) blue.

    Example:
        >>> badge_colours("success"), badge_colours("running") == badge_colours("queued")
        (('#166534', '#dcfce7'), True)
    """
    return _BADGES.get(status, _BLUE)


def shape_text(row: Mapping[str, Any], sep: str = " · ") -> str:
    """``resolution · aspect · duration`` of a row, leaving out what is missing.

    Example:
        >>> shape_text({"resolution": "720p", "aspect_ratio": "16:9", "duration": 5})
        '720p · 16:9 · 5s'
    """
    duration = row.get("duration")
    parts = (row.get("resolution"), row.get("aspect_ratio"), f"{duration}s" if duration is not None else None)
    return sep.join(str(p) for p in parts if p)


def badge_html(status: str) -> str:
    """A status as a coloured, escaped badge (the colours of ``badge_colours``).

    Example:
        >>> badge_html("failed")
        '<span style="color:#991b1b;background:#fee2e2;padding:1px 6px;border-radius:8px">failed</span>'
    """
    colour, background = badge_colours(status)
    return (f'<span style="color:{colour};background:{background};padding:1px 6px;border-radius:8px">'
            f"{html.escape(status)}</span>")


def shorten(text: str, limit: int) -> str:
    """Text on one line, cut to ``limit`` characters with an ellipsis.

    Example:
        >>> shorten("waves   in the rain", 12)
        'waves in th…'
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def credits_text(row: Mapping[str, Any]) -> str:
    """A row's credits as a short number (``""`` when not charged, or not yet).

    Example:
        >>> credits_text({"credits": 23.2}), credits_text({"credits": None})
        ('23.2', '')
    """
    credits = row.get("credits")
    return f"{credits:g}" if credits is not None else ""


def thumbnail_html(row: Mapping[str, Any], cwd: Path | None = None) -> str:
    """A small ``<img>`` of a row's archived last frame, else a muted ``<video>`` of its archived video
    linked by path (never embedded: a table of MP4s would swell the notebook), else ``""``.

    Example:
        >>> thumbnail_html({"video_path": None, "last_frame_path": None})
        ''
    """
    frame, video = row.get("last_frame_path"), row.get("video_path")
    if frame and Path(frame).is_file():
        src = video_src(Path(frame), cwd=cwd)
        if src and src.startswith("data:"):  # video_src types what it embeds png or mp4: name the image's own
            src = f"data:{mimetypes.guess_type(frame)[0] or 'image/png'};{src.split(';', 1)[1]}"
        if src:
            return f'<img src="{html.escape(src)}" alt="" style="{_THUMB}">'
    src = video_src(Path(video), cwd=cwd) if video else None
    if src and not src.startswith("data:"):
        return f'<video src="{html.escape(src)}" muted playsinline preload="metadata" style="{_THUMB}"></video>'
    return ""


def _elapsed(row: Mapping[str, Any]) -> str:
    seconds = row.get("elapsed_s")
    return clock_text(seconds) if seconds is not None else ""


@dataclass(frozen=True)
class LogView:
    """Rows of the task log (dicts as ``TaskLog.get()`` returns them), newest first, shown compactly.

    Attributes:
        rows: the rows shown.
        total: how many tasks the log holds (the heading says "3 of 120 tasks").
        cwd: the notebook's folder, which local media paths are made relative to (default: the current one).

    Example:
        >>> LogView(({"local_id": "t1", "status": "running", "prompt": "waves"},), total=4)
        1 of 4 tasks, newest first
        local_id  status   credits  elapsed  shape  prompt
        t1        running                           waves
    """

    rows: tuple[Mapping[str, Any], ...]
    total: int = 0
    cwd: Path | None = None

    def heading(self) -> str:
        """``3 of 120 tasks, newest first`` (or that the log is empty)."""
        if not self.rows:
            return "no tasks in the log"
        return f"{len(self.rows)} of {max(self.total, len(self.rows))} tasks, newest first"

    def __repr__(self) -> str:
        table = [("local_id", "status", "credits", "elapsed", "shape", "prompt")]
        table += [(str(r.get("local_id") or ""), str(r.get("status") or ""), credits_text(r), _elapsed(r),
                   shape_text(r, " "), shorten(str(r.get("prompt") or ""), _TEXT_PROMPT_CHARS)) for r in self.rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        right = {2}  # numbers line up on the right
        lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                           for i, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()
                 for line in table]
        return "\n".join([self.heading(), *lines]) if self.rows else self.heading()

    def _repr_html_(self) -> str:
        head = "".join(f'<th style="{_CELL}">{h}</th>' for h in _HEADS)
        body = "".join(self._row(r) for r in self.rows)
        return (f'<table class="seedance-log" style="border-collapse:collapse;font-family:sans-serif;'
                f'font-size:90%"><caption style="text-align:left;color:#555">{html.escape(self.heading())}'
                f"</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def _row(self, row: Mapping[str, Any]) -> str:
        badge = badge_html(str(row.get("status") or ""))
        prompt = str(row.get("prompt") or "")
        files = ", ".join(str(f) for f in row.get("reference_files") or ())
        cells = [thumbnail_html(row, self.cwd), badge, html.escape(shorten(prompt, PROMPT_CHARS)),
                 html.escape(shape_text(row)), credits_text(row), _elapsed(row), html.escape(files),
                 f'<code>{html.escape(str(row.get("local_id") or ""))}</code>']
        tips = {2: prompt}
        return "<tr>" + "".join(
            f'<td style="{_CELL}"' + (f' title="{html.escape(tips[i])}"' if i in tips else "") + f">{cell}</td>"
            for i, cell in enumerate(cells)) + "</tr>"
