"""``report()``: a self-contained folder that anyone can open offline — ``index.html``, media, ``manifest.json``.

The folder::

    index.html            players, contact sheets, summary tables, payloads, checksums (inline CSS, no script)
    manifest.json         the same facts, machine-readable (``rerun()`` reads it)
    media/<sha256>.mp4    each video, copied from the archive and named by its SHA-256
    thumbs/<sha256>.jpg   a frame of each video (the players' posters)
    sheets/group-N.jpg    a contact sheet per group: one frame of each of its videos

Copying, hashing and ffmpeg run in a pool of worker threads; nothing is embedded as base64.

The example is on ``report()``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from ..errors import mask_keys
from ..notebook._gallery_rows import read_rows
from ..tasklog import TaskLog
from ._folder import contact_sheet, copy_media, reference_checksums, thumbnail
from ._html import render_page
from ._manifest import (
    MANIFEST_VERSION,
    pair_tasks,
    payload_of,
    plain,
    read_manifest,
    task_entry,
    versions,
    write_manifest,
)
from ._summary import group_keys, summarize

__all__ = ["report"]

_T = TypeVar("_T")
_R = TypeVar("_R")


def _workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


def _parallel(work: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    if len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="seedance-report") as pool:
        return list(pool.map(work, items))


def _media(row: Mapping[str, Any], folder: Path) -> dict[str, Any] | None:
    """Copy a row's archived video into the folder with a thumbnail; None when there is no local file."""
    path = row.get("video_path")
    if not isinstance(path, str) or not path or not Path(path).is_file():
        return None
    file, digest = copy_media(Path(path), folder / "media")
    thumb = folder / "thumbs" / f"{digest}.jpg"
    duration = row.get("video_duration_s")
    at = min(1.0, float(duration) / 2) if isinstance(duration, (int, float)) and duration == duration else 0.5
    made = thumb.exists() or thumbnail(folder / file, thumb, at_s=at)
    recorded = row.get("video_sha256")
    return {"file": file, "sha256": digest, "thumbnail": f"thumbs/{thumb.name}" if made else None,
            "matches_log": (recorded == digest) if isinstance(recorded, str) and recorded else None}


def _task(row: Mapping[str, Any], folder: Path, group: int) -> dict[str, Any]:
    media = _media(row, folder)
    references = reference_checksums(payload_of(row), row.get("local_paths"))
    return task_entry(row, media=media, references=references, group=group)


def _group_title(names: Sequence[str], value: tuple[Any, ...], count: int) -> str:
    what = " · ".join(f"{n} = {'(none)' if plain(v) is None else v}" for n, v in zip(names, value, strict=True))
    return f"{what or 'all tasks'} · {count} task{'s' if count != 1 else ''}"


def _groups(df: pd.DataFrame, by: str | Sequence[str] | None) -> tuple[list[int], list[dict[str, Any]]]:
    """Each row's group number, and the groups (title, value) in the order they first appear."""
    names = [by] if isinstance(by, str) else list(by or [])
    keys = group_keys(df, names)
    values = [tuple(plain(v) for v in rec) for rec in keys.itertuples(index=False, name=None)] if names \
        else [()] * len(df)
    order: dict[Any, int] = {}
    numbers = [order.setdefault(repr(v), len(order)) for v in values]
    firsts = {n: values[i] for i, n in reversed(list(enumerate(numbers)))}
    groups = [{"number": n, "value": list(firsts[n]), "title": _group_title(names, firsts[n], numbers.count(n))}
              for n in range(len(order))]
    return numbers, groups


def _sheets(groups: list[dict[str, Any]], tasks: list[dict[str, Any]], folder: Path) -> None:
    def one(group: dict[str, Any]) -> None:
        members = [t for t in tasks if t["group"] == group["number"]]
        group["local_ids"] = [t["local_id"] for t in members]
        thumbs = [folder / t["media"]["thumbnail"] for t in members if t["media"] and t["media"]["thumbnail"]]
        out = folder / "sheets" / f"group-{group['number']}.jpg"
        group["contact_sheet"] = f"sheets/{out.name}" if contact_sheet(thumbs, out) else None
    _parallel(one, groups)


def _summaries(df: pd.DataFrame, by: str | Sequence[str] | None) -> list[tuple[str, pd.DataFrame]]:
    found = [("all tasks", summarize(df))]
    if by:
        found.insert(0, (f"by {', '.join([by] if isinstance(by, str) else by)}", summarize(df, by)))
    return found


def _import_task(task: Mapping[str, Any], source: Path, folder: Path) -> dict[str, Any]:
    """A task of another report, its media copied into this folder (so this one stays self-contained)."""
    copied = dict(task)
    media = task.get("media") or {}
    if media.get("file") and (source / media["file"]).is_file():
        file, digest = copy_media(source / media["file"], folder / "media")
        thumb = media.get("thumbnail")
        if thumb and (source / thumb).is_file() and not (folder / "thumbs" / Path(thumb).name).exists():
            (folder / "thumbs").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / thumb, folder / "thumbs" / Path(thumb).name)
        copied["media"] = {**media, "file": file, "sha256": digest}
    else:
        copied["media"] = None
    return copied


