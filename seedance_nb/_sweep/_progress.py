"""The sweep's progress bar: ``tqdm.auto`` (a widget in Jupyter, text elsewhere), counts by status and credits.

Example:
    >>> bar = SweepBar(total=3, enabled=False)      # progress=False: silent, but it still counts
    >>> bar.finished("success", 23.2); bar.finished("failed", 0.0)
    >>> bar.postfix()
    {'success': 1, 'failed': 1, 'credits': '23.2'}
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["SweepBar"]


class SweepBar:
    """A progress bar over the planned tasks of a sweep (total = planned tasks).

    Args:
        total: the tasks in the plan (repeats included).
        enabled: show the bar (``progress=True``); when false nothing is imported or printed.
        desc: the label before the bar.
    """

    def __init__(self, total: int, *, enabled: bool = True, desc: str = "sweep") -> None:
        self.counts: Counter[str] = Counter()
        self.credits = 0.0
        self.in_flight = 0
        self.bar: Any = None
        if enabled:
            from tqdm.auto import tqdm  # in a notebook this loads ipywidgets: only when a bar is shown

            self.bar = tqdm(total=total, desc=desc, unit="task", dynamic_ncols=True)

    def postfix(self) -> dict[str, Any]:
        """The counts by status, the tasks in flight and the credits spent, as the bar shows them.

        Example:
            >>> bar = SweepBar(total=2, enabled=False)
            >>> bar.started(); bar.postfix()
            {'in flight': 1, 'credits': '0'}
        """
        shown: dict[str, Any] = dict(self.counts)
        if self.in_flight:
            shown["in flight"] = self.in_flight
        shown["credits"] = f"{self.credits:g}"
        return shown

    def _show(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix(self.postfix(), refresh=True)

    def started(self) -> None:
        """A task was sent (or is followed)."""
        self.in_flight += 1
        self._show()

    def finished(self, status: str, credits: float | None = None, *, was_in_flight: bool = False) -> None:
        """A task ended (or was found done, kept or skipped): count it and move the bar on."""
        self.counts[status] += 1
        self.credits = round(self.credits + (credits or 0.0), 6)
        if was_in_flight:
            self.in_flight = max(0, self.in_flight - 1)
        if self.bar is not None:
            self.bar.update(1)
        self._show()

    def close(self) -> None:
        """Stop the bar (it stays shown with its last counts)."""
        if self.bar is not None:
            self.bar.close()
