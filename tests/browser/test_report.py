"""A report opened from file:// in a real Chromium, offline: every video loads, nothing asks the network,
the console stays clean. No JupyterLab is needed: the page is a plain file."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from lab_driver import SCREENSHOTS
from sim_helpers import QUICK, URL

import seedance_nb as sn
from seedance_nb._report import report
from seedance_nb.simulator import Simulator

pytestmark = [pytest.mark.browser, pytest.mark.slow]

def _make_report(tmp_path: Path, fake_key: str) -> Path:
    sim = Simulator(latency=0, api_key=fake_key).start()
    try:
        async def run() -> sn.Generations:
            async with sn.Client(api_key=fake_key, base_url=sim.base_url) as client:
                return await sn.generate_many(
                    [{"aspect_ratio": r} for r in ("16:9", "9:16", "1:1")] + [{"prompt": "[Image1] [simulate:failed]"}],
                    prompt="[Image1] waves", reference_images=[URL], duration=4, resolution="480p", client=client,
                    log=log, sweep_id="s-browser", **QUICK)

        log = sn.TaskLog(tmp_path / "runs" / "tasks.sqlite")
        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs a loop in this thread
            pool.submit(asyncio.run, run()).result()
        return report(log.df(), tmp_path / "report", title="Browser check", by="aspect_ratio", log=log)
    finally:
        sim.stop()


def test_the_report_opens_offline_and_every_video_loads(tmp_path: Path, fake_key: str,
                                                         file_page: tuple[Any, list[str], list[str]]) -> None:
    page_path = _make_report(tmp_path, fake_key)
    page, errors, remote = file_page
    page.goto(page_path.as_uri())
    page.wait_for_function("() => { const v = [...document.querySelectorAll('video')];"
                           " return v.length > 0 && v.every(x => x.readyState >= 2 || x.error); }", timeout=30_000)
    states = page.evaluate("[...document.querySelectorAll('video')].map(v => [v.readyState, v.duration,"
                           " v.error === null])")
    assert len(states) == 3 and all(r >= 2 and d > 3.5 and ok for r, d, ok in states), states
    sheets = page.evaluate("[...document.querySelectorAll('img.sheet')].map(i => i.naturalWidth)")
    assert len(sheets) == 3 and all(w > 0 for w in sheets)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report.png"))
    assert remote == [] and errors == []