def _comparison(compare_to: str | os.PathLike[str], tasks: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    first = read_manifest(compare_to)
    source = Path(first["_folder"])
    theirs = _parallel(lambda t: _import_task(t, source, folder), list(first["tasks"]))
    summary = pd.DataFrame(first.get("summary") or [])
    return {"first_title": first.get("title"), "first_manifest": str(Path(source) / "manifest.json"),
            "first_sweep_ids": first.get("sweep_ids") or [], "pairs": pair_tasks(theirs, tasks),
            "summaries": [(f"{first.get('title')} (left)", summary)] if len(summary) else []}


def _rows(df: pd.DataFrame, log: TaskLog | None) -> list[dict[str, Any]]:
    """The rows as plain dicts; the exact payloads and local paths (kept out of ``df()``) read from the log."""
    if "payload" in df.columns or "local_id" not in df.columns or not len(df):
        return [{str(k): plain(v) for k, v in rec.items()} for rec in df.to_dict("records")]
    log_ = log if log is not None else TaskLog()
    try:
        return [{k: plain(v) for k, v in row.items()} for row in read_rows(df, log_)]
    finally:
        if log is None:
            log_.close()


def report(df: pd.DataFrame, path: str | os.PathLike[str], title: str | None = None, notes: str | None = None, *,
           by: str | Sequence[str] | None = None, compare_to: str | os.PathLike[str] | None = None,
           log: TaskLog | None = None) -> Path:
    """Write a self-contained report folder of some tasks: ``index.html``, their media, ``manifest.json``.

    ``index.html`` opens from ``file://`` without any network: one player per task on a local copy of its
    video, a contact sheet per group, the summary tables (``summarize``), every task's exact payload, prompt
    and parameters, media and reference checksums, failures with their error, and the versions used.

    Args:
        df: rows of ``TaskLog().df()`` (a sweep's, a slice, the gallery's).
        path: the folder to write (made if missing; files of an earlier report there are replaced).
        title, notes: shown at the top (and kept in the manifest).
        by: column(s) to group the players and the summary by.
        log: the ``TaskLog`` the rows come from (default: ``$SEEDANCE_NB_HOME``): it holds each task's exact
            payload, which ``df()`` leaves out, and the current ratings and tags.
        compare_to: the ``manifest.json`` (or folder) of another report: its tasks are shown side by side
            with these, paired by payload (the n-th run of a payload with the n-th), else by position; its
            media is copied in, so this folder stays self-contained.

    Returns:
        The path of ``index.html``.

    Raises:
        KeyError: a ``by`` column is not in ``df``.
        ValidationError: ``compare_to`` is not a report manifest.

    Example:
        >>> import asyncio, json, tempfile, seedance_nb as sn
        >>> gens = asyncio.run(sn.generate_many([{"aspect_ratio": "16:9"}, {"aspect_ratio": "9:16"}],
        ...     prompt="[Image1] waves", reference_images=["https://example.com/a.png"], duration=4, progress=False))
        >>> page = sn.report(sn.TaskLog().df(), tempfile.mkdtemp() + "/report", title="Ratios", by="aspect_ratio")
        >>> manifest = json.loads((page.parent / "manifest.json").read_text())
        >>> len(manifest["tasks"]), sorted(g["title"] for g in manifest["groups"])   # groups: in the df's order
        (2, ['aspect_ratio = 16:9 · 1 task', 'aspect_ratio = 9:16 · 1 task'])
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    if "local_id" in df.columns:
        df = df.drop_duplicates("local_id")
    numbers, groups = _groups(df, by)
    rows = _rows(df, log)
    tasks = _parallel(lambda i: _task(rows[i], folder, numbers[i]), list(range(len(rows))))
    _sheets(groups, tasks, folder)
    summaries = _summaries(df, by)
    sweep_ids = sorted({t["sweep_id"] for t in tasks if t.get("sweep_id")})
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION, "title": title or f"seedance_nb report ({len(tasks)} tasks)",
        "notes": notes, "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "versions": versions(),
        "sweep_ids": sweep_ids, "by": [by] if isinstance(by, str) else list(by or []), "groups": groups,
        "summary": [{k: plain(v) for k, v in r.items()} for r in summaries[0][1].to_dict("records")],
        "tasks": tasks,
    }
    comparison = _comparison(compare_to, tasks, folder) if compare_to is not None else None
    if comparison is not None:
        manifest["compare_to"] = {"title": comparison["first_title"], "manifest": comparison["first_manifest"],
                                  "sweep_ids": comparison["first_sweep_ids"]}
    write_manifest(folder / "manifest.json", manifest)
    page = folder / "index.html"
    page.write_text(mask_keys(render_page(manifest, summaries, comparison)), encoding="utf-8")
    return page
