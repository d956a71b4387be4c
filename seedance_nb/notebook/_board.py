"""``sn.board()``: a live table of the tasks in flight and the recent ones, fed by the task log.

The board polls the log (shared SQLite: other cells, notebooks and processes write it) for a change every
``interval`` seconds, in a worker thread, and re-renders only when something changed; elapsed times of tasks
in flight tick every second. It runs as a task on the kernel's event loop, so it stays live while other
cells run, until ``board.close()``. ``unknown`` and failed rows stand out and carry their action (Resume,
Resubmit); what an action did, or why it failed, is written into the board. What the board shows is computed
by ``_board_rows`` (pure); this module holds the widgets and the tasks.

Example:
    >>> import tempfile, seedance_nb as sn
    >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
    >>> log.import_records([{"local_id": "t1", "status": "failed", "prompt": "waves", "error_code": 501}])
    1
    >>> board = sn.board(log)      # no event loop runs here: it renders once, nothing runs in the background
    >>> [row["local_id"] for row in board.rows], board.actions["t1"].description
    (['t1'], 'Resubmit')
    >>> board.close()
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets

from .._generate.sync import run_sync
from ._board_actions import BUTTON_WIDTH, OPTIONS, BoardLine, followed_here, perform
from ._board_rows import (
    Action,
    Snapshot,
    board_text,
    elapsed_text,
    header_html,
    read_snapshot,
    read_token,
    row_action,
    row_html,
)
from ._board_rows import heading as board_heading
from ._rich import rich_html

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["Board", "board"]

TICK_S = 1.0  # elapsed times of tasks in flight move every second
_LIVE: dict[str, Board] = {}  # the polling board of each task log (by its path) in this kernel


def _key(log: TaskLog) -> str:
    return str(Path(log.path).resolve())
_SHOWN_MESSAGES = 10


class Board:
    """A live table of the task log: tasks in flight first, then the most recent others.

    Attributes:
        log: the task log shown.
        rows: the rows shown (dicts as ``TaskLog.get()`` returns them), in order.
        total: how many tasks the log holds.
        actions: the action button of each row that has one, by local id.
        messages: what the actions did, oldest first (the last ten are shown).
        widget: the ``ipywidgets.VBox`` a notebook displays.

    Example:
        >>> import tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> log.import_records([{"local_id": "t1", "status": "unknown", "prompt": "<waves>",
        ...                      "error_message": "CreateTask got no answer"}])
        1
        >>> board = Board(log)
        >>> "&lt;waves&gt;" in board.html, "CreateTask got no answer" in board.html
        (True, True)
        >>> board
        1 of 1 tasks, in flight first · 1 unknown
        local_id  status   credits  elapsed  shape  prompt
        t1        unknown                           <waves>
        >>> board.close()
    """

    def __init__(self, log: TaskLog | None = None, *, limit: int = 20, interval: float = 1.0,
                 now: Callable[[], datetime] | None = None, **options: Any) -> None:
        if limit < 1 or interval <= 0:
            raise ValueError(f"board() needs limit ≥ 1 and interval > 0 (got limit={limit}, interval={interval})")
        unknown = sorted(set(options) - OPTIONS)
        if unknown:
            raise TypeError(f"board() got unexpected options {unknown}; it passes {sorted(OPTIONS)} to "
                            "sn.resume() and sn.resubmit()")
        if log is None:
            from ..tasklog import TaskLog
            log = TaskLog()
        self.log = log
        self.limit, self.interval = limit, interval
        self._now: Callable[[], datetime] = now or getattr(log, "_clock", None) or (lambda: datetime.now(UTC))
        self._options = {"progress": False, **options}
        self.rows: list[dict[str, Any]] = []
        self.total = 0
        self.messages: list[str] = []
        self._errors: list[bool] = []  # which messages tell of a failure
        self.actions: dict[str, ipywidgets.Button] = {}
        self._snapshot = Snapshot(token=())
        self._lines: dict[str, BoardLine] = {}
        self._armed: set[str] = set()  # unknown rows clicked once: the next click resubmits
        self._busy: dict[str, str] = {}  # local id (or "*" for resume) -> what runs for it
        self._tasks: set[asyncio.Task[None]] = set()
        self._rendered = asyncio.Event()
        self._heading, self._messages = ipywidgets.HTML(), ipywidgets.HTML()
        self._header = rich_html(header_html(), text="status prompt elapsed credits error local_id", flex="1 1 auto",
                                 min_width="0")  # an Output, as the rows are: the same width, aligned columns
        self._header_box = ipywidgets.HBox([self._header, ipywidgets.Box(layout=ipywidgets.Layout(
            width=BUTTON_WIDTH, min_width=BUTTON_WIDTH, flex="0 0 auto"))])  # the room of the rows' buttons
        self._body = ipywidgets.VBox()
        self.widget = ipywidgets.VBox([self._heading, self._header_box, self._body, self._messages])
        self._poller: asyncio.Task[None] | None = None
        self.refresh()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # plain Python: rendered once, nothing runs in the background
        self._poller = loop.create_task(self._poll())
        self._poller.add_done_callback(self._poller_done)
        replaced, _LIVE[_key(log)] = _LIVE.get(_key(log)), self  # re-running the cell: one poller per log
        if replaced is not None and replaced is not self:
            replaced.close(widgets=False, why="a newer sn.board() on this log took over; this one is frozen")

    # --- reading and rendering ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the background task polls the log (never where no event loop runs)."""
        return self._poller is not None and not self._poller.done()

    def refresh(self) -> None:
        """Read the log now (on this thread) and render.

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> board = sn.board(log)
            >>> log.import_records([{"local_id": "t1", "status": "success", "credits": 23.2}])
            1
            >>> board.refresh(); board.rows[0]["credits"]
            23.2
            >>> board.close()
        """
        self._apply(read_snapshot(self.log, self.limit))

    async def reload(self) -> None:
        """Read the log in a worker thread and render (what the background task does on a change).

        Example:
            >>> import asyncio, tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> async def main():
            ...     board = sn.board(log)
            ...     log.import_records([{"local_id": "t1", "status": "success"}])
            ...     await board.reload()
            ...     board.close()
            ...     return len(board.rows)
            >>> asyncio.run(main())
            1
        """
        self._apply(await asyncio.to_thread(read_snapshot, self.log, self.limit))

    def _apply(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self.rows, self.total = [dict(r) for r in snapshot.rows], snapshot.total
        self._render()

    def _render(self) -> None:
        now, followed = self._now(), followed_here() | set(self._busy)
        shown: dict[str, BoardLine] = {}
        self.actions = {}
        for row in self.rows:
            local_id = str(row["local_id"])
            line = self._lines.pop(local_id, None) or BoardLine(local_id, self._click)
            line.render(row_html(row, now, self._snapshot.thumbnails.get(local_id, "")),
                        f"{local_id} {row.get('status')} {elapsed_text(row, now)}".rstrip())
            action = row_action(row, followed, now)
            busy = self._busy.get(local_id) or (self._busy.get("*") if action == "resume" else None)
            line.show("armed" if action == "confirm" and local_id in self._armed else action, busy)
            if action is not None or busy is not None:
                self.actions[local_id] = line.button
            shown[local_id] = line
        for gone in self._lines.values():
            gone.close()
        self._lines = shown
        self._armed &= set(shown)
        boxes = tuple(line.box for line in shown.values())
        if self._body.children != boxes:
            self._body.children = boxes
        self._heading.value = f'<div style="font-family:sans-serif;color:#555">{html.escape(self.heading)}</div>'
        self._messages.value = self._messages_html()
        self._rendered.set()

    @property
    def heading(self) -> str:
        """``5 of 120 tasks, in flight first · 2 in flight · 1 unknown``."""
        return board_heading(self.rows, self.total)

    @property
    def html(self) -> str:
        """The board's HTML as shown: heading, column heads, rows and messages (buttons aside)."""
        rows = "".join(line.html_text for line in self._lines.values())
        return str(self._heading.value + header_html() + rows + self._messages.value)

    def _messages_html(self) -> str:
        shown = zip(self.messages[-_SHOWN_MESSAGES:], self._errors[-_SHOWN_MESSAGES:], strict=True)
        lines = [f'<div style="color:{"#b91c1c" if error else "#166534"};white-space:pre-wrap">'
                 f"{html.escape(text)}</div>" for text, error in shown]
        return f'<div style="font-family:sans-serif;font-size:90%">{"".join(lines)}</div>' if lines else ""

    def _say(self, text: str, *, error: bool = False) -> None:
        self.messages.append(text)
        self._errors.append(error)
        self._messages.value = self._messages_html()

    # --- the background task -----------------------------------------------------------------------------

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        asked = loop.time()
        while True:
            await asyncio.sleep(min(self.interval, TICK_S))
            if loop.time() - asked >= self.interval - 1e-3:
                asked = loop.time()
                try:
                    if await asyncio.to_thread(read_token, self.log) != self._snapshot.token:
                        await self.reload()
                        continue
                except Exception as exc:  # the log may be busy or moved: say so, and keep trying
                    if not self.messages or self.messages[-1] != f"reading the log failed: {exc}":
                        self._say(f"reading the log failed: {exc}", error=True)
            self._render()  # the tick: elapsed times, and actions of tasks that a coroutine took up or left

    def _poller_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._say(f"the board stopped: {type(task.exception()).__name__}: {task.exception()}", error=True)

    async def wait_for(self, predicate: Callable[[Board], bool], timeout: float = 30.0) -> None:
        """Wait until ``predicate(board)`` holds after a render of the background task (for tests, scripts).

        Raises:
            TimeoutError: it did not hold within ``timeout`` seconds.

        Example:
            >>> import asyncio, tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> async def main():
            ...     board = sn.board(log, interval=0.1)
            ...     await asyncio.to_thread(log.import_records, [{"local_id": "t1", "status": "success"}])
            ...     await board.wait_for(lambda b: len(b.rows) == 1, timeout=5)    # the poll saw it
            ...     board.close()
            ...     return board.rows[0]["status"]
            >>> asyncio.run(main())
            'success'
        """
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._rendered.clear()
                await self._rendered.wait()

    # --- actions -----------------------------------------------------------------------------------------

    def _click(self, local_id: str) -> None:
        row = next((r for r in self.rows if r["local_id"] == local_id), None)
        if row is None or local_id in self._busy:
            return
        action = row_action(row, followed_here(), self._now())
        if action == "confirm" and local_id not in self._armed:
            self._armed.add(local_id)
            self._render()
            return
        if action in ("confirm", "resubmit"):
            self._armed.discard(local_id)
            self._start(local_id, "resubmit", "Resubmitting…")
        elif action == "resume" and "*" not in self._busy:
            self._start("*", "resume", "Resuming…")

    def _start(self, key: str, kind: Action, label: str) -> None:
        self._busy[key] = label
        self._render()
        coro = self._act(key, kind)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            run_sync(coro)  # plain Python: the click blocks until the action ends
            return
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._action_done)

    async def _act(self, key: str, kind: Action) -> None:
        try:
            said, failed = await perform(kind, None if key == "*" else key, self.log, self._options)
            self._say(said, error=failed)
        finally:
            self._busy.pop(key, None)
        await self.reload()

    def _action_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._say("an action was cancelled; the task log tells where its task stands", error=True)
        elif task.exception() is not None:
            self._say(f"an action failed: {type(task.exception()).__name__}: {task.exception()}", error=True)

    async def settled(self) -> None:
        """Wait until every action started from the board has ended (and the board shows its outcome).

        Example:
            >>> import asyncio, tempfile, seedance_nb as sn
            >>> async def main():
            ...     board = sn.board(sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite"))
            ...     await board.settled()          # nothing was started
            ...     board.close()
            >>> asyncio.run(main())
        """
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- life and display --------------------------------------------------------------------------------

    def close(self, *, widgets: bool = True, why: str = "") -> None:
        """Stop the background task and close the widgets (actions already started run to their end).

        A newer board on the same log stops this one's polling and leaves its table in place, saying ``why``.

        Example:
            >>> import asyncio, tempfile, seedance_nb as sn
            >>> async def main():
            ...     board = sn.board(sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite"))
            ...     polling = board.running
            ...     board.close()
            ...     await asyncio.sleep(0)      # the loop takes the cancellation
            ...     return polling, board.running
            >>> asyncio.run(main())
            (True, False)
        """
        if self._poller is not None:
            self._poller.cancel()
        if _LIVE.get(_key(self.log)) is self:
            del _LIVE[_key(self.log)]
        if not widgets:
            self._heading.value += f" <span style='color:#92400e'>· {html.escape(why)}</span>"
            return
        for line in self._lines.values():
            line.close()
        self._lines = {}
        for widget in (self._heading, self._header, *self._header_box.children, self._header_box, self._body,
                       self._messages, self.widget):
            widget.close()

    def __repr__(self) -> str:
        return board_text(self.rows, self.total, self._now())

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = repr(self)
        return bundle


