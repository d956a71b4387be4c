"""What an interrupted wait raises: the builtin exception, shown in a notebook as its message alone.

Kernel > Interrupt cancels an ``await sn.generate(...)`` (``CancelledError``) or stops a ``generate_sync``
(``KeyboardInterrupt``). The task goes on at Crun, and what matters is the message: the task and log ids and
that ``sn.resume()`` finishes it. These subclasses keep the builtin's meaning (``except
asyncio.CancelledError`` and asyncio's own cancellation machinery work as before) and let IPython show the
message and ``(full traceback: run %tb)`` instead of a screen of the toolkit's frames.

Example:
    >>> import asyncio
    >>> error = WaitCancelled("stopped waiting for task c0ffee (log id t1, running): it goes on at Crun")
    >>> isinstance(error, asyncio.CancelledError), isinstance(error, Exception)
    (True, False)
    >>> try:
    ...     raise error
    ... except asyncio.CancelledError as caught:
    ...     print("\\n".join(caught._render_traceback_()))
    CancelledError: stopped waiting for task c0ffee (log id t1, running): it goes on at Crun
    (full traceback: run %tb)
"""

from __future__ import annotations

import asyncio

from ..errors import ShortDisplay

__all__ = ["WaitCancelled", "WaitInterrupted"]


class WaitCancelled(ShortDisplay, asyncio.CancelledError):
    """An interrupted ``await``: the task goes on at Crun (or may exist, when CreateTask was in flight)."""

    shown_name = "CancelledError"


class WaitInterrupted(ShortDisplay, KeyboardInterrupt):
    """An interrupted ``generate_sync()``: the same message as the ``await`` form.

    Example:
        >>> isinstance(WaitInterrupted("it goes on at Crun"), KeyboardInterrupt)
        True
    """

    shown_name = "KeyboardInterrupt"
