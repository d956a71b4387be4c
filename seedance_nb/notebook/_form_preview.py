"""The slow side of the form's reference lists: saving uploaded bytes, and previews of local files.

Both block (disk writes, ffmpeg), so the form calls them in worker threads (``asyncio.to_thread``); the
widgets only show what they return. No ipywidgets here.

Example:
    >>> import tempfile
    >>> saved = save_upload(Path(tempfile.mkdtemp()), "notes.wav", b"RIFF....")
    >>> saved.name, saved.read_bytes()
    ('notes.wav', b'RIFF....')
"""

from __future__ import annotations

import base64
import html
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .._models import Reference
from .._probe import ffmpeg_exe, probe
from ..errors import mask_keys
from ._form_model import upload_path

__all__ = ["Preview", "preview", "reference_html", "save_upload"]

THUMB_PX = 64  # thumbnails stay small: they travel through the widget state as data URIs
_THUMB_TIMEOUT_S = 20.0


def save_upload(uploads: Path, name: str, content: bytes | memoryview) -> Path:
    """Keep an uploaded file under ``uploads`` with its own name (see ``upload_path``); return its path.

    The same bytes uploaded twice are written once.
    """
    data = bytes(content)
    path = upload_path(uploads, name, data)
    if not (path.is_file() and path.stat().st_size == len(data)):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_bytes(data)
        partial.replace(path)
    return path


@dataclass(frozen=True)
class Preview:
    """What a reference list shows of a local file: a small thumbnail (a data URI) and a few facts."""

    thumbnail: str | None
    detail: str


def preview(path: Path, field: str) -> Preview:
    """The preview of a local reference file (runs ffmpeg: call it in a worker thread).

    Images get a thumbnail and their size in pixels, videos and audio their duration.

    Example:
        >>> import tempfile
        >>> png = Path(tempfile.mkdtemp()) / "teal.png"
        >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=teal:s=640x480",
        ...                     "-frames:v", "1", str(png)], check=True)
        >>> shown = preview(png, "reference_images")
        >>> shown.detail, shown.thumbnail[:22]
        ('640×480', 'data:image/png;base64,')
        >>> preview(png.with_name("gone.mp4"), "reference_videos").detail
        'not readable'
    """
    try:
        info = probe(path)
    except (OSError, subprocess.SubprocessError):
        return Preview(None, "not readable")
    if field == "reference_images":
        if info.width is None or info.height is None:
            return Preview(None, "not readable")
        return Preview(_thumbnail(path), f"{info.width}×{info.height}")
    if info.duration_s is None:
        return Preview(None, "not readable")
    detail = f"{info.duration_s:.1f} s"
    if field == "reference_videos" and info.width and info.height:
        detail += f" · {info.width}×{info.height}"
    return Preview(None, detail)


def _thumbnail(path: Path) -> str | None:
    """A PNG thumbnail ``THUMB_PX`` high, as a data URI; ``None`` when ffmpeg cannot make one."""
    try:
        made = subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path), "-vf",
                               f"scale=-2:{THUMB_PX}", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"],
                              capture_output=True, timeout=_THUMB_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if made.returncode != 0 or not made.stdout:
        return None
    return "data:image/png;base64," + base64.b64encode(made.stdout).decode()


def reference_html(token: str, ref: Reference, field: str, shown: Preview | None) -> str:
    """One line of a reference list: its token, a thumbnail (images) or duration (local video, audio), its name.

    Example:
        >>> print(reference_html("[Image1]", "https://x.org/a.png", "reference_images", None))
        <b>[Image1]</b> <img src="https://x.org/a.png" alt="" style="height:32px;vertical-align:middle"> https://x.org/a.png
        >>> reference_html("[Audio1]", Path("/tmp/hum.wav"), "reference_audios", Preview(None, "3.0 s"))
        '<b>[Audio1]</b> hum.wav <span style="color:#555">(local file · 3.0 s)</span>'
    """
    parts = [f"<b>{html.escape(token)}</b>"]
    if isinstance(ref, Path):
        if shown is not None and shown.thumbnail:
            parts.append(f'<img src="{shown.thumbnail}" alt="" style="height:32px;vertical-align:middle">')
        detail = "local file · " + (shown.detail if shown is not None else "reading…")
        parts.append(f'{html.escape(ref.name)} <span style="color:#555">({html.escape(detail)})</span>')
        return " ".join(parts)
    text = str(ref)
    if field == "reference_images" and _is_http(text) and mask_keys(text) == text:  # a key is never sent out
        parts.append(f'<img src="{html.escape(text)}" alt="" style="height:32px;vertical-align:middle">')
    text = mask_keys(text)
    parts.append(html.escape(text if len(text) <= 100 else text[:99] + "…"))
    return " ".join(parts)


def _is_http(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)
