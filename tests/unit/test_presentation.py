"""What a notebook user sees: the progress line and a Generation shown inline."""

from __future__ import annotations

import io
from pathlib import Path

import seedance_nb as sn
from seedance_nb.notebook import ProgressLine, describe, video_src

REQ = sn.R2VRequest(prompt="<b>[Image1]</b> waves", reference_images=["https://x.org/a.png"], duration=4)


def test_describe_reads_well() -> None:
    assert describe("running", 75.4, 30) == "running · 1m15s elapsed · ~30s left"
    assert describe("running", 200, -5) == "running · 3m20s elapsed · any moment now"


def test_text_mode_prints_a_line_per_status_change_not_per_tick() -> None:
    out = io.StringIO()
    line = ProgressLine(mode="text", stream=out)
    for status, t in (("pending", 1), ("pending", 3), ("running", 5), ("running", 9)):
        line.update(status, elapsed=t)
    line.finish("success · done")
    assert out.getvalue().splitlines() == ["seedance: pending · 1s elapsed", "seedance: running · 5s elapsed",
                                           "seedance: success · done"]


def test_tty_mode_rewrites_one_line() -> None:
    out = io.StringIO()
    line = ProgressLine(mode="tty", stream=out)
    line.update("running", elapsed=2)
    line.finish("success")
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith("success\n")


def test_off_mode_is_silent() -> None:
    out = io.StringIO()
    ProgressLine(mode="off", stream=out).finish("x")
    assert out.getvalue() == ""


def test_video_src_prefers_a_relative_path_then_inline_bytes_then_the_url(tmp_path: Path) -> None:
    clip = tmp_path / "media" / "a.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    assert video_src(clip, "https://cdn/a.mp4", cwd=tmp_path) == "media/a.mp4"
    assert video_src(clip, "https://cdn/a.mp4", cwd=tmp_path / "elsewhere").startswith("data:video/mp4;base64,")
    assert video_src(None, "https://cdn/a.mp4") == "https://cdn/a.mp4"
    assert video_src(tmp_path / "gone.mp4", None) is None


def test_generation_html_escapes_the_prompt_and_shows_failures() -> None:
    info = sn.TaskInfo.from_data({"task_id": "t", "status": "failed",
                                  "result": {"code": 451, "message": "Output refused by moderation"}})
    gen = sn.Generation(local_id="t1", task_id="t", status="failed", request=REQ, info=info, credits=0.0)
    html = gen._repr_html_()
    assert "&lt;b&gt;[Image1]&lt;/b&gt;" in html and "<b>[Image1]</b>" not in html
    assert "Output refused by moderation" in html and "<video" not in html
    assert "failed" in gen.caption() and "720p 16:9 4s +audio" in gen.caption()
    assert "t1" in repr(gen)
