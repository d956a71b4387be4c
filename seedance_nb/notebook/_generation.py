"""``Generation``: one finished (or followed) task, shown inline in a notebook from its local copy.

A notebook cell that ends with a ``Generation`` shows its ``_repr_html_``: the video (from the archive when
it is there, else Crun's URL), the prompt and a caption; a failed task shows why instead.

Example:
    >>> import seedance_nb as sn
    >>> info = sn.TaskInfo.from_data({"task_id": "c0ffee", "status": "success",
    ...                               "result": {"media_urls": ["https://cdn.example/c0ffee.mp4"]}})
    >>> gen = Generation(local_id="t1", task_id="c0ffee", status="success", info=info,
    ...                  request=sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"]))
    >>> '<video src="https://cdn.example/c0ffee.mp4"' in gen._repr_html_()
    True
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path

from .._answers import TaskInfo
from .._models import R2VRequest

__all__ = ["Generation", "video_src"]

_INLINE_LIMIT = 20 * 1024 * 1024  # larger files are linked, not embedded in the notebook


def video_src(path: Path | None, url: str | None = None, *, cwd: Path | None = None) -> str | None:
    """A ``src`` a notebook can play: the path relative to the notebook's folder (JupyterLab serves it),
    else the bytes as a data URI when small, else the remote URL.

    Example:
        >>> import tempfile
        >>> notebooks = Path(tempfile.mkdtemp()); clip = notebooks / "runs" / "a.mp4"
        >>> clip.parent.mkdir(); _ = clip.write_bytes(b"...")
        >>> video_src(clip, cwd=notebooks)
        'runs/a.mp4'
        >>> video_src(clip, cwd=Path(tempfile.mkdtemp()))[:22]      # outside the notebook's folder: embedded
        'data:video/mp4;base64,'
        >>> video_src(None, "https://cdn.example/a.mp4")               # not archived: the remote URL
        'https://cdn.example/a.mp4'
    """
    if path is None or not path.is_file():
        return url
    here = (cwd or Path.cwd()).absolute()
    if path.absolute().is_relative_to(here):
        return Path(os.path.relpath(path.absolute(), here)).as_posix()
    return _data_uri(path) or url


def _data_uri(path: Path) -> str | None:
    if not path.is_file() or path.stat().st_size > _INLINE_LIMIT:
        return None
    mime = "image/png" if path.suffix.lower() == ".png" else "video/mp4"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


@dataclass(frozen=True)
class Generation:
    """The outcome of ``sn.generate()``: the task, its archived media and what it cost.

    Attributes:
        local_id: the task log's id (what ``sn.resubmit()`` and ``sn.form(from_=)`` take).
        task_id: Crun's id.
        status: ``success``, ``failed``, or the last status seen.
        request: the request as the user wrote it (local paths, not upload URLs).
        info: the last ``TaskInfo``.
        video_path / last_frame_path: the archived local copies (``None`` if not downloaded).
        credits: what Crun charged.
        elapsed: seconds from submission to the end.
        media_error: why the media could not be archived, if so.

    Example:
        >>> import seedance_nb as sn
        >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"], duration=4)
        >>> gen = sn.Generation(local_id="t0190f3c2a1b4c5d6", task_id="c0ffee", status="success", request=req,
        ...                     credits=23.2, elapsed=41.6)
        >>> gen
        Generation('t0190f3c2a1b4c5d6', task_id='c0ffee', status='success')
        >>> gen.succeeded, gen.video_path is None      # sn.generate() fills video_path with the archived copy
        (True, True)
    """

    local_id: str
    task_id: str | None
    status: str
    request: R2VRequest
    info: TaskInfo | None = None
    video_path: Path | None = None
    last_frame_path: Path | None = None
    credits: float | None = None
    elapsed: float | None = None
    simulated: bool = False
    media_error: str | None = None

    @property
    def video_url(self) -> str | None:
        """Crun's URL of the video (expires after about 14 days; the local copy does not)."""
        return self.info.video_url if self.info else None

    @property
    def succeeded(self) -> bool:
        """True when the task ended ``success``."""
        return self.status == "success"

    def caption(self) -> str:
        """One line: status, parameters, credits, elapsed time, whether it was simulated, the log id.

        Example:
            >>> import seedance_nb as sn
            >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"], duration=4)
            >>> sn.Generation(local_id="t1", task_id="c0ffee", status="success", request=req, credits=23.2,
            ...               elapsed=41.6).caption()
            'success · 720p 16:9 4s +audio · 23.2 credits · 42s · t1'
        """
        r = self.request
        parts = [self.status, f"{r.resolution} {r.aspect_ratio} {r.duration}s{' +audio' if r.audio else ''}",
                 f"{self.credits:g} credits" if self.credits is not None else None,
                 f"{self.elapsed:.0f}s" if self.elapsed is not None else None,
                 "simulated" if self.simulated else None, self.local_id]
        return " · ".join(p for p in parts if p)

    def __repr__(self) -> str:
        where = f", video_path={str(self.video_path)!r}" if self.video_path else ""
        return f"Generation({self.local_id!r}, task_id={self.task_id!r}, status={self.status!r}{where})"

    def _repr_html_(self) -> str:
        prompt = html.escape(self.request.prompt)
        caption = html.escape(self.caption())
        src = video_src(self.video_path, self.video_url)
        if self.succeeded and src:
            media = (f'<video src="{html.escape(src)}" controls playsinline preload="metadata" '
                     f'style="max-width:100%;max-height:420px;display:block"></video>')
        elif self.succeeded:
            media = f'<div style="color:#b45309">video not archived: {html.escape(self.media_error or "")}</div>'
        else:
            message = self.info.result_message if self.info and self.info.result_message else self.status
            media = f'<div style="color:#b91c1c">{html.escape(str(message))}</div>'
        return (f'<div class="seedance-generation" style="font-family:sans-serif;max-width:760px">{media}'
                f'<div style="margin-top:4px"><b>{prompt}</b></div>'
                f'<div style="color:#555;font-size:90%">{caption}</div></div>')