def board(log: TaskLog | None = None, *, limit: int = 20, interval: float = 1.0,
          now: Callable[[], datetime] | None = None, **options: Any) -> Board:
    """A live table of the tasks in flight and the recent ones; end a cell with it.

    Args:
        log: the task log (default: ``$SEEDANCE_NB_HOME/tasks.sqlite``), shared with other notebooks.
        limit: how many rows at most: the tasks in flight first, then the most recent others.
        interval: seconds between two looks at the log for a change.
        now: the current time (aware, UTC) for elapsed times (default: the log's clock).
        **options: passed to ``sn.resume()`` and ``sn.resubmit()`` when a button runs them: ``client``,
            ``timeout``, ``download``, ``progress`` (off by default), ``clock``, ``sleep``.

    Example:
        >>> import tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> log.import_records([{"local_id": "t1", "status": "success", "prompt": "waves", "credits": 29},
        ...                     {"local_id": "t2", "status": "running", "task_id": "c0ffee", "prompt": "jumps"}])
        2
        >>> live = sn.board(log, limit=10)
        >>> [row["local_id"] for row in live.rows], live.actions["t2"].description   # in flight first
        (['t2', 't1'], 'Resume')
        >>> live.close()
    """
    return Board(log, limit=limit, interval=interval, now=now, **options)
