"""``summarize()``: figures per group of a slice of the task log (pure pandas, NaN-safe).

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"aspect_ratio": ["16:9", "16:9", "9:16"], "status": ["success", "failed", "success"],
    ...                    "elapsed_s": [10.0, float("nan"), 20.0], "credits": [29.0, 0.0, 29.0]})
    >>> summarize(df, by="aspect_ratio")[["aspect_ratio", "tasks", "succeeded", "success_rate"]].to_dict("records")
    [{'aspect_ratio': '16:9', 'tasks': 2, 'succeeded': 1, 'success_rate': 0.5},
     {'aspect_ratio': '9:16', 'tasks': 1, 'succeeded': 1, 'success_rate': 1.0}]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SUMMARY_COLUMNS", "group_keys", "summarize"]

# The figures of a group, in order (the group's own columns come first).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "tasks", "succeeded", "success_rate", "elapsed_mean_s", "elapsed_std_s", "credits_mean", "credits_std",
    "credits_total", "rating_mean", "rated", "repeat_spread_s", "repeated_requests",
)
_SAME_REQUEST = ("request_hash", "payload", "prompt")  # the first column present identifies a request


def _by_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else [str(b) for b in by]


def _hashable(value: Any) -> Any:
    """A group value that pandas can group on: lists (tags, references) become their text."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def group_keys(df: pd.DataFrame, by: str | Sequence[str] | None) -> pd.DataFrame:
    """The ``by`` columns of ``df`` made groupable (list values as text); raises ``KeyError`` for a missing one.

    Example:
        >>> group_keys(pd.DataFrame({"tags": [["a", "b"], []]}), "tags")["tags"].tolist()
        ['a, b', '']
    """
    names = _by_list(by)
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise KeyError(f"summarize(by={missing!r}): no such column; use one of {', '.join(map(str, df.columns))}")
    return pd.DataFrame({n: df[n].map(_hashable) if df[n].dtype == object else df[n] for n in names},
                        index=df.index)


def _numbers(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype="float64")
    return pd.to_numeric(df[name], errors="coerce").astype("float64")


def _repeat_spread(elapsed: pd.Series, request: pd.Series) -> tuple[float, int]:
    """Mean over identical requests (with ≥ 2 succeeded runs) of the std of their elapsed times, and how many."""
    frame = pd.DataFrame({"e": elapsed, "r": request}).dropna()
    stds = frame.groupby("r", sort=False)["e"].std(ddof=1).dropna()
    return (float(stds.mean()) if len(stds) else float("nan")), len(stds)


def _figures(group: pd.DataFrame) -> dict[str, Any]:
    ok = group["status"].astype("object").eq("success").to_numpy(dtype=bool) if "status" in group.columns \
        else np.zeros(len(group), dtype=bool)
    elapsed = _numbers(group, "elapsed_s").where(ok)
    credits = _numbers(group, "credits")
    rating = _numbers(group, "rating")
    request_col = next((c for c in _SAME_REQUEST if c in group.columns), None)
    request = group[request_col].astype("object") if request_col else pd.Series(np.nan, index=group.index)
    spread, repeated = _repeat_spread(elapsed, request.map(_hashable))
    tasks = len(group)
    return {
        "tasks": tasks, "succeeded": int(ok.sum()), "success_rate": float(ok.sum() / tasks) if tasks else np.nan,
        "elapsed_mean_s": elapsed.mean(), "elapsed_std_s": elapsed.std(ddof=1),
        "credits_mean": credits.mean(), "credits_std": credits.std(ddof=1), "credits_total": float(credits.sum()),
        "rating_mean": rating.mean(), "rated": int(rating.notna().sum()),
        "repeat_spread_s": spread, "repeated_requests": repeated,
    }


def summarize(df: pd.DataFrame, by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Compare groups of tasks: success, time, credits, rating, and the spread across repeats.

    One row per group of the ``by`` column(s) (groups in the order they first appear; missing values form a
    group of their own), or one row for the whole frame when ``by`` is None. Works on ``TaskLog().df()``,
    any slice of it, a sweep's rows, or the gallery's (whose ratings are the ``rating`` column).

    The figures (NaN where there is nothing to measure; every ``std`` is the sample std, ddof=1):

    - ``tasks``: rows in the group; ``succeeded``: rows with status ``success``; ``success_rate``: their ratio.
    - ``elapsed_mean_s`` / ``elapsed_std_s``: submission to result, over the *succeeded* tasks.
    - ``credits_mean`` / ``credits_std`` / ``credits_total``: over the tasks with a recorded charge
      (``credits`` NaN is skipped; the total of none is 0).
    - ``rating_mean`` over the rated tasks, and ``rated``: how many have a rating.
    - ``repeat_spread_s``: how much the elapsed time of one and the same request varies between its repeats.
      Requests are identical when their ``request_hash`` is (else their ``payload``, else their ``prompt``);
      for each request with at least 2 succeeded runs in the group, the std of their ``elapsed_s``; the
      figure is the mean of those stds, and ``repeated_requests`` counts them.

    Args:
        df: rows of the task log (columns ``status``, ``elapsed_s``, ``credits``, ``rating``,
            ``request_hash`` are used when present).
        by: a column name, a list of them, or None.

    Returns:
        A DataFrame: the ``by`` columns, then ``SUMMARY_COLUMNS``. An empty ``df`` gives no rows, same columns.

    Raises:
        KeyError: a ``by`` column is not in ``df``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"request_hash": ["a", "a", "b"], "status": ["success"] * 3,
        ...                    "elapsed_s": [10.0, 14.0, 30.0], "credits": [29.0, 29.0, 58.0],
        ...                    "rating": pd.array([4, None, 5], dtype="Int64")})
        >>> row = summarize(df).to_dict("records")[0]
        >>> row["tasks"], row["elapsed_mean_s"], row["credits_total"], row["rating_mean"], row["rated"]
        (3, 18.0, 116.0, 4.5, 2)
        >>> round(row["repeat_spread_s"], 4), row["repeated_requests"]      # std of 10 and 14
        (2.8284, 1)
        >>> summarize(df.iloc[:0], by="status").columns.tolist()[:3]
        ['status', 'tasks', 'succeeded']
    """
    names = _by_list(by)
    keys = group_keys(df, names)
    rows: list[dict[str, Any]] = []
    if not names:
        if len(df):
            rows.append(_figures(df))
    else:
        grouped = df.groupby([keys[n] for n in names], sort=False, dropna=False)
        for value, group in grouped:
            values = value if isinstance(value, tuple) else (value,)
            rows.append({**dict(zip(names, values, strict=True)), **_figures(group)})
    out = pd.DataFrame(rows, columns=[*names, *SUMMARY_COLUMNS])
    for name in ("tasks", "succeeded", "rated", "repeated_requests"):
        out[name] = out[name].astype("int64")
    floats = [c for c in SUMMARY_COLUMNS if c not in ("tasks", "succeeded", "rated", "repeated_requests")]
    out[floats] = out[floats].astype("float64")
    return out
