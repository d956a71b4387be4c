"""Small, explicit steps on a JupyterLab page: open a notebook, run one cell, read a cell's output.

JupyterLab exposes its application object (``--LabApp.expose_app_in_browser``); commands are started
without awaiting their promise, so a long-running cell never blocks the driver.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

CELL_TIMEOUT_MS = 90_000
SCREENSHOTS = Path(__file__).parent / "screenshots"


@dataclass
class Lab:
    """A running JupyterLab: its root folder, URL and token."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, notebook: str) -> str:
        """The URL that opens ``notebook`` in a fresh workspace (no restored layout)."""
        return (f"http://127.0.0.1:{self.port}/lab/workspaces/w{secrets.token_hex(4)}/tree/{notebook}"
                f"?reset&token={self.token}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@dataclass
class Console:
    """What the page said on its console, and the errors it raised."""

    errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells, with the kernel of this environment."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def open_notebook(page: Any, url: str) -> None:
    """Open a notebook and wait until its kernel is idle."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=CELL_TIMEOUT_MS)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }", timeout=CELL_TIMEOUT_MS)


def run_cell(page: Any, index: int) -> None:
    """Start cell ``index`` (not waiting for it to finish)."""
    page.evaluate("(i) => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = i;"
                  " nb.deselectAll(); window.jupyterapp.commands.execute('notebook:run-cell'); }", index)


def wait_cell_done(page: Any, index: int, timeout_ms: int = CELL_TIMEOUT_MS) -> None:
    """Wait until cell ``index`` shows an execution count (it ran to its end, or raised)."""
    page.wait_for_function(
        "(i) => { const c = window.jupyterapp.shell.currentWidget.content.widgets[i];"
        " const p = c.node.querySelector('.jp-InputPrompt'); return c.model.executionCount !== null"
        " && p && !p.textContent.includes('*'); }", arg=index, timeout=timeout_ms)


def run_cell_and_wait(page: Any, index: int, timeout_ms: int = CELL_TIMEOUT_MS) -> None:
    """Run cell ``index`` to its end."""
    page.evaluate("(i) => { const c = window.jupyterapp.shell.currentWidget.content.widgets[i];"
                  " c.model.executionCount = null; }", index)
    run_cell(page, index)
    wait_cell_done(page, index, timeout_ms)


def cell(page: Any, index: int) -> Any:
    """The locator of cell ``index``."""
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def output_text(page: Any, index: int) -> str:
    """The text of cell ``index``'s outputs."""
    area = cell(page, index).locator(".jp-Cell-outputArea")
    return str(area.inner_text()) if area.count() else ""


def interrupt(page: Any) -> None:
    """Kernel > Interrupt."""
    page.evaluate("() => { window.jupyterapp.commands.execute('kernelmenu:interrupt'); }")


def wait_for_text(page: Any, index: int, text: str, timeout_s: float = 60) -> str:
    """Wait until cell ``index``'s output contains ``text``; return the output."""
    deadline = time.monotonic() + timeout_s
    shown = ""
    while time.monotonic() < deadline:
        shown = output_text(page, index)
        if text in shown:
            return shown
        page.wait_for_timeout(250)
    raise AssertionError(f"cell {index} never showed {text!r}; it shows:\n{shown[-2000:]}")


def video_state(page: Any, scope: str) -> list[dict[str, Any]]:
    """readyState, duration and error of every ``<video>`` under the CSS selector ``scope``."""
    return list(page.evaluate(
        "(s) => [...document.querySelectorAll(s + ' video')].map(v => ({ready: v.readyState,"
        " duration: v.duration, error: v.error && v.error.code, src: v.currentSrc}))", scope))
