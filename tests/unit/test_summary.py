"""summarize(): exact figures per group on hand-made frames, NaN safety, empty frames, the gallery's ratings."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import seedance_nb as sn
from seedance_nb._report import summarize
from seedance_nb._report._summary import SUMMARY_COLUMNS

NAN = float("nan")


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "aspect_ratio": ["16:9", "16:9", "16:9", "16:9", "9:16", "9:16"],
        "request_hash": ["a", "a", "a", "b", "c", "c"],
        "status": pd.array(["success", "success", "success", "failed", "success", None], dtype="string"),
        "elapsed_s": [10.0, 12.0, 14.0, 3.0, 40.0, NAN],
        "credits": [29.0, 29.0, 29.0, 0.0, 58.0, NAN],
        "rating": pd.array([5, 3, None, None, 4, None], dtype="Int64"),
    })


def test_figures_per_group_are_exact() -> None:
    out = summarize(_frame(), by="aspect_ratio")
    assert list(out.columns) == ["aspect_ratio", *SUMMARY_COLUMNS]
    wide, tall = out.to_dict("records")
    assert wide["aspect_ratio"] == "16:9" and tall["aspect_ratio"] == "9:16"
    assert (wide["tasks"], wide["succeeded"], wide["success_rate"]) == (4, 3, 0.75)
    assert wide["elapsed_mean_s"] == 12.0 and wide["elapsed_std_s"] == 2.0  # the failed task's 3 s is not counted
    assert wide["credits_mean"] == 21.75 and wide["credits_total"] == 87.0
    assert wide["credits_std"] == pytest.approx(14.5)
    assert (wide["rating_mean"], wide["rated"]) == (4.0, 2)
    assert (wide["repeat_spread_s"], wide["repeated_requests"]) == (2.0, 1)  # std of request a's 10, 12, 14
    assert (tall["tasks"], tall["succeeded"], tall["success_rate"]) == (2, 1, 0.5)
    assert tall["elapsed_mean_s"] == 40.0 and math.isnan(tall["elapsed_std_s"])  # one value: no std
    assert (tall["credits_mean"], tall["credits_total"]) == (58.0, 58.0)  # the NaN charge is skipped
    assert math.isnan(tall["repeat_spread_s"]) and tall["repeated_requests"] == 0  # c succeeded once only
    assert str(out["tasks"].dtype) == "int64" and str(out["success_rate"].dtype) == "float64"


def test_no_by_is_one_group_and_several_columns_work() -> None:
    whole = summarize(_frame()).to_dict("records")
    assert len(whole) == 1 and whole[0]["tasks"] == 6 and whole[0]["succeeded"] == 4
    assert whole[0]["repeat_spread_s"] == 2.0 and whole[0]["credits_total"] == 145.0
    two = summarize(_frame(), by=["aspect_ratio", "status"])
    rows = two[["aspect_ratio", "status", "tasks"]].values.tolist()
    assert rows[:3] == [["16:9", "success", 3], ["16:9", "failed", 1], ["9:16", "success", 1]]
    assert rows[3][0] == "9:16" and pd.isna(rows[3][1]) and rows[3][2] == 1  # a missing status is a group too


def test_spread_uses_payload_when_there_is_no_hash_and_lists_group_as_text() -> None:
    df = pd.DataFrame({"payload": ["p", "p", "q"], "status": ["success"] * 3, "elapsed_s": [1.0, 3.0, 9.0],
                       "tags": [["x"], ["x"], []]})
    out = summarize(df, by="tags").to_dict("records")
    assert [r["tags"] for r in out] == ["x", ""]
    assert out[0]["repeat_spread_s"] == pytest.approx(math.sqrt(2)) and out[0]["repeated_requests"] == 1


def test_empty_frame_and_bad_column() -> None:
    empty = summarize(_frame().iloc[:0], by="aspect_ratio")
    assert len(empty) == 0 and list(empty.columns) == ["aspect_ratio", *SUMMARY_COLUMNS]
    assert len(summarize(pd.DataFrame())) == 0
    bare = summarize(pd.DataFrame({"status": ["success"]})).to_dict("records")[0]
    assert bare["tasks"] == 1 and math.isnan(bare["elapsed_mean_s"]) and bare["rated"] == 0
    with pytest.raises(KeyError, match="aspect"):
        summarize(_frame(), by="aspect")


def test_works_on_the_log_with_the_gallerys_ratings(tmp_path: Path) -> None:
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    log.import_records([{"local_id": f"t{n}", "status": "success", "prompt": "[Image1] waves", "duration": d,
                         "credits": 5.8 * d} for n, d in enumerate([4, 4, 8])])
    log.rate("t0", 5)  # what a click on ★5 in sn.gallery() writes
    log.rate("t1", 2)
    out = summarize(log.df(), by="duration").to_dict("records")
    assert [(r["duration"], r["tasks"], r["rated"]) for r in out] == [(4, 2, 2), (8, 1, 0)]
    assert out[0]["rating_mean"] == 3.5 and math.isnan(out[1]["rating_mean"])
    assert out[0]["credits_total"] == pytest.approx(46.4)
