"""The DataFrames a sweep returns: the plan (``dry_run=True``) and the sweep's rows of the task log.

Both are in plan order with a ``plan_index`` column. The rows are ``TaskLog.df()`` rows (the newest row
of each planned task); a planned task that has no row (skipped by the budget, refused before it was
recorded) gets a row built from its request, with ``status`` ``skipped`` or ``not sent`` and the reason in
``error_message``. Grid keys that are not request fields (template placeholders) become columns too.

Example:
    >>> from seedance_nb._sweep._plan import expand
    >>> from seedance_nb._sweep._run import Slot
    >>> plan = expand({"prompt": "[Image1] waves", "reference_images": ["https://x.org/a.png"]},
    ...               grid={"duration": [4, 8]})
    >>> frame = plan_frame([Slot(p, "h", 5.8 * p.request.duration) for p in plan], "sweep-1")
    >>> frame.duration.tolist(), frame.estimated_credits.tolist(), frame.attrs["estimated_credits"]
    ([4, 8], [23.2, 46.4], 69.6)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._limits import INPUT_FIELDS, REFERENCE_FIELDS, SHAPE_FIELDS
from ._budget import shape_label
from ._plan import Planned
from ._run import Slot

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plan_frame", "result_frame"]

_LIST_COLUMNS = (*REFERENCE_FIELDS, "tags", "reference_files")
_WHAT = {"send": "to send", "follow": "in flight: followed", "done": "done", "keep": "kept (failed)",
         "unknown": "unknown: not resent"}


def _fields(planned: Planned) -> dict[str, Any]:
    """The log columns a planned task fills in from its request."""
    request = planned.request
    fields = {name: getattr(request, name) for name in INPUT_FIELDS if name != "byteplus_fallback"}
    fields.update(request.shape_of(SHAPE_FIELDS))
    for name in REFERENCE_FIELDS:
        fields[name] = [str(ref) if isinstance(ref, (str, Path)) else ref for ref in getattr(request, name)]
    return {**fields, "repeat": planned.repeat}


def _grid_vars(slots: Sequence[Slot], taken: Sequence[str]) -> dict[str, list[Any]]:
    names = list(dict.fromkeys(k for s in slots for k in s.planned.values if k not in taken))
    return {name: [s.planned.values.get(name) for s in slots] for name in names}


def plan_frame(slots: Sequence[Slot], sweep_id: str) -> pd.DataFrame:
    """The plan: one row per task (repeats included), its fields, shape, estimate and what a run would do.

    ``attrs`` holds ``sweep_id``, ``tasks`` and ``estimated_credits`` (the tasks a run would send).
    """
    import pandas as pd

    records = [{"plan_index": s.planned.index, "sweep_id": sweep_id, **_fields(s.planned),
                "shape_label": shape_label(s.planned.request), "estimated_credits": s.estimate,
                "action": _WHAT.get(s.action, s.action)} for s in slots]
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    for name, values in _grid_vars(slots, list(frame.columns)).items():
        frame[name] = values
    frame.attrs.update(sweep_id=sweep_id, tasks=len(slots),
                       estimated_credits=round(sum(s.estimate for s in slots if s.action == "send"), 6))
    return frame


def result_frame(log_df: pd.DataFrame, slots: Sequence[Slot], sweep_id: str) -> pd.DataFrame:
    """The sweep's rows of ``TaskLog.df()`` in plan order, rows built for planned tasks that have none."""
    import pandas as pd

    present = set(log_df["local_id"].dropna())
    labels = [s.local_id if s.local_id in present else f"\0plan-{s.planned.index}" for s in slots]
    frame = log_df.set_index("local_id", drop=False).reindex(labels).reset_index(drop=True)
    missing = [i for i, s in enumerate(slots) if s.local_id not in present]
    for i in missing:
        slot = slots[i]
        fields = {**_fields(slot.planned), "sweep_id": sweep_id,
                  "status": "skipped" if slot.action == "skipped" else "not sent",
                  "error_message": slot.note or slot.action}
        for name, value in fields.items():
            if name in frame.columns and name not in _LIST_COLUMNS:
                frame.loc[i, name] = value
    for name in _LIST_COLUMNS:
        if name in frame.columns:
            filled = {i: _fields(slots[i].planned).get(name, []) for i in missing}
            frame[name] = pd.Series([filled.get(i, v) for i, v in enumerate(frame[name])],
                                    dtype=object)
    frame.insert(0, "plan_index", pd.array([s.planned.index for s in slots], dtype="Int64"))
    frame["estimated_credits"] = [s.estimate for s in slots]
    for name, values in _grid_vars(slots, list(frame.columns)).items():
        frame[name] = values
    frame.attrs.update(sweep_id=sweep_id, tasks=len(slots))
    return frame
