"""The board's rows as widgets, and what their buttons do: Resume (``sn.resume()``), Resubmit (``sn.resubmit()``).

A row is its HTML (in an ``Output``, so that JupyterLab resolves the thumbnail's relative ``src``: see
``_rich``) and one action button. ``perform`` runs an action and says, in one line, what it did or why it
failed; ``followed_here`` tells which tasks a coroutine of this kernel is already following (those need no
Resume).

Example:
    >>> line = BoardLine("t1", on_click=print)
    >>> line.show("confirm"); line.button.description
    'Resubmit…'
    >>> line.button.click()
    t1
    >>> line.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets

from .._generate import resubmit, resume
from ._board_rows import Action
from ._rich import rich_html, set_rich_html

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["BUTTON_WIDTH", "OPTIONS", "BoardLine", "followed_here", "perform"]

BUTTON_WIDTH = "200px"
OPTIONS = frozenset({"client", "timeout", "download", "progress", "clock", "sleep"})  # resume()'s and resubmit()'s
_BUTTONS: Mapping[str, tuple[str, str, str]] = {  # what a button shows -> (label, style, tooltip)
    "resume": ("Resume", "info", "follow it to its end and archive the video (sn.resume())"),
    "resubmit": ("Resubmit", "warning", "send it again: a new, paid run (sn.resubmit())"),
    "confirm": ("Resubmit…", "warning", "its first submission may exist at Crun and be charged: click twice"),
    "armed": ("Resubmit (may pay again)", "danger", "click to send it again; it may be paid for twice"),
}
_GENERATE_MODULES = "seedance_nb._generate"
_AWAIT_DEPTH = 100  # a chain of awaits is short; the bound guards against a cycle


def followed_here() -> set[str]:
    """Local ids of the tasks that a coroutine of this event loop is submitting or following right now.

    Read from the suspended coroutines of the loop's tasks (``generate``, ``resume``, ``resubmit`` and the
    steps they await hold the local id), so there is no registry to keep in step. Empty where no loop runs.

    Example:
        >>> followed_here()
        set()
    """
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        return set()
    found: set[str] = set()
    for task in tasks:
        coro: Any = task.get_coro()
        for _ in range(_AWAIT_DEPTH):
            frame = getattr(coro, "cr_frame", None)
            if frame is None:
                break
            local_id = frame.f_locals.get("local_id")
            if isinstance(local_id, str) and str(frame.f_globals.get("__name__", "")).startswith(_GENERATE_MODULES):
                found.add(local_id)
            coro = getattr(coro, "cr_await", None)
    return found


class BoardLine:
    """The widgets of one row: its HTML and its action button, side by side.

    Args:
        local_id: the row's task.
        on_click: called with ``local_id`` when the button is clicked.
    """

    def __init__(self, local_id: str, on_click: Callable[[str], None]) -> None:
        self.local_id = local_id
        self.html_text = ""
        self.view = rich_html(flex="1 1 auto", min_width="0")
        self.button = ipywidgets.Button(layout=ipywidgets.Layout(width=BUTTON_WIDTH, min_width=BUTTON_WIDTH,
                                                                 flex="0 0 auto", visibility="hidden"))
        self.button.on_click(lambda _button: on_click(local_id))
        self.box = ipywidgets.HBox([self.view, self.button], layout=ipywidgets.Layout(align_items="center"))

    def render(self, html_text: str, text: str) -> None:
        """Show the row (nothing is sent when it did not change).

        Example:
            >>> line = BoardLine("t1", on_click=print)
            >>> line.render("<b>t1</b>", "t1"); line.view.outputs[0]["data"]["text/plain"]
            't1'
            >>> line.close()
        """
        if html_text != self.html_text:
            self.html_text = html_text
            set_rich_html(self.view, html_text, text=text)

    def show(self, kind: str | None, busy: str | None = None) -> None:
        """Show the button of an action (``resume``, ``resubmit``, ``confirm``, ``armed``), a disabled one
        saying what runs (``busy``), or none.

        Example:
            >>> line = BoardLine("t1", on_click=print)
            >>> line.show("resubmit", busy="Resubmitting…"); line.button.description, line.button.disabled
            ('Resubmitting…', True)
            >>> line.close()
        """
        button = self.button
        if busy is not None:
            button.description, button.button_style, button.tooltip = busy, "", "running; the outcome shows below"
        elif kind is not None:
            button.description, button.button_style, button.tooltip = _BUTTONS[kind]
        button.disabled = busy is not None
        # hidden, not removed: every row keeps the button's room, so that the columns of all rows line up
        button.layout.visibility = "visible" if kind is not None or busy is not None else "hidden"

    def close(self) -> None:
        """Close the row's widgets.

        Example:
            >>> line = BoardLine("t1", on_click=print)
            >>> line.close(); line.button.comm is None
            True
        """
        for widget in (self.view, self.button, self.box):
            widget.close()


async def perform(kind: Action, local_id: str | None, log: TaskLog, options: Mapping[str, Any]) -> tuple[str, bool]:
    """Run an action of the board; ``(what it did, whether that is a failure)``, never an exception.

    ``resume`` follows every unfinished task of the log (``local_id`` is not used); ``resubmit`` sends
    ``local_id`` again (for an ``unknown`` task the board asked to confirm first).

    Example:
        >>> import asyncio, tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> asyncio.run(perform("resubmit", "t-gone", log, {"progress": False}))[1]
        True
        >>> asyncio.run(perform("resume", None, log, {"progress": False}))
        ('resume: nothing to follow', False)
    """
    try:
        if kind == "resume":
            report = await resume(log=log, **options)
            done = ", ".join(f"{r['local_id']} {r['status']}" + (f" ({r['note']})" if r["note"] else "")
                             for r in report.to_dict("records"))
            return f"resume: {done or 'nothing to follow'}", False
        gen = await resubmit(str(local_id), log=log, **options)
        return f"resubmit {local_id}: {gen.caption()}", False
    except Exception as exc:
        what = "resume" if kind == "resume" else f"resubmit {local_id}"
        return f"{what} failed: {type(exc).__name__}: {exc}", True
