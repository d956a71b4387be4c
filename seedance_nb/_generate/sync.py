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
from .submit import generate

__all__ = ["generate_sync", "run_sync"]

T = TypeVar("T")


class _LoopThread:
    """A private event loop on a daemon thread, for running coroutines from code that cannot await."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="seedance-nb-loop", daemon=True)
        self.thread.start()


_loop_thread: _LoopThread | None = None
_loop_lock = threading.Lock()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code (see the module docstring)."""
    global _loop_thread
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with _loop_lock:
        if _loop_thread is None:
            _loop_thread = _LoopThread()
    return asyncio.run_coroutine_threadsafe(coro, _loop_thread.loop).result()


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
