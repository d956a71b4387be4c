"""``seedance-nb demo``'s report, opened from file:// in a real Chromium: every video and image loads, nothing
asks the network, the console stays clean. The demo runs as a user runs it (a subprocess, its own home)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lab_driver import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALL_VIDEOS_SETTLED = ("() => { const v = [...document.querySelectorAll('video')];"
                      " return v.length > 0 && v.every(x => x.readyState >= 2 || x.error); }")
ALL_IMAGES_SETTLED = "() => [...document.images].every(i => i.complete)"


def _run_demo(tmp_path: Path) -> Path:
    """Run ``seedance-nb demo`` with its home in ``tmp_path``; the path its last line names."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRUN_")}
    env["SEEDANCE_NB_HOME"] = str(tmp_path / "runs")
    demo = subprocess.run([sys.executable, "-m", "seedance_nb.cli", "demo", "--latency", "0.2"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    last = demo.stdout.splitlines()[-1]
    assert last.startswith("report: "), demo.stdout[-2000:]
    return Path(last.removeprefix("report: "))


def test_the_demo_report_opens_offline_and_every_video_loads(tmp_path: Path,
                                                              file_page: tuple[Any, list[str], list[str]]) -> None:
    page_path = _run_demo(tmp_path)
    assert page_path.is_file() and page_path.name == "index.html"
    page, errors, remote = file_page
    page.goto(page_path.as_uri())
    page.wait_for_function(ALL_VIDEOS_SETTLED, timeout=30_000)
    page.wait_for_function(ALL_IMAGES_SETTLED, timeout=30_000)
    videos = page.evaluate("[...document.querySelectorAll('video')].map(v => ({src: v.currentSrc,"
                           " ready: v.readyState, duration: v.duration, width: v.videoWidth, height: v.videoHeight,"
                           " error: v.error && v.error.code}))")
    assert len(videos) == 8, videos  # 2 prompts × 2 ratios × 2 repeats: one player per task
    for video in videos:
        assert video["src"].startswith("file://") and video["ready"] >= 2 and video["error"] is None, video
        assert abs(video["duration"] - 4) < 0.2, video
    assert sorted({(v["width"] > v["height"]) for v in videos}) == [False, True]  # 9:16 and 16:9 players
    images = page.evaluate("[...document.images].map(i => ({src: i.currentSrc, width: i.naturalWidth}))")
    assert len(images) >= 4 and all(i["src"].startswith("file://") and i["width"] > 0 for i in images), images
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "07-demo-report.png"))
    assert remote == [], remote
    assert errors == [], errors
