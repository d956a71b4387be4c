"""Real, small result videos: the bundled ffmpeg draws the prompt and the references on a flat colour.

Output: H.264 yuv420p MP4 with ``+faststart``, 24 fps, exactly ``duration`` seconds (``24 × duration``
frames), the frame size of the resolution and aspect ratio, an AAC sine tone when ``audio`` is true, and a
PNG of the last frame. The static picture is drawn once and repeated with ``loop`` (only a frame counter
changes), so a 5 s 720p clip takes a fraction of a second. Renders are cached by their ``RenderSpec`` (shape,
prompt, references): identical requests share one file.

Reference images stored on the simulator (uploaded with the presigned PUT) are overlaid; other references are
drawn as labelled boxes with their URL. The network is never used.

Example:
    >>> frame_size("720p", "16:9"), frame_size("480p", "16:9"), frame_size("720p", "21:9")
    ((1280, 720), (854, 480), (1680, 720))
    >>> frame_size("720p", "auto")
    (1280, 720)
"""

from __future__ import annotations

import hashlib
import logging
import math
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..probe import ffmpeg_exe, probe
from .validation import TaskRequest

__all__ = ["RenderError", "RenderResult", "RenderSpec", "Renderer", "Tile", "build_command", "frame_size",
           "spec_for_request"]

log = logging.getLogger(__name__)
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


@dataclass(frozen=True)
class RenderResult:
    """A finished render: the MP4, the last-frame PNG and how long ffmpeg took."""

    video: str
    last_frame: str
    seconds: float


class RenderError(RuntimeError):
    """ffmpeg could not render the clip."""


def spec_for_request(request: TaskRequest, local_file: Callable[[str], str | None]) -> RenderSpec:
    """The render spec of a task; ``local_file(ref)`` maps a reference to a file stored on the simulator."""
    width, height = frame_size(request.resolution, request.aspect_ratio)
    tiles: list[Tile] = []
    for kind, refs in (("Image", request.reference_images), ("Video", request.reference_videos),
                       ("Audio", request.reference_audios)):
        for i, ref in enumerate(refs, start=1):
            local = local_file(ref) if kind != "Audio" else None
            tiles.append(Tile(f"{kind}{i}", ref, local))
    return RenderSpec(width, height, request.duration, request.audio, request.prompt, tuple(tiles))


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


