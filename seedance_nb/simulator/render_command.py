"""The ffmpeg command of one simulated clip: the prompt and the references drawn on a flat colour.

Output: H.264 yuv420p MP4 with ``+faststart``, 24 fps, exactly ``duration`` seconds (``24 × duration``
frames), the frame size of the resolution and aspect ratio, an AAC sine tone when ``audio`` is true, and a
PNG of the last frame. The static picture is drawn once and repeated with ``loop`` (only a frame counter
changes), so a 5 s 720p clip takes a fraction of a second. Pure: ``build_command`` returns the argv and the
text files it reads; ``render.py`` runs it.

Example:
    >>> frame_size("720p", "16:9"), frame_size("480p", "16:9"), frame_size("720p", "21:9")
    ((1280, 720), (854, 480), (1680, 720))
    >>> frame_size("720p", "auto")
    (1280, 720)
"""

from __future__ import annotations

import hashlib
import math
import textwrap
from dataclasses import dataclass

__all__ = ["FPS", "RenderSpec", "Tile", "build_command", "frame_size"]

FPS = 24
_SHORT_SIDE = {"480p": 480, "720p": 720, "1080p": 1080}
_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "3:4": (3, 4), "21:9": (21, 9)}
_PALETTE = ("0x1f2d4d", "0x2d1f4d", "0x1f4d3a", "0x4d2a1f", "0x3a1f4d", "0x1f3f4d", "0x4d1f33", "0x33401f")


def _hms(seconds: float) -> str:
    """``HH:MM:SS.mmm`` as drawtext's ``%{pts:hms}`` prints it."""
    ms = int(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def frame_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """Width and height (both even) for a resolution (the short side) and an aspect ratio; ``auto`` = 16:9."""
    short = _SHORT_SIDE[resolution]
    a, b = _RATIOS.get(aspect_ratio, (16, 9))
    long = math.floor(short * max(a, b) / min(a, b) / 2 + 0.5) * 2
    return (long, short) if a >= b else (short, long)


@dataclass(frozen=True)
class Tile:
    """One reference as drawn: its label (``Image1``), the text shown, and a local file to overlay, if any."""

    label: str
    text: str
    local_path: str | None = None


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides the pixels and samples of a render (the cache key)."""

    width: int
    height: int
    duration: int
    audio: bool
    prompt: str
    tiles: tuple[Tile, ...] = ()

    @property
    def key(self) -> str:
        """A short stable hash of the spec (names the render's folder)."""
        return hashlib.sha256(repr(self).encode()).hexdigest()[:20]


def _grid(n: int, width: int, height: int) -> tuple[int, int]:
    """Columns and rows that make the tiles as large as possible."""
    best = (1, n)
    best_side = -1.0
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        side = min(width / cols, height / rows)
        if side > best_side:
            best, best_side = (cols, rows), side
    return best


# Where things go on the frame: (x, y, width, height) of one tile.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class _Layout:
    """Sizes and positions on the frame (pixels), all derived from the frame size."""

    width: int
    height: int
    font: int  # the prompt's font size; the caption, timer and tile labels scale from it
    margin: int
    text_top: int  # the prompt's first line
    tiles_top: int
    tiles_bottom: int

    @classmethod
    def of(cls, spec: RenderSpec) -> _Layout:
        """The layout of ``spec``'s frame: text above, the reference tiles in the lower half."""
        w, h = spec.width, spec.height
        font = max(14, round(min(w, h) / 24))
        margin = max(8, round(min(w, h) * 0.04))
        return cls(w, h, font, margin, text_top=margin + round(font * 1.4),
                   tiles_top=round(h * 0.5) if spec.tiles else h, tiles_bottom=h - margin - round(font * 1.2))

    @property
    def small(self) -> int:
        """The font size of tile labels and URLs."""
        return max(10, round(self.font * 0.5))


def _text_overlays(spec: RenderSpec, lay: _Layout) -> tuple[list[str], dict[str, str]]:
    """The caption line and the wrapped prompt: their ``drawtext`` filters and text files."""
    w, h, fs, margin = lay.width, lay.height, lay.font, lay.margin
    files = {"caption.txt": f"SIMULATED · seedance_nb · {h if w >= h else w}p · {w}x{h} · {spec.duration} s"}
    filters = [f"drawtext=textfile=caption.txt:expansion=none:fontcolor=white@0.7:fontsize={round(fs * 0.7)}"
               f":x={margin}:y={margin}"]
    per_line = max(10, int((w - 2 * margin) / (0.56 * fs)))
    max_lines = max(1, int((lay.tiles_top - lay.text_top - margin) / (fs * 1.25)))
    lines = textwrap.wrap(" ".join(spec.prompt.split()), per_line, break_long_words=True)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][: per_line - 1] + "…"]
    files["prompt.txt"] = "\n".join(lines)
    filters.append(f"drawtext=textfile=prompt.txt:expansion=none:fontcolor=white:fontsize={fs}"
                   f":line_spacing={round(fs * 0.25)}:x={margin}:y={lay.text_top}")
    return filters, files


