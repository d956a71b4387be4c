"""``Generations``: several results shown as a grid of players; ``Failed``: a task that ended in an error.

What ``sn.generate_many()`` returns, and what ``sn.show()`` makes of any list of ``Generation``s (say, what
``asyncio.gather`` returned). A notebook cell that ends with one shows its ``_repr_html_``: a responsive
CSS grid (no JavaScript), one cell per task with its video from the local copy, the prompt (shortened), only
the parameters that differ between the tasks (the shared ones are said once, above the grid), and status,
credits and time. A failed task shows its error, its code and what to do about it.

Example:
    >>> import seedance_nb as sn
    >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])
    >>> grid = sn.show([sn.Generation(local_id="t1", task_id="a", status="success", request=req),
    ...                 sn.Generation(local_id="t2", task_id="b", status="success", request=req.replace(duration=8))])
    >>> "8s" in grid._repr_html_() and "display:grid" in grid._repr_html_()
    True
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from .._limits import MODEL_TITLES
from .._models import R2VRequest
from ..errors import (
    APIError,
    GenerationTimeout,
    InsufficientCreditsError,
    ModerationError,
    Problem,
    SubmissionUnknownError,
    ValidationError,
    safe_text,
)
from ._generation import Generation, video_src

__all__ = ["Failed", "Generations", "Item", "cell_html", "parameters", "show", "split_parameters"]

_PROMPT_CHARS = 90
_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Failed:
    """A task of a batch that ended in an error instead of a ``Generation``; the others went on.

    Attributes:
        request: the request (an ``R2VRequest``, the dict it was to be built from, or ``None`` if unknown).
        error: the exception, as ``sn.generate()`` raised it.

    Example:
        >>> import seedance_nb as sn
        >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])
        >>> failed = sn.Failed(req, sn.GenerationTimeout("still running", task_id="c0ffee", local_id="t1"))
        >>> failed
        Failed('t1', status='timeout', error=GenerationTimeout('still running'))
        >>> failed.advice()
        'still running at Crun (task c0ffee): await sn.resume() follows it to its end and archives the video'
    """

    request: R2VRequest | Mapping[str, Any] | None
    error: BaseException

    @property
    def local_id(self) -> str | None:
        """The task log's id, when the task was recorded."""
        value = getattr(self.error, "local_id", None)
        return value if isinstance(value, str) else None

    @property
    def task_id(self) -> str | None:
        """Crun's id, when Crun created the task."""
        value = getattr(self.error, "task_id", None)
        return value if isinstance(value, str) else None

    @property
    def code(self) -> int | None:
        """Crun's code (501 failed, 451 moderated, 402 credits, …), when Crun answered with one."""
        return self.error.code if isinstance(self.error, APIError) else None

    @property
    def status(self) -> str:
        """``failed`` (Crun ran it), ``rejected`` (never ran), ``timeout`` (still running), ``unknown``
        (the answer to CreateTask was lost), ``invalid`` (nothing was sent) or ``error``."""
        if isinstance(self.error, GenerationTimeout):
            return "timeout"
        if isinstance(self.error, SubmissionUnknownError):
            return "unknown"
        if isinstance(self.error, ValidationError):
            return "invalid"
        if isinstance(self.error, APIError):
            return "failed" if self.task_id else "rejected"
        return "error"

    @property
    def message(self) -> str:
        """The error's message (keys masked, as every message of the package is)."""
        return str(self.error) or type(self.error).__name__

    def advice(self) -> str:
        """What to do next, in one sentence that names the call to make.

        Example:
            >>> import seedance_nb as sn
            >>> sn.Failed(None, sn.SubmissionUnknownError("no answer", local_id="t7")).advice()[:44]
            "check it, then await sn.resubmit('t7') sends"
        """
        error, local_id = self.error, self.local_id
        if isinstance(error, GenerationTimeout):
            return (f"still running at Crun (task {self.task_id}): await sn.resume() follows it to its end "
                    "and archives the video")
        if isinstance(error, SubmissionUnknownError):
            return (f"check it, then await sn.resubmit({local_id!r}) sends it again: CreateTask got no answer, "
                    "so the task may exist and be charged")
        if isinstance(error, ValidationError):
            return "nothing was sent: fix the fields named above"
        if isinstance(error, InsufficientCreditsError):
            return "nothing was sent: top up your credits, or lower duration or resolution"
        if isinstance(error, ModerationError):
            return "rephrase the prompt or change the references, then run it again"
        if local_id:
            return f"await sn.resubmit({local_id!r}) sends it again"
        return "run it again once the cause is fixed"

    def __repr__(self) -> str:
        return f"Failed({self.local_id!r}, status={self.status!r}, error={type(self.error).__name__}" \
               f"({_shorten(self.message, 60)!r}))"


Item: TypeAlias = Generation | Failed


