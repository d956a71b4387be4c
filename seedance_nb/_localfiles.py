"""Checks of local reference files before they are uploaded (CRUN_API.md §4 rule 6).

A user learns that an image is too small or a clip too long before anything is uploaded or paid for.
Files are probed with the bundled ffmpeg; probes are cached by (path, size, mtime).

Limits (ByteDance's, as the sources give them):
    images  jpeg, png, webp, bmp, tiff, gif; under 30 MB; sides 300–6000 px; width/height 0.4–2.5
    videos  mp4, mov; under 50 MB in all; each at least 1.8 s, 2–15 s in all; 409,600–927,408 pixels; 24–60 fps
    audios  mp3, wav; under 15 MB each; 15 s in all at most

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from seedance_nb import R2VRequest
    >>> check_local_files(R2VRequest(prompt="x", reference_images=["https://x.org/a.png"]))
    []
    >>> fake = Path(tempfile.mkdtemp()) / "photo.png"; _ = fake.write_text("not a picture")
    >>> [p.limit for p in check_local_files(R2VRequest(prompt="x", reference_images=[fake]))]
    ['is not a readable jpeg, png, webp, bmp, tiff or gif image']
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ._probe import MediaProbe, probe
from .errors import Problem

if TYPE_CHECKING:
    from ._models import R2VRequest

__all__ = ["KIND_LIMITS", "check_local_files", "content_type", "path_kind"]

MB = 1024 * 1024


@dataclass(frozen=True)
class KindLimits:
    """What Crun accepts for one kind of reference."""

    suffixes: tuple[str, ...]
    codecs: tuple[str, ...]
    max_bytes: int


KIND_LIMITS = {
    "reference_images": KindLimits((".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"),
                                   ("mjpeg", "png", "webp", "bmp", "tiff", "gif"), 30 * MB),
    "reference_videos": KindLimits((".mp4", ".mov"), (), 50 * MB),
    "reference_audios": KindLimits((".mp3", ".wav"), ("mp3", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le",
                                                      "pcm_u8", "pcm_s16be"), 15 * MB),
}
IMAGE_SIDES = (300, 6000)
IMAGE_RATIO = (0.4, 2.5)
VIDEO_PIXELS = (409_600, 927_408)
VIDEO_FPS = (24.0, 60.0)
VIDEO_EACH_MIN_S = 1.8
VIDEO_TOTAL_S = (2.0, 15.0)
AUDIO_TOTAL_S = 15.0
_TOLERANCE_S = 0.1  # container durations round; 15.04 s is a 15 s clip


def content_type(path: Path) -> str:
    """The MIME type to declare when uploading ``path``.

    Example:
        >>> content_type(Path("a.PNG"))
        'image/png'
    """
    guessed, _ = mimetypes.guess_type(path.name.lower())
    return guessed or "application/octet-stream"


def path_kind(path: Path) -> str:
    """``"file"``, ``"other"`` (a folder, a device), ``"missing"`` or ``"unusable"``; it never raises.

    A path may be unusable without existing: too long for the system, a NUL byte, ``~nosuchuser``.

    Example:
        >>> path_kind(Path("/")), path_kind(Path("no-such-file.png")), path_kind(Path("a" * 5000))
        ('other', 'missing', 'unusable')
    """
    try:
        full = path.expanduser()
        if full.is_file():
            return "file"
        return "other" if full.exists() else "missing"
    except (OSError, ValueError, RuntimeError):  # RuntimeError: expanduser() of an unknown ~user
        return "unusable"


@lru_cache(maxsize=512)
def _cached_probe(path: str, size: int, mtime_ns: int) -> MediaProbe:
    return probe(path)


def _probe(path: Path) -> MediaProbe:
    stat = path.stat()
    return _cached_probe(str(path), stat.st_size, stat.st_mtime_ns)


def check_local_files(req: R2VRequest) -> list[Problem]:
    """Probe every local ``Path`` reference of ``req`` and return what breaks Crun's limits."""
    problems: list[Problem] = []
    totals = {"video_s": 0.0, "video_bytes": 0, "audio_s": 0.0}
    for name, index, path in req.local_files:
        if path_kind(path) != "file":
            continue  # rules.check_reference_forms reports it
        path = path.expanduser()
        where = f"{name}[{index}]"
        limits = KIND_LIMITS[name]
        size = path.stat().st_size
        if path.suffix.lower() not in limits.suffixes:
            problems.append(Problem(where, path.name, f"is not one of {', '.join(limits.suffixes)}",
                                    "Convert the file to an accepted format."))
            continue
        if size > limits.max_bytes:
            problems.append(Problem(where, f"{path.name} ({size / MB:.1f} MB)",
                                    f"must be under {limits.max_bytes // MB} MB", "Compress or shorten it."))
        info = _probe(path)
        if name == "reference_images":
            problems += _image_problems(where, path, info, limits)
        elif name == "reference_videos":
            problems += _video_problems(where, path, info)
            totals["video_s"] += info.duration_s or 0.0
            totals["video_bytes"] += size
        else:
            problems += _audio_problems(where, path, info, limits)
            totals["audio_s"] += info.duration_s or 0.0
    problems += _total_problems(req, totals)
    return problems