def _tile_boxes(spec: RenderSpec, lay: _Layout) -> list[Box]:
    """One box per reference, in a grid that makes them as large as possible."""
    if not spec.tiles:
        return []
    margin = lay.margin
    gap = max(4, margin // 2)
    cols, rows = _grid(len(spec.tiles), lay.width - 2 * margin, lay.tiles_bottom - lay.tiles_top)
    tw = (lay.width - 2 * margin - (cols - 1) * gap) // cols
    th = (lay.tiles_bottom - lay.tiles_top - (rows - 1) * gap) // rows
    return [(margin + (i % cols) * (tw + gap), lay.tiles_top + (i // cols) * (th + gap), tw, th)
            for i in range(len(spec.tiles))]


def _tile_overlays(spec: RenderSpec, lay: _Layout, boxes: list[Box], overlays: dict[int, str], *,
                   with_text: bool) -> tuple[list[str], dict[str, str]]:
    """The tiles' boxes and, with text, their labels and (where no picture is overlaid) their URLs."""
    small = lay.small
    filters: list[str] = []
    files: dict[str, str] = {}
    for i, (tile, (x, y, tw, th)) in enumerate(zip(spec.tiles, boxes, strict=True)):
        filters.append(f"drawbox=x={x}:y={y}:w={tw}:h={th}:color=white@0.18:t=fill")
        filters.append(f"drawbox=x={x}:y={y}:w={tw}:h={th}:color=white@0.6:t=2")
        if not with_text:
            continue
        files[f"tile{i}.txt"] = tile.label
        filters.append(f"drawtext=textfile=tile{i}.txt:expansion=none:fontcolor=white:fontsize={small}"
                       f":x={x + 6}:y={y + 6}")
        if i not in overlays:
            chars = max(6, int((tw - 12) / (0.6 * small)))
            rows_fit = max(1, int((th - 2 * small - 12) / (small * 1.3)))
            files[f"url{i}.txt"] = "\n".join(textwrap.wrap(tile.text, chars, break_long_words=True)[:rows_fit])
            filters.append(f"drawtext=textfile=url{i}.txt:expansion=none:fontcolor=white@0.85"
                           f":fontsize={small}:line_spacing=4:x={x + 6}:y={y + 12 + small}")
    return filters, files


def _audio_input(spec: RenderSpec, digest: bytes) -> list[str]:
    """The ``-i`` arguments of the sine tone (its pitch follows the prompt), or none without audio."""
    if not spec.audio:
        return []
    return ["-f", "lavfi", "-i", f"sine=frequency={220 + 55 * (digest[1] % 8)}:sample_rate=44100"
                                 f":duration={spec.duration}"]


def _picture_overlays(overlays: dict[int, str], boxes: list[Box], lay: _Layout, *, with_text: bool,
                      first_input: int) -> tuple[list[str], list[str], str]:
    """The pictures laid into their tiles: ``-i`` arguments, graph steps, and the label of the result.

    The graph starts from ``[s0]`` (the static picture); the pictures are inputs ``first_input`` onwards.
    """
    argv: list[str] = []
    graph: list[str] = []
    current = "s0"
    label = lay.small + 12 if with_text else 4
    for n, (index, path) in enumerate(sorted(overlays.items())):
        x, y, tw, th = boxes[index]
        iw, ih = max(2, tw - 8), max(2, th - label - 4)
        argv += ["-t", "1", "-i", path]
        graph.append(f"[{first_input + n}:v]trim=end_frame=1,scale=w={iw}:h={ih}"
                     f":force_original_aspect_ratio=decrease,setsar=1[i{n}]")
        graph.append(f"[{current}][i{n}]overlay=x={x + 4}+({iw}-overlay_w)/2:y={y + label}+({ih}-overlay_h)/2"
                     f"[s{n + 1}]")
        current = f"s{n + 1}"
    return argv, graph, current


def _video_and_still(picture: str, frames: int, lay: _Layout, *,
                     with_text: bool) -> tuple[list[str], dict[str, str]]:
    """Graph steps turning the static ``picture`` into the looped video ``[v]`` and the last frame ``[last]``.

    The last frame is drawn from the static picture with the final counter text, rather than picked out of
    the looped stream: selecting it from 24·duration frames costs about as much as the whole encode.
    """
    video = f"[base]loop=loop={frames - 1}:size=1,setpts=N/{FPS}/TB"
    still = "[still]"
    files: dict[str, str] = {}
    if with_text:
        timer = (f"drawtext=fontcolor=white:fontsize={round(lay.font * 0.7)}"
                 f":x=w-tw-{lay.margin}:y=h-th-{lay.margin // 2}")
        files["timer.txt"] = f"%{{pts:hms}}  frame %{{eif:n+1:d}}/{frames}"
        files["timer_last.txt"] = f"{_hms((frames - 1) / FPS)}  frame {frames}/{frames}"
        video += f",{timer}:textfile=timer.txt"
        still += f"{timer}:textfile=timer_last.txt:expansion=none,"
    graph = [f"[{picture}]split=2[base][still]", video + ",format=yuv420p[v]", still + "format=rgb24[last]"]
    return graph, files


def _output_args(spec: RenderSpec, frames: int) -> list[str]:
    """Encode ``[v]`` (and the tone) into ``video.mp4`` and ``[last]`` into ``last.png``."""
    audio = ["-map", "1:a", "-c:a", "aac", "-b:a", "64k"] if spec.audio else []
    return ["-map", "[v]", *audio,
            "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-r", str(FPS), "-movflags", "+faststart", "video.mp4",
            "-map", "[last]", "-frames:v", "1", "-update", "1", "last.png"]


def build_command(
    spec: RenderSpec, ffmpeg: str, overlays: dict[int, str], *, with_text: bool = True
) -> tuple[list[str], dict[str, str]]:
    """The ffmpeg argv and the text files (name → content) it reads, to be run in the render folder.

    ``overlays`` maps a tile index to a decodable picture file. Text goes through files (``textfile=``) so a
    prompt never needs filter-graph escaping; the command writes ``video.mp4`` and ``last.png``.

    Example:
        >>> spec = RenderSpec(1280, 720, 5, False, "a cat", (Tile("Image1", "https://x.test/a.png"),))
        >>> argv, files = build_command(spec, "ffmpeg", overlays={})
        >>> argv[-1], sorted(files)
        ('last.png', ['caption.txt', 'prompt.txt', 'tile0.txt', 'timer.txt', 'timer_last.txt', 'url0.txt'])
    """
    lay = _Layout.of(spec)
    frames = FPS * spec.duration
    digest = hashlib.sha256(spec.prompt.encode()).digest()
    colour = _PALETTE[digest[0] % len(_PALETTE)]
    boxes = _tile_boxes(spec, lay)
    text, text_files = _text_overlays(spec, lay) if with_text else ([], {})
    tiles, tile_files = _tile_overlays(spec, lay, boxes, overlays, with_text=with_text)
    audio = _audio_input(spec, digest)
    pictures, placed, picture = _picture_overlays(overlays, boxes, lay, with_text=with_text,
                                                  first_input=2 if audio else 1)
    finish, timer_files = _video_and_still(picture, frames, lay, with_text=with_text)
    graph = ["[0:v]trim=end_frame=1" + "".join("," + f for f in (*text, *tiles)) + "[s0]", *placed, *finish]
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"color=c={colour}:s={lay.width}x{lay.height}:r={FPS}", *audio, *pictures,
            "-filter_complex", ";".join(graph), *_output_args(spec, frames)]
    return argv, {**text_files, **tile_files, **timer_files}