class Generations(list[Item]):
    """A list of ``Generation``s (and ``Failed`` tasks) that a notebook shows as a grid of players.

    A plain ``list`` otherwise: index it, loop over it, ``len()`` it. ``sn.generate_many()`` returns one, in
    the order of its requests; ``sn.show(items)`` wraps any list.

    Example:
        >>> import seedance_nb as sn
        >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])
        >>> gens = sn.Generations([sn.Generation(local_id="t1", task_id="a", status="success", request=req,
        ...                                      credits=11.6),
        ...                        sn.Failed(req.replace(duration=8), sn.GenerationTimeout("still running"))])
        >>> len(gens.succeeded), len(gens.failed)
        (1, 1)
        >>> gens.summary()
        '2 tasks · 1 success · 1 timeout · 11.6 credits'
    """

    @property
    def succeeded(self) -> list[Generation]:
        """The ``Generation``s that ended ``success``."""
        return [item for item in self if isinstance(item, Generation) and item.succeeded]

    @property
    def failed(self) -> list[Failed]:
        """The tasks that ended in an error."""
        return [item for item in self if isinstance(item, Failed)]

    def summary(self) -> str:
        """One line: how many tasks, how many of each status, the credits spent.

        Example:
            >>> import seedance_nb as sn
            >>> sn.Generations().summary()
            'no tasks'
        """
        if not self:
            return "no tasks"
        counts: dict[str, int] = {}
        for item in self:
            counts[item.status] = counts.get(item.status, 0) + 1
        credits = sum(item.credits or 0.0 for item in self if isinstance(item, Generation))
        parts = [f"{len(self)} task{'s' if len(self) != 1 else ''}", *(f"{n} {s}" for s, n in counts.items())]
        return " · ".join([*parts, f"{credits:g} credits"])

    def __repr__(self) -> str:
        return f"Generations({list.__repr__(self)})"

    def _repr_html_(self) -> str:
        fields = [parameters(item) for item in self]
        shared, differing = split_parameters(fields)
        head = html.escape(self.summary())
        if shared:
            head += f' · <span style="color:#555">all: {html.escape(" ".join(shared.values()))}</span>'
        cells = "".join(cell_html(item, {k: v for k, v in params.items() if k in differing} if len(self) > 1
                                     else params) for item, params in zip(self, fields, strict=True))
        return (f'<div class="seedance-generations" style="font-family:sans-serif">'
                f'<div style="margin-bottom:6px">{head}</div>'
                f'<div style="display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:10px">'
                f"{cells}</div></div>")


def show(items: Item | BaseException | Iterable[Item | BaseException]) -> Generations:
    """A grid of players for any list of ``Generation``s (or for one): end a cell with it.

    Exceptions in the list (``asyncio.gather(..., return_exceptions=True)``) are shown as ``Failed`` tasks.

    Raises:
        ValidationError: ``items`` holds something that is not a ``Generation``, ``Failed`` or exception.

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> async def two():
        ...     return await asyncio.gather(*(sn.generate(prompt=f"[Image1] waves {n} times", duration=4,
        ...                                               reference_images=["https://example.com/a.png"],
        ...                                               progress=False) for n in (1, 2)))
        >>> grid = sn.show(asyncio.run(two()))
        >>> grid.summary().split(" · ")[:2], grid._repr_html_().count("<video")
        (['2 tasks', '2 success'], 2)
    """
    listed = [items] if isinstance(items, (Generation, Failed, BaseException)) else list(items)
    wrong = [(i, x) for i, x in enumerate(listed) if not isinstance(x, (Generation, Failed, BaseException))]
    if wrong:
        raise ValidationError([Problem(f"items[{i}]", safe_text(x, 40), "is not a Generation, Failed or exception",
                                       "Pass what sn.generate() or sn.generate_many() returned.")
                               for i, x in wrong])
    return Generations(Failed(None, x) if isinstance(x, BaseException) else x for x in listed)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the parameters a caption shows -------------------------------------------------------------------------

def _names(kind: str) -> Callable[[Any], str]:
    """References by their file names: ``images: me.png, street.png`` (nothing when there are none)."""
    def names(refs: Any) -> str:
        if isinstance(refs, (str, Path)):
            refs = [refs]
        found = [Path(r).name if isinstance(r, Path) else str(r).rstrip("/").rsplit("/", 1)[-1] or str(r)
                 for r in refs or ()]
        return f"{kind}: {', '.join(found)}" if found else ""
    return names


_SHOWN: Mapping[str, Callable[[Any], str]] = {
    "model": lambda v: MODEL_TITLES.get(v, f"model {v}"),
    "resolution": str,
    "aspect_ratio": str,
    "duration": lambda v: f"{v}s",
    "audio": lambda v: "+audio" if v else "silent",
    "return_last_frame": lambda v: "+last frame" if v else "no last frame",
    "byteplus_fallback": lambda v: "" if v is None else f"fallback {'on' if v else 'off'}",
    "reference_images": _names("images"),
    "reference_videos": _names("videos"),
    "reference_audios": _names("audio refs"),
    "extra": lambda v: f"extra {json.dumps(v, default=str, sort_keys=True)}" if v else "",
}


