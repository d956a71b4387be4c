"""A compact live progress line: a widget in Jupyter, a rewritten line on a terminal, plain lines elsewhere.

Example:
    >>> import sys
    >>> line = ProgressLine(mode="text", stream=sys.stdout)
    >>> line.update("running", elapsed=12.0, remaining=40.0)
    seedance: running · 12s elapsed · ~40s left
    >>> line.update("running", elapsed=17.0, remaining=35.0)   # plain text: a line per status, not per tick
    >>> line.finish("success · 29 credits")
    seedance: success · 29 credits
"""

from __future__ import annotations

import sys
from typing import Any, Literal, TextIO

__all__ = ["ProgressLine", "clock_text", "describe", "prompt_label"]

Mode = Literal["widget", "tty", "text", "off"]


def describe(status: str, elapsed: float, remaining: float | None = None, *, extra: str = "") -> str:
    """The progress text (pure).

    Example:
        >>> describe("running", 75.4, 30)
        'running · 1m15s elapsed · ~30s left'
        >>> describe("pending", 3, None, extra="task 1a2b")
        'pending · 3s elapsed · task 1a2b'
    """
    parts = [status, f"{clock_text(elapsed)} elapsed"]
    if remaining is not None:
        parts.append(f"~{clock_text(max(0.0, remaining))} left" if remaining > 0 else "any moment now")
    if extra:
        parts.append(extra)
    return " · ".join(parts)


def prompt_label(prompt: str, width: int = 28) -> str:
    """A progress line's label: the start of the prompt, so that lines of tasks run at once tell apart.

    Example:
        >>> prompt_label("[Image1] walks through the street from [Image2] in the rain")
        '[Image1] walks through the s…'
    """
    text = " ".join(str(prompt).split())
    return text if len(text) <= width else text[:width] + "…"


def clock_text(seconds: float) -> str:
    """Seconds as ``1m05s`` or ``42s``.

    Example:
        >>> clock_text(65.2), clock_text(7)
        ('1m05s', '7s')
    """
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _in_kernel() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        return False
    return ip is not None and hasattr(ip, "kernel")


class ProgressLine:
    """Shows one line of progress and updates it in place.

    In a Jupyter kernel it is an ``ipywidgets.HTML`` widget (its state updates, which nbval and saved
    notebooks understand); on a terminal a carriage-return line on stderr; otherwise a printed line per change.
    Given ``widget=`` (any object with a ``value``, such as the form's status ``HTML``), it writes there
    instead of displaying a new one: ``sn.generate(progress=line)`` then ticks inside that widget.
    """

    def __init__(self, mode: Mode | None = None, *, stream: TextIO | None = None, label: str = "seedance",
                 widget: Any = None):
        self.stream = stream or sys.stderr
        self.label = label
        self.mode: Mode = "widget" if widget is not None else \
            mode or ("widget" if _in_kernel() else "tty" if self.stream.isatty() else "text")
        self._widget: Any = widget
        self._last = ""

    @property
    def text(self) -> str:
        """The last text shown (``""`` before the first update).

        Example:
            >>> line = ProgressLine(mode="off")
            >>> line.update("pending", elapsed=3)
            >>> line.text
            'pending · 3s elapsed'
        """
        return self._last

    def update(self, status: str, *, elapsed: float, remaining: float | None = None, extra: str = "") -> None:
        """Show the current status."""
        self._show(describe(status, elapsed, remaining, extra=extra), final=False)

    def finish(self, text: str) -> None:
        """Show the last line and stop updating."""
        self._show(text, final=True)

    def _show(self, text: str, *, final: bool) -> None:
        if self.mode == "off":
            self._last = text
            return
        if self.mode == "widget":
            self._show_widget(text, final)
        elif self.mode == "tty":
            self.stream.write(f"\r\x1b[2K{self.label}: {text}" + ("\n" if final else ""))
            self.stream.flush()
        elif text.split(" · ")[0] != self._last.split(" · ")[0] or final:
            # Plain output (logs, CI): a line per status change, not per tick.
            print(f"{self.label}: {text}", file=self.stream, flush=True)
        self._last = text

    def _show_widget(self, text: str, final: bool) -> None:
        import html

        import ipywidgets
        from IPython.display import display

        body = f"<span style='font-family:monospace'>{self.label}: {html.escape(text)}</span>"
        if self._widget is None:
            self._widget = ipywidgets.HTML(value=body)
            display(self._widget)  # type: ignore[no-untyped-call]
        else:
            self._widget.value = body