def build_command(
    spec: RenderSpec, ffmpeg: str, overlays: dict[int, str], *, with_text: bool = True
) -> tuple[list[str], dict[str, str]]:
    """The ffmpeg argv and the text files (name → content) it reads, to be run in the render folder.

    ``overlays`` maps a tile index to a decodable picture file. Text goes through files (``textfile=``) so a
    prompt never needs filter-graph escaping; the command writes ``video.mp4`` and ``last.png``.
    """
    w, h = spec.width, spec.height
    frames = FPS * spec.duration
    fs = max(14, round(min(w, h) / 24))
    margin = max(8, round(min(w, h) * 0.04))
    digest = hashlib.sha256(spec.prompt.encode()).digest()
    colour = _PALETTE[digest[0] % len(_PALETTE)]
    files: dict[str, str] = {}
    static: list[str] = []
    text_top = margin + round(fs * 1.4)
    tiles_top = round(h * 0.5) if spec.tiles else h
    tiles_bottom = h - margin - round(fs * 1.2)
    if with_text:
        files["caption.txt"] = f"SIMULATED · seedance_nb · {h if w >= h else w}p · {w}x{h} · {spec.duration} s"
        static.append(f"drawtext=textfile=caption.txt:expansion=none:fontcolor=white@0.7:fontsize={round(fs * 0.7)}"
                      f":x={margin}:y={margin}")
        per_line = max(10, int((w - 2 * margin) / (0.56 * fs)))
        max_lines = max(1, int((tiles_top - text_top - margin) / (fs * 1.25)))
        lines = textwrap.wrap(" ".join(spec.prompt.split()), per_line, break_long_words=True)
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], lines[max_lines - 1][: per_line - 1] + "…"]
        files["prompt.txt"] = "\n".join(lines)
        static.append(f"drawtext=textfile=prompt.txt:expansion=none:fontcolor=white:fontsize={fs}"
                      f":line_spacing={round(fs * 0.25)}:x={margin}:y={text_top}")
    boxes: list[tuple[int, int, int, int]] = []
    if spec.tiles:
        gap = max(4, margin // 2)
        cols, rows = _grid(len(spec.tiles), w - 2 * margin, tiles_bottom - tiles_top)
        tw = (w - 2 * margin - (cols - 1) * gap) // cols
        th = (tiles_bottom - tiles_top - (rows - 1) * gap) // rows
        small = max(10, round(fs * 0.5))
        for i, tile in enumerate(spec.tiles):
            x = margin + (i % cols) * (tw + gap)
            y = tiles_top + (i // cols) * (th + gap)
            boxes.append((x, y, tw, th))
            static.append(f"drawbox=x={x}:y={y}:w={tw}:h={th}:color=white@0.18:t=fill")
            static.append(f"drawbox=x={x}:y={y}:w={tw}:h={th}:color=white@0.6:t=2")
            if with_text:
                files[f"tile{i}.txt"] = tile.label
                static.append(f"drawtext=textfile=tile{i}.txt:expansion=none:fontcolor=white:fontsize={small}"
                              f":x={x + 6}:y={y + 6}")
                if i not in overlays:
                    chars = max(6, int((tw - 12) / (0.6 * small)))
                    rows_fit = max(1, int((th - 2 * small - 12) / (small * 1.3)))
                    files[f"url{i}.txt"] = "\n".join(textwrap.wrap(tile.text, chars, break_long_words=True)[:rows_fit])
                    static.append(f"drawtext=textfile=url{i}.txt:expansion=none:fontcolor=white@0.85"
                                  f":fontsize={small}:line_spacing=4:x={x + 6}:y={y + 12 + small}")
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"color=c={colour}:s={w}x{h}:r={FPS}"]
    next_input = 1
    if spec.audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency={220 + 55 * (digest[1] % 8)}:sample_rate=44100"
                                      f":duration={spec.duration}"]
        next_input += 1
    graph = ["[0:v]trim=end_frame=1" + "".join("," + f for f in static) + "[s0]"]
    current = "s0"
    for n, (index, path) in enumerate(sorted(overlays.items())):
        x, y, tw, th = boxes[index]
        label = max(10, round(fs * 0.5)) + 12 if with_text else 4
        iw, ih = max(2, tw - 8), max(2, th - label - 4)
        argv += ["-t", "1", "-i", path]
        graph.append(f"[{next_input}:v]trim=end_frame=1,scale=w={iw}:h={ih}:force_original_aspect_ratio=decrease"
                     f",setsar=1[i{n}]")
        graph.append(f"[{current}][i{n}]overlay=x={x + 4}+({iw}-overlay_w)/2:y={y + label}+({ih}-overlay_h)/2"
                     f"[s{n + 1}]")
        current = f"s{n + 1}"
        next_input += 1
    # The last frame is drawn from the static picture with the final counter text, rather than picked out of
    # the looped stream: selecting it from 24·duration frames costs about as much as the whole encode.
    video = f"[base]loop=loop={frames - 1}:size=1,setpts=N/{FPS}/TB"
    still = "[still]"
    if with_text:
        timer = f"drawtext=fontcolor=white:fontsize={round(fs * 0.7)}:x=w-tw-{margin}:y=h-th-{margin // 2}"
        files["timer.txt"] = f"%{{pts:hms}}  frame %{{eif:n+1:d}}/{frames}"
        files["timer_last.txt"] = f"{_hms((frames - 1) / FPS)}  frame {frames}/{frames}"
        video += f",{timer}:textfile=timer.txt"
        still += f"{timer}:textfile=timer_last.txt:expansion=none,"
    graph.append(f"[{current}]split=2[base][still]")
    graph.append(video + ",format=yuv420p[v]")
    graph.append(still + "format=rgb24[last]")
    argv += ["-filter_complex", ";".join(graph), "-map", "[v]"]
    if spec.audio:
        argv += ["-map", "1:a", "-c:a", "aac", "-b:a", "64k"]
    argv += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
             "-r", str(FPS), "-movflags", "+faststart", "video.mp4",
             "-map", "[last]", "-frames:v", "1", "-update", "1", "last.png"]
    return argv, files


