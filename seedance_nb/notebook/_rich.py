"""HTML with media inside widgets: an ``Output`` widget whose display data JupyterLab renders itself.

An ``ipywidgets.HTML`` widget sets ``innerHTML`` as it is: a relative ``<video src="seedance-runs/…">`` then
points under ``/lab/tree/…`` and never loads. Display data in an ``Output`` widget goes through JupyterLab's
renderer, which resolves relative ``src`` attributes to the notebook's folder (``/files/…``), as it does for a
cell's own output. So every widget part that shows a video, a poster or a thumbnail is an ``Output`` whose
``outputs`` are replaced as a whole — safe from any coroutine, unlike ``with output:`` (checked in Chromium:
the same ``<video>`` loads from an ``Output`` and stays blank in an ``HTML`` widget).

Example:
    >>> box = rich_html('<video src="seedance-runs/media/ab.mp4"></video>')
    >>> box.outputs[0]["data"]["text/html"]
    '<video src="seedance-runs/media/ab.mp4"></video>'
    >>> set_rich_html(box, "<b>done</b>", text="done")
    >>> box.outputs[0]["data"]["text/plain"]
    'done'
"""

from __future__ import annotations

from typing import Any

__all__ = ["rich_html", "set_rich_html"]


def rich_html(html_text: str = "", *, text: str = "", **layout: Any) -> Any:
    """A new ``ipywidgets.Output`` showing ``html_text`` (``text``: the plain-text form nbval compares).

    Example:
        >>> rich_html("<i>empty</i>", width="320px").layout.width
        '320px'
    """
    import ipywidgets

    box = ipywidgets.Output(layout=ipywidgets.Layout(**layout)) if layout else ipywidgets.Output()
    set_rich_html(box, html_text, text=text)
    return box


def set_rich_html(box: Any, html_text: str, *, text: str = "") -> None:
    """Replace what ``box`` shows (empty ``html_text``: nothing).

    Example:
        >>> box = rich_html("<b>one</b>")
        >>> set_rich_html(box, "")
        >>> box.outputs
        ()
    """
    box.outputs = ({"output_type": "display_data", "data": {"text/html": html_text, "text/plain": text or ""},
                    "metadata": {}},) if html_text else ()
