"""Benchmark verifying an archived video: two ffmpeg processes (before) against PyAV in process (now), one run.

Run: ``.venv/bin/python bench/bench_media.py [--rounds 15]``

The clip is a fresh 5 s 720p 16:9 MP4 with audio from the simulator's renderer (what the archive verifies after
every task). Measured, in alternating rounds, median per file:

* before: ``ffmpeg -i`` (probe) then ``ffmpeg -v error -i FILE -f null -`` (a full decode), two subprocesses —
  what ``seedance_nb._media`` did until issue 10;
* now: ``verify(path)`` — open the container, read the facts, demux and check every packet (the default);
* now, full: ``verify(path, full=True)`` — the same and a full decode of every frame (on demand).

Nothing is asserted and no figure is hard-coded: every number printed is measured now.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from seedance_nb._probe import MediaProbe, ffmpeg_exe, parse_ffmpeg_info, verify
from seedance_nb.simulator.render import Renderer
from seedance_nb.simulator.render_command import RenderSpec, Tile, frame_size


def before(path: Path) -> MediaProbe:
    """The old verification: probe with ``ffmpeg -i``, then a full decode to null, two processes."""
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *argv], capture_output=True, text=True,
                              errors="replace", check=False, timeout=60)

    found = parse_ffmpeg_info(run("-i", str(path)).stderr)
    result = run("-v", "error", "-i", str(path), "-f", "null", "-")
    if not found.has_video or result.returncode != 0 or result.stderr.strip():
        raise RuntimeError("the clip does not verify with ffmpeg")
    return found


def render_clip(folder: Path) -> Path:
    renderer = Renderer(folder)
    try:
        w, h = frame_size("720p", "16:9")
        spec = RenderSpec(w, h, 5, True, "bench media: a corgi in the rain", (Tile("Image1", "https://x.test/a.png"),))
        return Path(renderer.submit(spec).result().video)
    finally:
        renderer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        clip = render_clip(Path(tmp))
        ways: dict[str, Callable[[Path], MediaProbe]] = {
            "before: ffmpeg probe + full decode (2 processes)": before,
            "now: PyAV, container + every packet (default)": verify,
            "now: PyAV, container + every packet + full decode": lambda p: verify(p, full=True),
        }
        facts = {name: way(clip) for name, way in ways.items()}  # warm-up, and the facts must agree
        assert len(set(facts.values())) == 1, facts
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                started = time.perf_counter()
                way(clip)
                times[name].append(time.perf_counter() - started)
        found = next(iter(facts.values()))
        print(f"Verifying a 5 s {found.width}x{found.height} {found.video_codec} MP4 with audio "
              f"({clip.stat().st_size / 1024:.0f} KiB), median of {args.rounds} alternating rounds:")
        medians = {name: statistics.median(t) for name, t in times.items()}
        base = medians[next(iter(ways))]
        for name, median in medians.items():
            print(f"  {name:52s} {median * 1000:8.1f} ms  (min {min(times[name]) * 1000:.1f})  "
                  f"{base / median:5.1f}x faster than before")


if __name__ == "__main__":
    main()
