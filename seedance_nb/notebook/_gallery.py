"""``sn.gallery()``: players side by side, grouped by any column, rated and tagged into the task log.

Each group of the column ``by`` gets a titled section (``aspect_ratio = 16:9 · 4 videos``) with its players
in a grid of ``columns``. A card is the grid's own (``sn.show()``): the video from the archive (else Crun's
URL), or the error of a failed task, the prompt, the parameters that differ across the whole gallery (the
shared ones are said once, above), status, credits and local id. Under it, a 1–5 rating and a tags field:
each change is written to the task log (``rating``, ``tags``) in a worker thread, and the outcome (or the
error) shows in the card, so that ``TaskLog().df()`` can be sorted and summarised by them.

Example:
    >>> import tempfile, seedance_nb as sn
    >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
    >>> log.import_records([{"local_id": f"t{n}", "status": "success", "prompt": "[Image1] waves",
    ...                      "aspect_ratio": ratio, "duration": 4} for n, ratio in enumerate(["16:9", "9:16"])])
    2
    >>> view = sn.gallery(log.df(), by="aspect_ratio", log=log)
    >>> view.cells["t1"].rating.value = 4         # what a click on ★4 does
    >>> log.get("t1")["rating"]
    4
    >>> view.close()
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets

from ._gallery_rows import check_by, generation_of, group_title, groups, read_rows
from ._grid import cell_html, parameters, split_parameters
from ._rich import rich_html

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["Gallery", "GalleryCell", "gallery", "parse_tags"]

_RATINGS = [("–", 0), *((f"★{n}", n) for n in range(1, 6))]
_OK, _ERROR = "#166534", "#b91c1c"


def parse_tags(text: str) -> list[str]:
    """Comma-separated tags as a list, blanks dropped.

    Example:
        >>> parse_tags(" dusk, keeper,, ")
        ['dusk', 'keeper']
    """
    return [tag.strip() for tag in text.split(",") if tag.strip()]


class GalleryCell:
    """One video of a gallery: its card, its rating and tags widgets, and what its last save did.

    Attributes:
        local_id: the task's id in the log.
        row: the task's row (kept in step with what was saved).
        card: the card (player, prompt, caption, status line), in an ``Output`` so that JupyterLab resolves
            the video's relative ``src`` (see ``_rich``); ``card_html`` is its HTML.
        rating: ``ToggleButtons`` ``–``, ``★1`` … ``★5`` (values 0–5; 0 clears the rating).
        tags: ``Text``, comma-separated.
        status: ``HTML``: "saved", or why saving failed.
        box: the ``VBox`` of all four.

    Example:
        >>> cell = GalleryCell({"local_id": "t1", "rating": 3, "tags": ["dusk"]}, "<div>card</div>")
        >>> cell.rating.value, cell.tags.value
        (3, 'dusk')
        >>> cell.close()
    """

    def __init__(self, row: dict[str, Any], card: str, text: str = "") -> None:
        self.local_id, self.row, self.card_html = str(row.get("local_id")), row, card
        rating = row.get("rating")
        self.card = rich_html(card, text=text or self.local_id, width="100%")
        self.rating = ipywidgets.ToggleButtons(options=_RATINGS, value=rating if rating in range(1, 6) else 0,
                                               tooltips=["no rating", *(f"rate {n} of 5" for n in range(1, 6))],
                                               style={"button_width": "40px"})
        self.tags = ipywidgets.Text(value=", ".join(row.get("tags") or ()), placeholder="tags, comma-separated",
                                    continuous_update=False, layout=ipywidgets.Layout(width="100%"))
        self.status = ipywidgets.HTML()
        self.box = ipywidgets.VBox([self.card, self.rating, self.tags, self.status],
                                   layout=ipywidgets.Layout(min_width="0"))

    def say(self, text: str, *, error: bool = False) -> None:
        """Show what the last save did (an error in red).

        Example:
            >>> cell = GalleryCell({"local_id": "t1"}, "")
            >>> cell.say("not saved: <KeyError>", error=True); "&lt;KeyError&gt;" in cell.status.value
            True
            >>> cell.close()
        """
        self.status.value = (f'<span style="font-family:sans-serif;font-size:85%;color:{_ERROR if error else _OK}">'
                             f"{html.escape(text)}</span>")

    def close(self) -> None:
        """Close the cell's widgets.

        Example:
            >>> cell = GalleryCell({"local_id": "t1"}, "")
            >>> cell.close(); cell.rating.comm is None
            True
        """
        for widget in (self.card, self.rating, self.tags, self.status, self.box):
            widget.close()


class Gallery:
    """Players side by side, grouped by a column, each with a rating and tags written to the task log.

    Attributes:
        log: the task log written to.
        by: the column grouped by (``None``: one group).
        cells: the ``GalleryCell`` of each video, by local id, in the order shown.
        groups: ``(value, [local ids])`` of each group, in the order shown.
        shared: the parameters every video shares (name -> text), said once above the groups.
        widget: the ``ipywidgets.VBox`` a notebook displays.

    Example:
        >>> import tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> log.import_records([{"local_id": "t1", "status": "success", "prompt": "[Image1] <waves>", "duration": 4},
        ...                     {"local_id": "t2", "status": "failed", "prompt": "[Image1] jumps", "duration": 8,
        ...                      "error_message": "crashed"}])
        2
        >>> view = Gallery(log.df(), by="status", log=log)
        >>> view
        gallery of 2 videos by status · all: Seedance 2.0 Mini 720p 16:9 +audio no last frame
        status = success · 1 video: t1
        status = failed · 1 video: t2
        >>> "&lt;waves&gt;" in view.html and "crashed" in view.html
        True
        >>> view.close()
    """

    def __init__(self, df: Any, by: str | None = None, columns: int = 3, *, log: TaskLog | None = None) -> None:
        if log is None:
            from ..tasklog import TaskLog
            log = TaskLog()
        self.log, self.by = log, by
        rows = read_rows(df, log)
        check_by(by, rows, getattr(df, "columns", ()))
        gens = [generation_of(row) for row in rows]
        fields = [parameters(gen) for gen in gens]
        self.shared, differing = split_parameters(fields)
        self.cells: dict[str, GalleryCell] = {}
        for row, gen, params in zip(rows, gens, fields, strict=True):
            cell = GalleryCell(row, cell_html(gen, {k: v for k, v in params.items() if k in differing}),
                               gen.caption())
            cell.rating.observe(lambda change, c=cell: self._rate(c, int(change["new"])), "value")
            cell.tags.observe(lambda change, c=cell: self._tag(c, str(change["new"])), "value")
            self.cells[cell.local_id] = cell
        self.groups = groups({lid: cell.row for lid, cell in self.cells.items()}, by)
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # saves land in the order they were made
        self._heading = ipywidgets.HTML(f'<div style="font-family:sans-serif;color:#555">'
                                        f"{html.escape(self.heading)}</div>")
        self._titles: list[ipywidgets.HTML | None] = []
        self._grids: list[ipywidgets.GridBox] = []
        grid = ipywidgets.Layout(grid_template_columns=f"repeat({max(1, columns)}, minmax(0, 1fr))", grid_gap="10px")
        for value, ids in self.groups:
            self._titles.append(None if by is None else ipywidgets.HTML(
                f'<h4 style="font-family:sans-serif;margin:10px 0 4px">{html.escape(group_title(by, value, len(ids)))}'
                "</h4>"))
            self._grids.append(ipywidgets.GridBox([self.cells[i].box for i in ids], layout=grid))
        sections = [w for title, box in zip(self._titles, self._grids, strict=True) for w in (title, box) if w]
        self.widget = ipywidgets.VBox([self._heading, *sections])

    @property
    def heading(self) -> str:
        """``gallery of 4 videos by aspect_ratio · all: …``: how many, grouped how, the shared parameters."""
        count = len(self.cells)
        parts = [f"gallery of {count} video{'s' if count != 1 else ''}" + (f" by {self.by}" if self.by else "")]
        if self.shared:
            parts.append("all: " + " ".join(self.shared.values()))
        return " · ".join(parts)

    @property
    def html(self) -> str:
        """The gallery's HTML as shown: heading, group titles and cards (the rating and tags widgets aside)."""
        parts = [self._heading.value]
        for title, (_, ids) in zip(self._titles, self.groups, strict=True):
            parts += [title.value if title is not None else "",
                      *(self.cells[i].card_html + self.cells[i].status.value for i in ids)]
        return "".join(str(p) for p in parts)

    # --- saving ------------------------------------------------------------------------------------------

    def _rate(self, cell: GalleryCell, value: int) -> None:
        rating = value or None
        self._save(cell, "rating", rating, lambda: self.log.rate(cell.local_id, rating),
                   f"saved: ★{value}" if value else "saved: no rating")

    def _tag(self, cell: GalleryCell, text: str) -> None:
        tags = parse_tags(text)
        if tags == list(cell.row.get("tags") or ()):  # the text was only tidied (or put back): nothing to write
            return
        self._save(cell, "tags", tags, lambda: self.log.tag(cell.local_id, *tags, replace=True),
                   f"saved: tags {', '.join(tags)}" if tags else "saved: no tags")

    def _save(self, cell: GalleryCell, name: str, value: Any, write: Callable[[], None], done: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # plain Python: write now
            self._finish(cell, name, value, done, _attempt(write))
            return
        cell.say("saving…")
        task = loop.create_task(self._write(cell, name, value, write, done))
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._write_done(cell, t))

    async def _write(self, cell: GalleryCell, name: str, value: Any, write: Callable[[], None], done: str) -> None:
        async with self._lock:
            error = await asyncio.to_thread(_attempt, write)  # a write fsyncs: never on the event loop
        self._finish(cell, name, value, done, error)

    @staticmethod
    def _finish(cell: GalleryCell, name: str, value: Any, done: str, error: BaseException | None) -> None:
        if error is None:
            cell.row[name] = value
            cell.say(done)
        else:
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            cell.say(f"not saved: {type(error).__name__}: {message}", error=True)
        if name == "tags":  # the field shows what the log holds: tidied, and never a refused (key-shaped) text
            cell.tags.value = ", ".join(cell.row.get("tags") or ())

    def _write_done(self, cell: GalleryCell, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            cell.say("not saved: cancelled", error=True)
        elif task.exception() is not None:
            cell.say(f"not saved: {type(task.exception()).__name__}: {task.exception()}", error=True)

    async def saved(self) -> None:
        """Wait until every rating and tag change made so far is written to the log (or has failed).

        Example:
            >>> import asyncio, tempfile, seedance_nb as sn
            >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
            >>> log.import_records([{"local_id": "t1", "status": "success", "prompt": "[Image1] waves"}])
            1
            >>> async def main():
            ...     view = sn.gallery(["t1"], log=log)
            ...     view.cells["t1"].tags.value = "dusk, keeper"      # written in a worker thread
            ...     await view.saved()
            ...     view.close()
            >>> asyncio.run(main())
            >>> log.get("t1")["tags"]
            ['dusk', 'keeper']
        """
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- display -----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the gallery's widgets (saves already made still land).

        Example:
            >>> import tempfile, seedance_nb as sn
            >>> view = sn.gallery([], log=sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite"))
            >>> view.close(); view.widget.comm is None
            True
        """
        for cell in self.cells.values():
            cell.close()
        for widget in (self._heading, *(t for t in self._titles if t), *self._grids, self.widget):
            widget.close()

    def __repr__(self) -> str:
        lines = [self.heading]
        for value, ids in self.groups:
            shown = ", ".join(i + (f" ★{self.cells[i].rating.value}" if self.cells[i].rating.value else "")
                              for i in ids)
            title = group_title(self.by, value, len(ids)) if self.by else f"{len(ids)} video{'s' * (len(ids) != 1)}"
            lines.append(f"{title}: {shown}")
        return "\n".join(lines)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = repr(self)
        return bundle


def _attempt(write: Callable[[], None]) -> BaseException | None:
    """Run a write; its exception is returned, to be shown in the card (never lost)."""
    try:
        write()
    except Exception as exc:
        return exc
    return None


def gallery(df: Any, by: str | None = None, columns: int = 3, *, log: TaskLog | None = None) -> Gallery:
    """Players side by side, grouped by any column, each with a 1–5 rating and tags written to the log.

    Args:
        df: a DataFrame of ``sn.TaskLog().df()`` (filtered or sorted as you like), a list of local ids, or
            what ``sn.generate_many()`` returned.
        by: the column to group by (``"aspect_ratio"``, ``"prompt"``, ``"sweep_id"``, ``"rating"``, or one
            of your own); ``None``: one group.
        columns: players per row.
        log: the task log the rows come from and the ratings go to (default: ``$SEEDANCE_NB_HOME``'s).

    Raises:
        ValueError: ``by`` names no column.

    Example:
        >>> import tempfile, seedance_nb as sn
        >>> log = sn.TaskLog(tempfile.mkdtemp() + "/tasks.sqlite")
        >>> log.import_records([{"local_id": f"t{d}", "status": "success", "prompt": "[Image1] waves",
        ...                      "duration": d, "aspect_ratio": "9:16"} for d in (4, 8)])
        2
        >>> view = sn.gallery(log.df(), columns=2, log=log)
        >>> view.heading
        'gallery of 2 videos · all: Seedance 2.0 Mini 720p 9:16 +audio no last frame'
        >>> view.close()
    """
    return Gallery(df, by, columns, log=log)
