"""Measure how long ``await sn.generate(...)`` blocks the event loop, in a fresh process as a new kernel would.

Run as a script (by tests/integration/test_loop_lag.py and bench/bench_loop_lag.py) with the simulator's
address in ``CRUN_BASE_URL``/``CRUN_API_KEY`` and a scratch ``SEEDANCE_NB_HOME``. Each run makes a new
1280x720 reference picture (so its probe, hash and upload are not cached) and calls ``sn.generate()`` with
the defaults a notebook uses (no client, no log given: both are built, the log module loads on first use),
while a ticker task sleeps 10 ms in a loop and records how late it wakes. Its worst lateness is the longest
time the loop was blocked. Prints one JSON line: ``{"worst_s": [...], "ticks": [...], "version": ...}``.

It uses only the public API, so it measures older versions of the package too.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg

import seedance_nb as sn

TICK_S = 0.010


def picture(path: Path, hue: int) -> Path:
    """A busy 1280x720 test picture (megabytes of PNG, like a photo), its colours turned by ``hue`` degrees."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=s=1280x720,hue=h={hue}", "-frames:v", "1", str(path)], check=True)
    return path


async def ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(TICK_S)
        lags.append(loop.time() - before - TICK_S)


async def measure(folder: Path, runs: int) -> dict[str, object]:
    worst: list[float] = []
    ticks: list[int] = []
    for run in range(runs):
        reference = picture(folder / f"reference-{run}.png", run * 37)
        lags: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(ticker(lags, stop))
        await asyncio.sleep(0)  # the ticker waits before generate() starts, so its first steps count too
        gen = await sn.generate(prompt="[Image1] walks through the rain", reference_images=[reference], duration=4,
                                progress=False, new=True)
        stop.set()
        await watcher
        if gen.status != "success" or gen.video_path is None or not Path(gen.video_path).is_file():
            raise SystemExit(f"generate() did not archive a video: {gen!r}")
        worst.append(max(lags))
        ticks.append(len(lags))
    return {"worst_s": worst, "ticks": ticks, "version": sn.__version__, "package": str(Path(sn.__file__).parent)}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure(Path(sys.argv[1]), int(sys.argv[2])))))
