"""A user's afternoon in JupyterLab, in a real Chromium: the form, the board, an interrupt, the gallery.

One notebook, the way a new user meets the toolkit: the simulator starts in the first cell; the form is filled
with the mouse and the keyboard (a prompt, a reference file uploaded, the duration slider moved) and Generate
clicked; the video must be playable in the page with the requested duration; the board shows the task; a
running ``await sn.generate(...)`` is interrupted from the Kernel menu and its message read; a gallery of
several results is rated with a click, and the rating is read back from the task log. The browser console
must stay free of errors. Screenshots go to tests/browser/screenshots/.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from lab_driver import (
    SCREENSHOTS,
    Console,
    Lab,
    cell,
    interrupt,
    open_notebook,
    output_text,
    run_cell,
    run_cell_and_wait,
    video_state,
    wait_for_text,
    write_notebook,
)
from media_factory import image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

URL = "https://example.com/dancer.png"
CELLS = [
    "import seedance_nb as sn\nsim = sn.use_simulator(latency=6)\nprint('simulator at', sim.base_url)",
    "form = sn.form()\nform",
    "board = sn.board()\nboard",
    "gen = await sn.generate(prompt='[Image1] walks slowly through the rain', reference_images=[" + repr(URL) + "],"
    " duration=4)",
    "gens = await sn.generate_many([dict(prompt=f'[Image1] dances, take {d}', reference_images=[" + repr(URL) + "],"
    " duration=d) for d in (4, 5, 6)], progress=False)\n"
    "df = sn.TaskLog().df()\n"
    "sn.gallery(df[df.local_id.isin([g.local_id for g in gens])], by='duration')",
    "print('ratings:', sorted(int(r) for r in sn.TaskLog().df()['rating'].dropna()))",
]
FORM, BOARD, INTERRUPTED, GALLERY, RATINGS = 1, 2, 3, 4, 5
REQUESTED_S = 4


def _shot(page: Any, name: str, target: Any | None = None) -> Path:
    path = SCREENSHOTS / name
    (target or page).screenshot(path=str(path))
    return path


def test_a_user_generates_watches_interrupts_and_rates_in_jupyterlab(lab: Lab, browser_page: tuple[Any, Console]
                                                                    ) -> None:
    page, console = browser_page
    image(lab.root / "street.png", 640, 480, "teal")
    write_notebook(lab.root / "workbench.ipynb", CELLS)
    open_notebook(page, lab.url("workbench.ipynb"))
    run_cell_and_wait(page, 0)
    assert "simulator at http://127.0.0.1:" in output_text(page, 0)

    # -- the form: type a prompt, upload a reference, move the duration slider, Generate -------------------
    run_cell_and_wait(page, FORM)
    form = cell(page, FORM)
    generate = form.locator(".jupyter-widgets button", has_text="Generate")
    assert generate.is_disabled(), "an empty form must not be sendable"
    with page.expect_file_chooser() as chooser:                                   # the images' Upload button
        form.locator(".jupyter-widgets button", has_text="Upload").first.click()
    chooser.value.set_files(str(lab.root / "street.png"))
    form.locator(".jupyter-widgets button", has_text="[Image1]").first.wait_for(timeout=30_000)
    prompt = form.locator("textarea").first
    prompt.click()
    prompt.type("a cyclist crosses ")
    form.locator(".jupyter-widgets button", has_text="[Image1]").first.click()   # the chip inserts the token
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
                           ".querySelector('textarea').value.includes('[Image1]')", timeout=10_000)
    prompt.press("End")
    prompt.type("at dusk")
    slider = form.locator(".noUi-handle").first
    slider.click()
    slider.press("ArrowLeft")                                                     # 5 s → 4 s
    page.wait_for_function("() => !document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
                           ".querySelector('button.mod-primary, button[class*=primary]')?.disabled", timeout=30_000)
    form.get_by_text("SIMULATOR").first.wait_for(timeout=10_000)
    form.get_by_text("credits").first.wait_for(timeout=20_000)                   # the estimate before paying
    _shot(page, "01-form.png", form)
    generate.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[1].querySelectorAll('video')]"
        ".some(v => v.readyState >= 2)", timeout=90_000)
    videos = video_state(page, ".jp-Notebook .jp-Cell:nth-child(2)") or \
        page.evaluate("() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[1].querySelectorAll('video')]"
                      ".map(v => ({ready: v.readyState, duration: v.duration, error: v.error && v.error.code}))")
    playable = [v for v in videos if v["ready"] >= 2]
    assert playable and playable[0]["error"] is None
    assert abs(playable[0]["duration"] - REQUESTED_S) < 0.5, videos
    played = page.evaluate(
        "async () => { const v = document.querySelectorAll('.jp-Notebook .jp-Cell')[1].querySelector('video');"
        " v.muted = true; await v.play(); await new Promise(r => setTimeout(r, 1500)); v.pause();"
        " return v.currentTime; }")
    assert played > 0.5, f"the video did not play: currentTime {played}"
    _shot(page, "02-video.png", form)

    # -- the board: the form's task, then a task another cell starts, live -------------------------------
    run_cell_and_wait(page, BOARD)
    assert "a cyclist crosses" in wait_for_text(page, BOARD, "success")
    run_cell(page, INTERRUPTED)
    wait_for_text(page, INTERRUPTED, "pending", timeout_s=30)
    wait_for_text(page, BOARD, "walks slowly", timeout_s=15)          # fed by the log, no re-run

    # -- interrupt the running await: the message says what happened -----------------------------------
    interrupt(page)
    message = wait_for_text(page, INTERRUPTED, "(full traceback: run %tb)", timeout_s=30)
    assert "goes on at Crun" in message and "sn.resume()" in message and "detached" in message
    assert "Traceback (most recent call last)" not in message          # the story, not the toolkit's frames
    _shot(page, "04-interrupt.png", cell(page, INTERRUPTED))

    # -- the board offers Resume for the task nothing follows now; a click finishes it ------------------
    board = cell(page, BOARD)
    resume = board.locator(".jupyter-widgets button", has_text="Resume")
    resume.first.wait_for(timeout=15_000)
    _shot(page, "03-board.png", board)
    resume.first.click()
    page.wait_for_function(
        "() => { const b = document.querySelectorAll('.jp-Notebook .jp-Cell')[2];"
        " return !b.innerText.includes('pending') && !b.innerText.includes('running')"
        " && (b.innerText.match(/success/g) || []).length >= 2; }", timeout=60_000)
    _shot(page, "03b-board-resumed.png", board)

    # -- a gallery of several results; rate one ---------------------------------------------------------
    run_cell_and_wait(page, GALLERY, timeout_ms=120_000)
    gallery = cell(page, GALLERY)
    gallery.locator("video").first.wait_for(timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[4].querySelectorAll('video')]"
        ".filter(v => v.readyState >= 2).length >= 3", timeout=60_000)
    gallery.locator(".jupyter-widgets button", has_text="4").first.click()
    page.wait_for_timeout(1500)
    _shot(page, "05-gallery.png", gallery)
    run_cell_and_wait(page, RATINGS)
    assert "ratings: [4]" in output_text(page, RATINGS)
    _shot(page, "06-notebook.png")
    page.evaluate("() => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = 2; }")
    shutil.copy(lab.log_path, SCREENSHOTS / "jupyterlab.log")

    assert console.errors == [], "\n".join(console.errors)