class Renderer:
    """Renders in worker threads, caches by spec, and can be closed at any time (running ffmpegs are killed).

    Example:
        >>> r = Renderer(Path("/tmp/renders"))  # doctest: +SKIP
        >>> r.submit(RenderSpec(1280, 720, 5, True, "a cat")).result().video  # doctest: +SKIP
        '/tmp/renders/…/video.mp4'
    """

    def __init__(self, root: Path, *, workers: int = 2, on_event: Callable[[str], None] | None = None) -> None:
        self.root = root
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crun-sim-render")
        self._cache: dict[RenderSpec, Future[RenderResult]] = {}
        self._probes: dict[str, bool] = {}
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._text_ok = True
        self._on_event = on_event or (lambda _name: None)

    def submit(self, spec: RenderSpec) -> Future[RenderResult]:
        """The render of ``spec``: a cached or running future, or a new one."""
        with self._lock:
            if self._closed:
                raise RenderError("The simulator is stopping; no more renders.")
            future = self._cache.get(spec)
            if future is not None and not (future.done() and (future.cancelled() or future.exception() is not None)):
                self._on_event("render_cache_hits")
                return future
            future = self._executor.submit(self._render, spec)
            self._cache[spec] = future
            return future

    def close(self) -> None:
        """Kill running ffmpegs, drop queued renders and wait for the worker threads."""
        with self._lock:
            self._closed = True
            procs = list(self._procs)
        for proc in procs:
            proc.kill()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _decodable(self, path: str) -> bool:
        with self._lock:
            known = self._probes.get(path)
        if known is None:
            info = probe(path, timeout=20)
            known = info.has_video and bool(info.width) and bool(info.height)
            with self._lock:
                self._probes[path] = known
        return known

    def _render(self, spec: RenderSpec) -> RenderResult:
        started = time.perf_counter()
        folder = self.root / spec.key
        folder.mkdir(parents=True, exist_ok=True)
        overlays = {i: t.local_path for i, t in enumerate(spec.tiles) if t.local_path and self._decodable(t.local_path)}
        attempts = [True, False] if self._text_ok else [False]
        error = first_error = ""
        for with_text in attempts:
            argv, files = build_command(spec, ffmpeg_exe(), overlays, with_text=with_text)
            for name, content in files.items():
                (folder / name).write_text(content, encoding="utf-8")
            code, error = self._run(argv, folder)
            if code == 0:
                if not with_text and self._text_ok:
                    # Text was the trouble, usually no font for fontconfig (install fonts-dejavu-core).
                    log.warning("Simulator renders go on without text: %s", first_error[-300:])
                    self._text_ok = False
                break
            first_error = first_error or error.strip()
        else:
            raise RenderError(f"ffmpeg failed to render the simulated clip: {error.strip()[-500:]}")
        self._on_event("renders")
        return RenderResult(str(folder / "video.mp4"), str(folder / "last.png"), time.perf_counter() - started)

    def _run(self, argv: list[str], cwd: Path) -> tuple[int, str]:
        with self._lock:
            if self._closed:
                return 1, "stopped"
            proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            self._procs.add(proc)
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        finally:
            with self._lock:
                self._procs.discard(proc)
        return proc.returncode, err.decode("utf-8", "replace")
