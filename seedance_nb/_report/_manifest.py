"""``manifest.json``: what a report holds, machine-readable — and how two reports' tasks are paired.

A manifest is the report's title, notes, creation time, versions, sweep ids, grouping and summary, and
per task: ``local_id``, ``task_id``, the exact ``payload``, ``request_hash`` (the log's), ``payload_sha256``
(of the payload's canonical JSON: what pairs a task with its rerun), the media file and its SHA-256,
status, credits, elapsed time, error and reference checksums. ``rerun()`` reads it back.

Example:
    >>> a = {"model": "m", "input": {"prompt": "p", "duration": 4}}
    >>> payload_sha256(a) == payload_sha256({"input": {"duration": 4, "prompt": "p"}, "model": "m"})
    True
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..__version__ import __version__
from ..errors import Problem, ValidationError, mask_keys, safe_text

__all__ = ["MANIFEST_VERSION", "pair_tasks", "payload_of", "payload_sha256", "plain", "read_manifest",
           "task_entry", "versions", "write_manifest"]

MANIFEST_VERSION = 1
_ROW_FIELDS = ("local_id", "task_id", "sweep_id", "repeat", "status", "model", "prompt", "request_hash",
               "credits", "elapsed_s", "rating", "tags", "submitted_at", "finished_at", "error_code",
               "error_message", "media_error", "simulated", "width", "height", "video_duration_s")


def plain(value: Any) -> Any:
    """A pandas/numpy value as plain JSON-able Python: NA, NaN and NaT become None, times ISO text.

    Example:
        >>> plain(pd.NA), plain(np.int64(3)), plain(float("nan")), plain(pd.Timestamp("2025-01-02", tz="UTC"))
        (None, 3, None, '2025-01-02T00:00:00+00:00')
    """
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, str) or value is None:
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (bool, int, float)) else str(value)


def payload_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The exact CreateTask body a row recorded (``{}`` when it has none).

    Example:
        >>> payload_of({"payload": '{"model": "m", "input": {"prompt": "p"}}'})["input"]
        {'prompt': 'p'}
    """
    raw = row.get("payload")
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str) and raw:
        try:
            loaded = json.loads(raw)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def payload_sha256(payload: Mapping[str, Any]) -> str:
    """SHA-256 of a payload's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def versions() -> dict[str, str]:
    """The versions a report was made with: seedance_nb, Python, pandas, numpy and the platform.

    Example:
        >>> sorted(versions())
        ['numpy', 'pandas', 'platform', 'python', 'seedance_nb']
    """
    return {"seedance_nb": __version__, "python": sys.version.split()[0], "pandas": pd.__version__,
            "numpy": np.__version__, "platform": platform.platform()}


def task_entry(row: Mapping[str, Any], *, media: Mapping[str, Any] | None, references: Sequence[Mapping[str, Any]],
               group: int) -> dict[str, Any]:
    """A task as the manifest lists it (JSON-able): its row's figures, exact payload, media and references.

    Example:
        >>> entry = task_entry({"local_id": "t1", "status": "success", "credits": np.float64(29),
        ...                     "payload": '{"model": "m", "input": {"prompt": "p"}}'},
        ...                    media=None, references=[], group=0)
        >>> entry["local_id"], entry["credits"], entry["payload"]["input"], len(entry["payload_sha256"])
        ('t1', 29.0, {'prompt': 'p'}, 64)
    """
    payload = payload_of(row)
    entry = {name: plain(row.get(name)) for name in _ROW_FIELDS}
    entry.update(payload=payload, payload_sha256=payload_sha256(payload) if payload else None,
                 media=dict(media) if media else None, references=[dict(r) for r in references], group=group)
    return entry


def write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    """Write the manifest as indented UTF-8 JSON; any key-shaped text in it is masked on the way."""
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    path.write_text(mask_keys(text) + "\n", encoding="utf-8")


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a report's ``manifest.json`` (or the report folder holding it).

    Raises:
        ValidationError: the file is missing, not JSON, or not a report manifest.

    Example:
        >>> read_manifest("/nonexistent/manifest.json")
        Traceback (most recent call last):
        ...
        seedance_nb.errors.ValidationError: 1 problem in the request (nothing was sent):
        ...
    """
    file = Path(path)
    file = file / "manifest.json" if file.is_dir() else file
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError([Problem("manifest", str(file), f"cannot be read ({safe_text(str(exc), 80)})",
                                       "Pass the manifest.json of a folder made by sn.report().")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise ValidationError([Problem("manifest", str(file), "is not a report manifest (no task list)",
                                       "Pass the manifest.json of a folder made by sn.report().")])
    data["_folder"] = str(file.parent)
    return data


def _occurrences(tasks: Sequence[Mapping[str, Any]]) -> list[tuple[str | None, int]]:
    seen: dict[str | None, int] = {}
    keys = []
    for task in tasks:
        key = task.get("payload_sha256")
        keys.append((key, seen.get(key, 0)))
        seen[key] = seen.get(key, 0) + 1
    return keys


def pair_tasks(first: Sequence[Mapping[str, Any]], second: Sequence[Mapping[str, Any]]
               ) -> list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """Pair the tasks of two reports: the n-th run of a payload with the n-th run of the same payload (by
    ``payload_sha256``); what is left is paired by position (plan order); the rest stands alone.

    Example:
        >>> a = [{"payload_sha256": "x", "n": 1}, {"payload_sha256": "y", "n": 2}, {"payload_sha256": "x", "n": 3}]
        >>> b = [{"payload_sha256": "y", "n": 4}, {"payload_sha256": "x", "n": 5}, {"payload_sha256": "z", "n": 6}]
        >>> [(p and p["n"], q and q["n"]) for p, q in pair_tasks(a, b)]
        [(1, 5), (2, 4), (3, 6)]
    """
    index = {key: i for i, key in enumerate(_occurrences(second)) if key[0] is not None}
    used: set[int] = set()
    pairs: list[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]] = []
    left: list[int] = []
    for i, key in enumerate(_occurrences(first)):
        j = index.get(key)
        if j is not None:
            used.add(j)
            pairs.append((first[i], second[j]))
        else:
            pairs.append((first[i], None))
            left.append(len(pairs) - 1)
    rest = [j for j in range(len(second)) if j not in used]
    for slot, j in zip(left, rest, strict=False):
        pairs[slot] = (pairs[slot][0], second[j])
    pairs.extend((None, second[j]) for j in rest[len(left):])
    return pairs
