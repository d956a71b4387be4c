"""``Background``: the form's tasks on the kernel's event loop, kept referenced, never losing an exception.

Widget callbacks are synchronous. They hand slow work here: ``spawn`` schedules a coroutine on the running
loop (the loop itself keeps only a weak reference, so the task is kept in a set until it ends),
``offload`` runs a blocking function in a worker thread and hands its result back on the loop, and
``debounce`` runs a coroutine a moment after the last of a burst of calls. A task that raises shows its
exception through ``on_error``. Where no loop runs (plain Python, a doctest) nothing is scheduled:
``offload`` runs the function at once and ``spawn`` says so by returning ``None``.

Example:
    >>> import asyncio
    >>> seen = []
    >>> async def main():
    ...     background = Background(on_error=seen.append)
    ...     background.offload(sum, [1, 2], then=seen.append)       # in a worker thread
    ...     background.debounce("twice", 0.01, lambda: asyncio.sleep(0))
    ...     background.debounce("twice", 0.01, lambda: asyncio.sleep(0))   # replaces the first
    ...     await background.idle()
    ...     return len(background.tasks)
    >>> asyncio.run(main()), seen
    (0, [3])
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Background", "running_loop"]

T = TypeVar("T")
_IDLE_ROUNDS = 1000  # idle() waits again while tasks spawn tasks; bounded so it can never spin forever


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop (a notebook's kernel has one), or ``None`` in plain Python."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Background:
    """The tasks one form runs; ``on_error`` receives what any of them raised (not cancellation)."""

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self.on_error = on_error
        self.tasks: set[asyncio.Task[Any]] = set()
        self._debounced: dict[str, asyncio.Task[Any]] = {}

    def spawn(self, coro: Coroutine[Any, Any, T], *, report: bool = True) -> asyncio.Task[T] | None:
        """Schedule ``coro`` on the running loop and keep the task; ``None`` (and ``coro`` closed) without one.

        With ``report`` false the caller's own done-callback deals with the task's outcome.
        """
        loop = running_loop()
        if loop is None:
            coro.close()
            return None
        task = loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done if report else self.tasks.discard)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # retrieved here: never "Task exception was never retrieved"
        if error is not None:
            self.on_error(error)

    def offload(self, fn: Callable[..., T], *args: Any, then: Callable[[T], None]) -> None:
        """``then(fn(*args))``: ``fn`` in a worker thread when a loop runs (then back on the loop), else at once."""
        if running_loop() is None:
            try:
                then(fn(*args))
            except Exception as exc:
                self.on_error(exc)
            return

        async def run() -> None:
            then(await asyncio.to_thread(fn, *args))

        self.spawn(run())

    def debounce(self, key: str, delay: float, make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run ``make()`` ``delay`` seconds after the last call with this ``key`` (earlier ones are cancelled).

        Nothing happens without a running loop.
        """
        previous = self._debounced.pop(key, None)
        if previous is not None and not previous.done():
            previous.cancel()
        if running_loop() is None:
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            await make()

        task = self.spawn(later())
        if task is not None:
            self._debounced[key] = task

    async def idle(self) -> None:
        """Wait until no task of this object is left (those they start included); their errors went to
        ``on_error``, so none is raised here."""
        for _ in range(_IDLE_ROUNDS):
            pending = [task for task in self.tasks if not task.done()]
            if not pending:
                return
            await asyncio.wait(pending)
            await asyncio.sleep(0)  # let the done-callbacks run
