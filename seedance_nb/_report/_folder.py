"""The files of a report folder: media copied under their SHA-256, thumbnails and contact sheets (ffmpeg).

Every function here is safe to run in worker threads at once: a copy goes to a file of its own and is
renamed into place (two tasks with the same video end with one file), and ffmpeg writes each image once.

Example:
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> src = folder / "clip.mp4"; _ = src.write_bytes(b"not really a video")
    >>> name, digest = copy_media(src, folder / "media")
    >>> name == f"media/{digest}.mp4", (folder / name).read_bytes()
    (True, b'not really a video')
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._limits import REFERENCE_FIELDS
from .._media import sha256_file
from .._probe import ffmpeg_exe

__all__ = ["CELL", "contact_sheet", "copy_media", "reference_checksums", "thumbnail"]

CELL = (320, 180)  # a contact sheet's tile: each frame fitted into it, letterboxed
_SHEET_COLUMNS = 4
_SHEET_MAX = 64  # tiles in one sheet (an ffmpeg command line with one input per frame)
_FFMPEG_TIMEOUT_S = 60.0


def copy_media(src: Path, media_dir: Path) -> tuple[str, str]:
    """Copy a file into ``media_dir`` as ``<sha256><suffix>``, hashing it as it is read.

    Returns the path relative to the report folder (``media/<sha256>.mp4``) and the SHA-256.
    """
    media_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    part = media_dir / f".part-{uuid.uuid4().hex}"
    try:
        with open(src, "rb") as reader, open(part, "wb") as writer:
            while block := reader.read(1 << 20):
                digest.update(block)
                writer.write(block)
        name = f"{digest.hexdigest()}{src.suffix.lower() or '.mp4'}"
        os.replace(part, media_dir / name)  # atomic: a twin copied meanwhile is the same bytes
    finally:
        part.unlink(missing_ok=True)
    return f"{media_dir.name}/{name}", digest.hexdigest()


def _ffmpeg(args: Sequence[str]) -> bool:
    try:
        done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
                              capture_output=True, timeout=_FFMPEG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def thumbnail(video: Path, out: Path, at_s: float = 0.5, width: int = CELL[0]) -> bool:
    """Write one frame of ``video`` (at ``at_s`` seconds) as a JPEG ``width`` pixels wide; False if it failed.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=navy:s=640x360:d=1",
        ...                     "-pix_fmt", "yuv420p", str(folder / "v.mp4")], check=True)
        >>> thumbnail(folder / "v.mp4", folder / "t.jpg"), (folder / "t.jpg").stat().st_size > 0
        (True, True)
        >>> thumbnail(folder / "missing.mp4", folder / "u.jpg")
        False
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    seek = ["-ss", f"{max(at_s, 0.0):.3f}"] if at_s > 0 else []
    if _ffmpeg([*seek, "-i", str(video), "-frames:v", "1", "-vf", f"scale={width}:-2", "-q:v", "4", str(out)]) \
            and out.exists():
        return True
    # a seek past a very short video gives no frame: take the first one
    return bool(seek) and _ffmpeg(["-i", str(video), "-frames:v", "1", "-vf", f"scale={width}:-2", "-q:v", "4",
                                   str(out)]) and out.exists()


def contact_sheet(images: Sequence[Path], out: Path, columns: int = _SHEET_COLUMNS) -> bool:
    """Tile images (one frame per video) into one JPEG, ``columns`` wide, each fitted into ``CELL``.

    At most ``_SHEET_MAX`` images are tiled. Returns False when there is nothing to tile or ffmpeg failed.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> frames = [folder / f"{n}.png" for n in range(3)]
        >>> for size, frame in zip(["640x360", "360x640", "300x300"], frames):
        ...     _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color=c=teal:s={size}",
        ...                         "-frames:v", "1", str(frame)], check=True)
        >>> contact_sheet(frames, folder / "sheet.jpg"), contact_sheet([], folder / "none.jpg")
        (True, False)
    """
    shown = list(images)[:_SHEET_MAX]
    if not shown:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    w, h = CELL
    cols = max(1, min(columns, len(shown)))
    rows = -(-len(shown) // cols)
    fit = f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    chains = [f"[{i}:v]{fit}[c{i}]" for i in range(len(shown))]
    joined = "".join(f"[c{i}]" for i in range(len(shown)))
    graph = ";".join([*chains, f"{joined}concat=n={len(shown)}:v=1:a=0,tile={cols}x{rows}:padding=4:margin=4"])
    inputs = [arg for image in shown for arg in ("-i", str(image))]
    return _ffmpeg([*inputs, "-filter_complex", graph, "-frames:v", "1", "-q:v", "4", str(out)]) and out.exists()


def reference_checksums(payload: Mapping[str, Any], local_paths: str | Mapping[str, str] | None
                        ) -> list[dict[str, Any]]:
    """Each reference of a payload: its field, URL, and the local file it was uploaded from with its SHA-256
    when that file still exists (``sha256`` None otherwise: the URL is then what identifies it).

    Example:
        >>> refs = reference_checksums({"input": {"reference_images": ["https://x.org/a.png"]}}, None)
        >>> refs == [{"field": "reference_images", "index": 0, "url": "https://x.org/a.png", "local_file": None,
        ...           "sha256": None}]
        True
    """
    local = json.loads(local_paths) if isinstance(local_paths, str) and local_paths else dict(local_paths or {})
    fields = payload.get("input") if isinstance(payload.get("input"), Mapping) else {}
    found: list[dict[str, Any]] = []
    for name in REFERENCE_FIELDS:
        refs = fields.get(name) if isinstance(fields, Mapping) else None
        for index, url in enumerate(refs if isinstance(refs, list) else []):
            path = local.get(url) if isinstance(url, str) else None
            digest = None
            if path and Path(path).is_file():
                try:
                    digest = sha256_file(path)
                except OSError:
                    digest = None
            found.append({"field": name, "index": index, "url": str(url),
                          "local_file": Path(path).name if path else None, "sha256": digest})
    return found
