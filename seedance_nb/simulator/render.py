"""Rendering simulated clips: ffmpeg in worker threads, a cache by spec, and a kill switch.

Renders are cached by their ``RenderSpec`` (shape, prompt, references): identical requests share one file.
Reference images stored on the simulator (uploaded with the presigned PUT) are overlaid; other references are
drawn as labelled boxes with their URL. The network is never used. What is drawn, and how, is
``render_command.py``.

Example:
    >>> from .validation import validate_task_body
    >>> request = validate_task_body({"model": "bytedance/seedance2-0-r2v", "input": {
    ...     "prompt": "a cat", "resolution": "1080p", "aspect_ratio": "9:16",
    ...     "reference_images": ["https://x.test/a.png"], "reference_audios": ["https://x.test/a.mp3"]}})
    >>> spec = spec_for_request(request, local_file=lambda ref: None)
    >>> (spec.width, spec.height, spec.duration), [tile.label for tile in spec.tiles]
    ((1080, 1920, 5), ['Image1', 'Audio1'])
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .._probe import ffmpeg_exe, probe
from .render_command import RenderSpec, Tile, build_command, frame_size
from .validation import TaskRequest

__all__ = ["RenderError", "RenderResult", "Renderer", "spec_for_request"]

log = logging.getLogger(__name__)


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


class Renderer:
    """Renders in worker threads, caches by spec, and can be closed at any time (running ffmpegs are killed).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     renderer = Renderer(Path(root))
        ...     result = renderer.submit(RenderSpec(256, 144, 1, False, "a cat")).result()
        ...     again = renderer.submit(RenderSpec(256, 144, 1, False, "a cat")).result()
        ...     info = probe(result.video)
        ...     renderer.close()
        >>> Path(result.video).name, again is result, (info.width, info.height)
        ('video.mp4', True, (256, 144))
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