def _image_problems(where: str, path: Path, info: MediaProbe, limits: KindLimits) -> list[Problem]:
    if info.video_codec not in limits.codecs or info.width is None or info.height is None:
        return [Problem(where, path.name, "is not a readable jpeg, png, webp, bmp, tiff or gif image",
                        "Open and re-save it as PNG or JPEG.")]
    problems: list[Problem] = []
    low, high = IMAGE_SIDES
    if min(info.width, info.height) < low or max(info.width, info.height) > high:
        problems.append(Problem(where, f"{path.name} ({info.width}×{info.height})",
                                f"sides must be {low}–{high} px", f"Resize it so both sides are {low}–{high} px."))
    ratio = info.width / info.height
    if not IMAGE_RATIO[0] <= ratio <= IMAGE_RATIO[1]:
        problems.append(Problem(where, f"{path.name} (ratio {ratio:.2f})",
                                f"width/height must be {IMAGE_RATIO[0]}–{IMAGE_RATIO[1]}", "Crop it."))
    return problems


def _video_problems(where: str, path: Path, info: MediaProbe) -> list[Problem]:
    container = info.container or ""
    if not info.has_video or not ("mp4" in container or "mov" in container):
        return [Problem(where, path.name, "is not a readable mp4 or mov video", "Re-encode it as H.264 MP4.")]
    problems: list[Problem] = []
    if info.duration_s is not None and info.duration_s < VIDEO_EACH_MIN_S - _TOLERANCE_S:
        problems.append(Problem(where, f"{path.name} ({info.duration_s:.1f} s)",
                                f"each video must last at least {VIDEO_EACH_MIN_S} s", "Use a longer clip."))
    if info.width and info.height:
        pixels = info.width * info.height
        if not VIDEO_PIXELS[0] <= pixels <= VIDEO_PIXELS[1]:
            problems.append(Problem(where, f"{path.name} ({info.width}×{info.height})",
                                    "must have 409,600–927,408 pixels (480p–720p)",
                                    "Scale it to e.g. 854×480 … 1280×720."))
    if info.fps is not None and not VIDEO_FPS[0] <= info.fps <= VIDEO_FPS[1]:
        problems.append(Problem(where, f"{path.name} ({info.fps:g} fps)", "must have 24–60 fps",
                                "Re-encode it at 24, 30 or 60 fps."))
    return problems


def _audio_problems(where: str, path: Path, info: MediaProbe, limits: KindLimits) -> list[Problem]:
    if info.audio_codec not in limits.codecs:
        return [Problem(where, path.name, "is not a readable mp3 or wav file", "Convert it to MP3.")]
    return []


def _total_problems(req: R2VRequest, totals: dict[str, float]) -> list[Problem]:
    problems: list[Problem] = []
    local_videos = [p for n, _, p in req.local_files if n == "reference_videos"]
    if local_videos and len(local_videos) == len(req.reference_videos):
        low, high = VIDEO_TOTAL_S
        if not low - _TOLERANCE_S <= totals["video_s"] <= high + _TOLERANCE_S:
            problems.append(Problem("reference_videos", f"{totals['video_s']:.1f} s in all",
                                    f"videos must last {low:g}–{high:g} s in all", "Trim or add clips."))
        if totals["video_bytes"] > KIND_LIMITS["reference_videos"].max_bytes:
            problems.append(Problem("reference_videos", f"{totals['video_bytes'] / MB:.1f} MB in all",
                                    "videos must be under 50 MB in all", "Compress them."))
    if totals["audio_s"] > AUDIO_TOTAL_S + _TOLERANCE_S:
        problems.append(Problem("reference_audios", f"{totals['audio_s']:.1f} s in all",
                                f"audio must last {AUDIO_TOTAL_S:g} s in all at most", "Trim it."))
    return problems
