"""Writing the task log's DataFrame to a file someone else can open: CSV, JSON Lines or JSON.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "tasks.jsonl"
    >>> write_frame(pd.DataFrame({"prompt": ["[Image1] waves"], "tags": [["a", "b"]]}), target)
    >>> target.read_text()
    '{"prompt":"[Image1] waves","tags":["a","b"]}\\n'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ._schema import DTYPES

__all__ = ["check_suffix", "write_frame"]


def _lists_as_json(frame: pd.DataFrame) -> pd.DataFrame:
    lists = [name for name in frame.columns if DTYPES.get(name, "object") == "object"
             and frame[name].map(lambda v: isinstance(v, list)).any()]
    return frame.assign(**{name: frame[name].map(json.dumps) for name in lists})


def _to_csv(frame: pd.DataFrame, target: Path) -> None:
    _lists_as_json(frame).to_csv(target, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")


def _to_jsonl(frame: pd.DataFrame, target: Path) -> None:
    frame.to_json(target, orient="records", lines=True, date_format="iso", date_unit="us", force_ascii=False)


def _to_json(frame: pd.DataFrame, target: Path) -> None:
    frame.to_json(target, orient="records", date_format="iso", date_unit="us", force_ascii=False, indent=1)


_WRITERS: dict[str, Callable[[pd.DataFrame, Path], None]] = {".csv": _to_csv, ".jsonl": _to_jsonl, ".json": _to_json}


def check_suffix(target: Path) -> None:
    """Raise ``ValueError`` unless ``target`` ends in a suffix ``write_frame`` knows.

    Example:
        >>> check_suffix(Path("tasks.xlsx"))
        Traceback (most recent call last):
        ...
        ValueError: cannot export to tasks.xlsx: use a name ending in .csv, .jsonl, .json
    """
    if target.suffix.lower() not in _WRITERS:
        raise ValueError(f"cannot export to {target.name}: use a name ending in {', '.join(_WRITERS)}")


def write_frame(frame: pd.DataFrame, target: Path) -> None:
    """Write ``frame`` to ``target`` in the format its suffix names (see ``check_suffix``)."""
    check_suffix(target)
    _WRITERS[target.suffix.lower()](frame, target)
