"""``ReferenceList``: one reference list of the form (images, videos or audio) as widgets.

References are added by typing URLs or ``asset://`` ids into the add box (several at once, separated by
white space) or by uploading local files (``FileUpload``); each line shows the reference's prompt token,
a thumbnail for images, the duration of local videos and audio, and a button that removes it. Uploaded
bytes are saved (in a worker thread) under ``$SEEDANCE_NB_HOME/uploads/`` with their own names and listed
as ``pathlib.Path`` references, which ``generate()`` uploads to Crun.

Example:
    >>> refs = ReferenceList("reference_images", Background(on_error=print), on_change=lambda: None)
    >>> refs.entry.value = "https://x.org/a.png asset://asset-7"     # Enter in the box, or the Add button
    >>> refs.value, refs.entry.value
    (('https://x.org/a.png', 'asset://asset-7'), '')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .._limits import MAX_REFERENCES
from .._localfiles import KIND_LIMITS
from .._models import Reference
from ..config import home_dir
from ._form_model import KIND_OF, parse_entry
from ._form_preview import Preview, preview, reference_html, save_upload
from ._form_tasks import Background

__all__ = ["ReferenceList"]

_TITLES = {"reference_images": "Reference images", "reference_videos": "Reference videos",
           "reference_audios": "Reference audio"}


# JupyterLab's connection to the kernel drops a message over 10 MiB, and with it the whole upload, unseen by the
# kernel: say so on the button, and point at the box, which takes the path of a file of any size.
UPLOAD_TIP = "files up to 10 MB pass through the notebook's connection; for larger ones type their path in the box"


class ReferenceList:
    """The widgets of one reference list; ``value`` is its references, in order.

    Attributes:
        field: the request field (``reference_images``, ``reference_videos``, ``reference_audios``).
        entry: the text box for URLs and ``asset://`` ids; ``add_button`` adds what it holds.
        upload: the ``FileUpload`` for local files.
        rows: one line per reference (token, preview, remove button).
        box: all of it, as one widget.
    """

    def __init__(self, field: str, background: Background, on_change: Callable[[], None]) -> None:
        self.field = field
        self.kind = KIND_OF[field]
        self._background = background
        self._on_change = on_change
        self._items: list[Reference] = []
        self._previews: dict[Path, Preview] = {}
        self.title = widgets.HTML()
        self.rows = widgets.VBox()
        self.entry = widgets.Text(placeholder="https://…, asset://… or a local path (several: separate with spaces)",
                                  continuous_update=False, layout=widgets.Layout(width="30em"))
        self.add_button = widgets.Button(description="Add", tooltip=f"add to {field}",
                                         layout=widgets.Layout(width="4em"))
        self.upload = widgets.FileUpload(accept=",".join(KIND_LIMITS[field].suffixes), multiple=True,
                                         description="Upload ≤ 10 MB", tooltip=UPLOAD_TIP)
        self.add_button.on_click(lambda _: self._add_typed())
        self.entry.observe(lambda _: self._add_typed(), names="value")  # Enter adds too (no continuous sync)
        self.upload.observe(self._uploaded, names="value")
        self.box = widgets.VBox([self.title, self.rows, widgets.HBox([self.entry, self.add_button, self.upload])])
        self._render()

    def __repr__(self) -> str:
        return f"ReferenceList({self.field!r}, {len(self._items)} reference{'s' if len(self._items) != 1 else ''})"

    @property
    def value(self) -> tuple[Reference, ...]:
        """The references, in order (``[Image1]`` is the first); setting it replaces them all.

        Example:
            >>> refs = ReferenceList("reference_videos", Background(on_error=print), on_change=lambda: None)
            >>> refs.value = ["https://x.org/v.mp4"]
            >>> refs.value, refs
            (('https://x.org/v.mp4',), ReferenceList('reference_videos', 1 reference))
        """
        return tuple(self._items)

    @value.setter
    def value(self, refs: Iterable[Reference]) -> None:
        self._items = []
        self.add(*refs)

    def add(self, *refs: Reference) -> None:
        """Append references (URLs, ``asset://`` ids or local ``Path`` files).

        Example:
            >>> refs = ReferenceList("reference_audios", Background(on_error=print), on_change=lambda: None)
            >>> refs.add("https://x.org/a.mp3"); refs.add("https://x.org/b.mp3")
            >>> len(refs.rows.children)
            2
        """
        self._items.extend(refs)
        for ref in refs:
            if isinstance(ref, Path) and ref not in self._previews:
                self._background.offload(preview, ref, self.field, then=partial(self._previewed, ref))
        self._render()
        self._on_change()

    def remove(self, index: int) -> None:
        """Remove the reference at ``index`` (0 is ``[Image1]``); later ones move up a number.

        Example:
            >>> refs = ReferenceList("reference_images", Background(on_error=print), on_change=lambda: None)
            >>> refs.value = ["https://x.org/a.png", "https://x.org/b.png"]
            >>> refs.remove(0); refs.value
            ('https://x.org/b.png',)
        """
        del self._items[index]
        self._render()
        self._on_change()

    # -- callbacks --------------------------------------------------------------------------------------
    def _add_typed(self) -> None:
        refs = parse_entry(self.entry.value)
        self.entry.value = ""
        if refs:
            self.add(*refs)

    def _uploaded(self, change: dict[str, Any]) -> None:
        files: Sequence[dict[str, Any]] = change["new"] or ()
        if not files:
            return
        chosen = [(str(f.get("name") or "upload"), f["content"]) for f in files]
        self.upload.value = ()  # cleared: the same file may be chosen again
        self._background.offload(_save_all, home_dir() / "uploads", chosen, then=lambda paths: self.add(*paths))

    def _previewed(self, path: Path, shown: Preview) -> None:
        self._previews[path] = shown
        self._render()

    # -- view -------------------------------------------------------------------------------------------
    def _render(self) -> None:
        count, most = len(self._items), MAX_REFERENCES[self.field]
        self.title.value = f"<b>{_TITLES[self.field]}</b> <span style='color:#555'>({count} of at most {most})</span>"
        old = self.rows.children
        self.rows.children = [self._row(i, ref) for i, ref in enumerate(self._items)]
        for row in old:  # closed, or the kernel would keep every row ever drawn
            for part in row.children:
                part.close()
            row.close()

    def _row(self, index: int, ref: Reference) -> widgets.HBox:
        token = f"[{self.kind}{index + 1}]"
        shown = self._previews.get(ref) if isinstance(ref, Path) else None
        remove = widgets.Button(description="✕", tooltip=f"remove {token}", layout=widgets.Layout(width="2.5em"))
        remove.on_click(lambda _: self.remove(index))
        return widgets.HBox([remove, widgets.HTML(reference_html(token, ref, self.field, shown))])


def _save_all(uploads: Path, chosen: list[tuple[str, Any]]) -> list[Path]:
    return [save_upload(uploads, name, content) for name, content in chosen]
