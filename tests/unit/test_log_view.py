"""TaskLog.view(): the compact table of recent tasks (HTML for notebooks, text for terminals)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import seedance_nb as sn
from seedance_nb.notebook import LogView
from seedance_nb.notebook._table import PROMPT_CHARS, badge_colours

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LONG = "[Image1] walks through the <street> & \"rain\" from [Image2] at dusk, the camera slowly pulling back"


def record(n: int, **fields: Any) -> dict[str, Any]:
    return {"local_id": f"t{n}", "status": "success", "prompt": f"prompt {n}", "resolution": "720p",
            "aspect_ratio": "16:9", "duration": 5, "credits": 29, "submitted_at": T0 + timedelta(minutes=n),
            "finished_at": T0 + timedelta(minutes=n, seconds=75)} | fields


@pytest.fixture
def log(tmp_path: Path) -> Any:
    with sn.TaskLog(tmp_path / "tasks.sqlite") as opened:
        yield opened


def cells(markup: str) -> list[list[str]]:
    """The body rows' cells, markup included."""
    body = markup.split("<tbody>", 1)[1]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_the_most_recent_tasks_come_first_and_limit_counts(log: sn.TaskLog) -> None:
    log.import_records([record(n) for n in range(5)])
    view = log.view(limit=3)
    assert [r["local_id"] for r in view.rows] == ["t4", "t3", "t2"]
    markup = view._repr_html_()
    assert "3 of 5 tasks, newest first" in markup
    assert [row[-1] for row in cells(markup)] == ["<code>t4</code>", "<code>t3</code>", "<code>t2</code>"]
    assert cells(markup)[0][3:6] == ["720p · 16:9 · 5s", "29", "1m15s"]
    assert len(log.df().columns) > 40  # df() keeps every column; the view shows eight


def test_text_repr_is_a_short_table(log: sn.TaskLog) -> None:
    log.import_records([record(1, prompt=LONG), record(2, status="running", credits=None, finished_at=None)])
    lines = repr(log.view()).splitlines()
    assert lines[0] == "2 of 2 tasks, newest first"
    assert lines[1].split() == ["local_id", "status", "credits", "elapsed", "shape", "prompt"]
    assert lines[2].split()[:2] == ["t2", "running"] and lines[2].endswith("prompt 2")
    assert lines[3].split()[:5] == ["t1", "success", "29", "1m15s", "720p"] and lines[3].endswith("…")
    assert max(len(line) for line in lines) < 120
    assert repr(LogView(())) == "no tasks in the log" and "no tasks in the log" in LogView(())._repr_html_()


def test_every_text_is_escaped_and_the_prompt_is_shortened_with_a_tooltip(log: sn.TaskLog) -> None:
    log.import_records([record(1, prompt=LONG, status="<b>odd</b>", reference_files=["<me>.png", "a&b.jpg"])])
    markup = log.view()._repr_html_()
    row = cells(markup)[0]
    shown = row[2].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    assert len(shown) == PROMPT_CHARS and shown.endswith("…") and LONG.startswith(shown[:-1])
    assert 'title="[Image1] walks through the &lt;street&gt; &amp; &quot;rain&quot;' in markup
    assert "&lt;b&gt;odd&lt;/b&gt;" in row[1] and row[6] == "&lt;me&gt;.png, a&amp;b.jpg"
    assert "<street>" not in markup and "<b>" not in markup and "<script" not in markup and "onclick" not in markup


@pytest.mark.parametrize(("status", "colour"), [
    ("success", "#166534"), ("failed", "#991b1b"), ("rejected", "#991b1b"), ("unknown", "#92400e"),
    ("submitting", "#92400e"), ("pending", "#1e40af"), ("running", "#1e40af"), ("queued", "#1e40af")])
def test_status_badges_are_coloured(log: sn.TaskLog, status: str, colour: str) -> None:
    log.import_records([record(1, status=status)])
    assert badge_colours(status)[0] == colour
    assert f'<span style="color:{colour};' in cells(log.view()._repr_html_())[0][1]


def test_thumbnails_prefer_the_last_frame_then_a_served_video(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    (notebooks / "runs").mkdir(parents=True)
    frame, clip = notebooks / "runs" / "f.png", notebooks / "runs" / "v.mp4"
    frame.write_bytes(b"png")
    clip.write_bytes(b"mp4")
    elsewhere = tmp_path / "archive" / "f.jpg"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"jpg")
    view = LogView((record(4, last_frame_path=str(frame), video_path=str(clip)),
                    record(3, video_path=str(clip)),
                    record(2, last_frame_path=str(elsewhere), video_path=str(tmp_path / "archive" / "v.mp4")),
                    record(1, video_path=str(tmp_path / "gone.mp4"), last_frame_path=str(tmp_path / "gone.png"))),
                   total=4, cwd=notebooks)
    thumbs = [row[0] for row in cells(view._repr_html_())]
    assert thumbs[0].startswith('<img src="runs/f.png"')
    assert thumbs[1].startswith('<video src="runs/v.mp4" muted') and 'preload="metadata"' in thumbs[1]
    assert "controls" not in thumbs[1] and "autoplay" not in thumbs[1]
    assert thumbs[2].startswith('<img src="data:image/jpeg;base64,')  # outside the folder: embedded, typed
    assert thumbs[3] == ""                                            # nothing archived any more
    (tmp_path / "archive" / "v.mp4").write_bytes(b"mp4")
    only_video = replace(view, rows=(record(5, video_path=str(tmp_path / "archive" / "v.mp4")),))
    assert cells(only_video._repr_html_())[0][0] == ""  # an MP4 is never embedded in the table


def test_the_view_loads_neither_pandas_nor_ipywidgets(tmp_path: Path) -> None:
    code = ("import sys, seedance_nb.notebook._table; assert 'pandas' not in sys.modules\n"
            "import seedance_nb as sn\n"
            f"log = sn.TaskLog({str(tmp_path / 't.sqlite')!r})\n"
            "log.import_records([{'status': 'success', 'prompt': 'p'}]); log.view()._repr_html_()\n"
            "assert 'ipywidgets' not in sys.modules, 'ipywidgets'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