def parameters(item: Item) -> dict[str, str]:
    """The caption text of each parameter of an item's request, by field name (the prompt is shown apart).

    Example:
        >>> import seedance_nb as sn
        >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"], duration=4)
        >>> shown = parameters(sn.Generation(local_id="t1", task_id=None, status="success", request=req))
        >>> shown["duration"], shown["reference_images"], shown["audio"]
        ('4s', 'images: a.png', '+audio')
    """
    request = item.request
    if request is None:
        return {}
    values = {name: getattr(request, name) for name in _SHOWN} if isinstance(request, R2VRequest) else \
        {name: value for name, value in request.items() if name != "prompt"}
    shown = {}
    for name, value in values.items():
        try:
            text = _SHOWN[name](value) if name in _SHOWN else f"{name}={safe_text(value, 40)}"
        except Exception:  # a dict that failed to build may hold anything
            text = f"{name}={safe_text(value, 40)}"
        shown[name] = text
    return shown


def split_parameters(fields: list[dict[str, str]]) -> tuple[dict[str, str], set[str]]:
    """The parameters all items share (name -> text) and the names of those that differ.

    Example:
        >>> split_parameters([{"duration": "4s", "audio": "+audio"}, {"duration": "8s", "audio": "+audio"}])
        ({'audio': '+audio'}, {'duration'})
    """
    known = [f for f in fields if f]
    names = {name for f in known for name in f}
    differing = {name for name in names if len({f.get(name) for f in known}) > 1}
    shared = {name: text for name, text in (known[0].items() if known else ()) if name not in differing and text}
    return shared, differing


# -- one cell -----------------------------------------------------------------------------------------------

def _prompt(item: Item) -> str:
    request = item.request
    prompt = request.prompt if isinstance(request, R2VRequest) else \
        request.get("prompt") if isinstance(request, Mapping) else None
    text = prompt if isinstance(prompt, str) else "(no prompt)"
    return f'<div title="{html.escape(text)}" style="margin-top:4px;overflow-wrap:anywhere">' \
           f"<b>{html.escape(_shorten(text, _PROMPT_CHARS))}</b></div>"


def _media(gen: Generation) -> str:
    src = video_src(gen.video_path, gen.video_url)
    if gen.succeeded and src:
        poster = video_src(gen.last_frame_path) if gen.last_frame_path else None
        poster_attr = f' poster="{html.escape(poster)}"' if poster and not poster.startswith("data:") else ""
        return (f'<video src="{html.escape(src)}"{poster_attr} controls playsinline preload="metadata" '
                f'style="width:100%;max-height:320px;display:block;background:#000"></video>')
    if gen.succeeded:
        return _box("#b45309", "video not archived", gen.media_error or "no video URL", "")
    message = gen.info.result_message if gen.info and gen.info.result_message else gen.status
    return _box("#b91c1c", gen.status, str(message), "")


def _failure(failed: Failed) -> str:
    title = type(failed.error).__name__ + (f" {failed.code}" if failed.code is not None else "")
    error = failed.error
    # The title names the class and code already: an APIError shows Crun's own words (and its details).
    message = error.message + "".join(f"; {e}" for e in error.errors) if isinstance(error, APIError) \
        else failed.message
    return _box("#b91c1c", title, _shorten(message, _MESSAGE_CHARS), failed.advice())


def _box(colour: str, title: str, message: str, advice: str) -> str:
    todo = f'<div style="margin-top:4px;color:#333"><b>what to do:</b> {html.escape(advice)}</div>' if advice else ""
    return (f'<div style="border-left:3px solid {colour};padding:4px 8px;background:#fef2f2;font-size:90%">'
            f'<div style="color:{colour}"><b>{html.escape(title)}</b></div>'
            f'<div style="white-space:pre-wrap;overflow-wrap:anywhere">{html.escape(message)}</div>{todo}</div>')


def _status_line(item: Item) -> str:
    if isinstance(item, Failed):
        parts = [item.status, item.task_id and f"task {item.task_id}", item.local_id]
    else:
        parts = [item.status, f"{item.credits:g} credits" if item.credits is not None else None,
                 f"{item.elapsed:.0f}s" if item.elapsed is not None else None,
                 "simulated" if item.simulated else None, item.local_id]
    return " · ".join(p for p in parts if p)


def cell_html(item: Item, params: Mapping[str, str]) -> str:
    """One card of a grid: the player (or the error), the prompt, the caption of ``params``, the status line.

    Example:
        >>> import seedance_nb as sn
        >>> req = sn.R2VRequest(prompt="[Image1] <waves>", reference_images=["https://x.org/a.png"])
        >>> card = cell_html(sn.Generation(local_id="t1", task_id="a", status="failed", request=req), {"d": "4s"})
        >>> "&lt;waves&gt;" in card, ">4s<" in card, card.count("<video")
        (True, True, 0)
    """
    media = _failure(item) if isinstance(item, Failed) else _media(item)
    shown = " · ".join(text for text in params.values() if text)
    caption = f'<div style="color:#333;font-size:90%">{html.escape(shown)}</div>' if shown else ""
    return (f'<div class="seedance-cell" style="min-width:0;border:1px solid #e5e7eb;border-radius:6px;padding:6px">'
            f'{media}{_prompt(item)}{caption}'
            f'<div style="color:#666;font-size:85%">{html.escape(_status_line(item))}</div></div>')
