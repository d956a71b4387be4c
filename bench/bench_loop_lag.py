"""How long does `await sn.generate(...)` block the event loop? (worst lag of a 10 ms ticker, same run)

A notebook's widgets, progress lines and other tasks share the kernel's one event loop: whatever
`generate()` does on the loop itself (probing, hashing, fsync'd log writes, media checks) freezes them.
This runs real generations with a local 1280x720 PNG reference (probed, hashed, uploaded), against an
out-of-process simulator, while a ticker task sleeps 10 ms in a loop and records how late it wakes.
Its worst lateness is the longest time the loop was blocked.

    python bench/bench_loop_lag.py            # 5 generations
    python bench/bench_loop_lag.py --runs 10

It only uses the public API (`sn.generate`, `sn.Client`, `sn.TaskLog`), so it measures older versions too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import imageio_ffmpeg

import seedance_nb as sn

TICK_S = 0.010


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(key: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CRUN_API_KEY": key}
    proc = subprocess.Popen([sys.executable, "-m", "seedance_nb.cli", "simulate", "--port", str(port),
                             "--latency", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/client/account/balance", headers={"x-api-key": key}, trust_env=False)
            return proc, base
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("the simulator did not start") from None
            time.sleep(0.1)


def png(path: Path, hue: int) -> Path:
    """A busy 1280x720 test picture (a few MB of PNG), its colours turned by ``hue`` degrees."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=s=1280x720,hue=h={hue}", "-frames:v", "1", str(path)], check=True)
    return path


async def ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(TICK_S)
        lags.append(loop.time() - before - TICK_S)


async def one_run(base: str, key: str, folder: Path, run: int) -> list[float]:
    lags: list[float] = []
    stop = asyncio.Event()
    reference = png(folder / f"ref-{run}.png", run * 37)  # a new file: its probe and upload are not cached
    watcher = asyncio.create_task(ticker(lags, stop))
    await asyncio.sleep(0)  # the ticker is waiting before generate() starts: its first steps count too
    async with sn.Client(api_key=key, base_url=base) as client:
        gen = await sn.generate(prompt="[Image1] walks through the rain", reference_images=[reference], duration=4,
                                client=client, log=sn.TaskLog(folder / "tasks.sqlite"), progress=False, new=True)
    stop.set()
    await watcher
    assert gen.status == "success" and gen.video_path is not None, gen
    return lags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    key = "ak_" + secrets.token_hex(16)
    proc, base = start_simulator(key)
    worst: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["SEEDANCE_NB_HOME"] = tmp
            for i in range(args.runs):
                lags = asyncio.run(one_run(base, key, Path(tmp), i))
                worst.append(max(lags))
                p99 = statistics.quantiles(lags, n=100)[98] if len(lags) > 100 else max(lags)
                print(f"run {i + 1}: worst loop lag {max(lags) * 1000:7.1f} ms   p99 {p99 * 1000:6.1f} ms   "
                      f"({len(lags)} ticks)")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    print(f"seedance_nb {sn.__version__} at {Path(sn.__file__).parent}")
    print(f"worst loop lag over {args.runs} generate() calls: max {max(worst) * 1000:.1f} ms, "
          f"median of the runs' worst {statistics.median(worst) * 1000:.1f} ms (target: under 100 ms)")


if __name__ == "__main__":
    main()
