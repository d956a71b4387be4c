"""Running the coroutines from code that cannot ``await``: ``run_sync`` and ``generate_sync``.

Where no event loop runs, ``asyncio.run``; inside Jupyter (a loop is running) a private loop on a daemon
thread, as ``jupyter_core.utils.run_sync`` does. No nest-asyncio.

Example:
    >>> async def answer():
    ...     return 42
    >>> run_sync(answer())
    42
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .._models import R2VRequest
from ..notebook import Generation
from .detached import WaitInterrupted
from .submit import generate

__all__ = ["generate_sync", "run_sync"]

T = TypeVar("T")
_STOP_WAIT_S = 5.0


class _LoopThread:
    """A private event loop on a daemon thread, for running coroutines from code that cannot await."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="seedance-nb-loop", daemon=True)
        self.thread.start()


_loop_thread: _LoopThread | None = None
_loop_lock = threading.Lock()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code (see the module docstring).

    Interrupted (Ctrl+C, or Kernel > Interrupt), it behaves as an interrupted ``await``: the coroutine is
    cancelled, not left running unseen on the loop thread, and the ``KeyboardInterrupt`` carries what the
    cancellation said (for ``generate()``: the task goes on at Crun and ``sn.resume()`` finishes it).
    """
    global _loop_thread
    watch = _Watched()
    if not _loop_running():  # (outside the except clause: errors would show "no running event loop" too)
        try:
            return asyncio.run(watch.run(coro))  # on Ctrl+C it cancels the coroutine, then raises
        except KeyboardInterrupt:
            raise WaitInterrupted(watch.message or "interrupted") from None
    with _loop_lock:
        if _loop_thread is None:
            _loop_thread = _LoopThread()
    future = asyncio.run_coroutine_threadsafe(watch.run(coro), _loop_thread.loop)
    try:
        return future.result()
    except KeyboardInterrupt:
        # Like an interrupted `await`: cancel the coroutine (its own clean-up runs), then say what it said.
        future.cancel()  # cancels the task on the loop thread, whose clean-up then runs
        stopped = watch.done.wait(_STOP_WAIT_S) if watch.started.is_set() else True
        reason = watch.message or "interrupted"
        raise WaitInterrupted(reason if stopped else f"{reason} (still stopping in the background)") from None


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Watched:
    """Runs a coroutine on the loop thread and keeps what a cancellation said about it."""

    def __init__(self) -> None:
        self.message: str | None = None
        self.started = threading.Event()
        self.done = threading.Event()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        self.started.set()
        try:
            return await coro
        except asyncio.CancelledError as exc:
            self.message = str(exc) or None
            raise
        finally:
            self.done.set()


def generate_sync(request: R2VRequest | None = None, /, **kwargs: Any) -> Generation:
    """``generate()`` for scripts and notebook cells without ``await``; blocks until the task ends.

    Do not call it from a widget callback (it would block the kernel); let the callback schedule
    ``generate()`` instead. A ``client=`` given must not be in use by another event loop.

    Example:
        >>> import seedance_nb as sn
        >>> sn.generate_sync(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
        ...                  duration=4, progress=False).status
        'success'
    """
    return run_sync(generate(request, **kwargs))
