"""What a notebook shows: the ``Generation`` view, the grid of several, the live progress line, the log table,
and the widgets — ``sn.form()`` (``_form``), ``sn.board()`` (``_board``) and ``sn.gallery()`` (``_gallery``).

This subpackage is the only place that imports ipywidgets, and only when a widget is shown: the widget
modules are loaded by ``sn.form``/``sn.board``/``sn.gallery`` on first use, not from here.

Example:
    >>> from seedance_nb.notebook import describe
    >>> describe("running", 75, 30)
    'running · 1m15s elapsed · ~30s left'
"""

from __future__ import annotations

from ._generation import Generation, video_src
from ._grid import Failed, Generations, show
from ._progress import ProgressLine, describe
from ._table import LogView

__all__ = ["Failed", "Generation", "Generations", "LogView", "ProgressLine", "describe", "show", "video_src"]
