"""Benchmark the Crun simulator: TaskInfo throughput and render times, measured in this run, printed as ratios.

Run: ``.venv/bin/python bench/bench_simulator.py [--seconds 3] [--renders 5]``

* TaskInfo requests/second with a pooled ``httpx.Client`` (keep-alive). The client runs in a **separate
  process** (spawned), so it never shares the GIL with the server thread; measured with 1 connection and with
  4 concurrent connections (4 threads in the client process), for a finished task (its render, started by
  its first TaskInfo, is finished before measuring) and, on 1 connection, for a running one. Target ≥ 1000/s.
* Render time of a fresh 5 s 720p 16:9 clip with audio (target ≤ 0.5 s) and of a 15 s one, through the
  simulator's renderer (the ffmpeg run, including writing the last-frame PNG); the median of ``--renders``
  runs with distinct prompts, so none is cached.
* A cached render: the same spec again (the dictionary hit) and, end to end, a media GET for a second task with
  an identical request (served from the cache).

Nothing is asserted and no figure is hard-coded: every number printed is measured now.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from seedance_nb.simulator import Simulator
from seedance_nb.simulator.render import Renderer
from seedance_nb.simulator.render_command import RenderSpec, Tile, frame_size
from seedance_nb.simulator.serving import http_protocol_class

KEY = "ak_" + "Bench000" * 4
TASKINFO_TARGET = 1000.0
RENDER_TARGET = 0.5


def _client_process(base_url: str, task_id: str, seconds: float, connections: int, out: Any) -> None:
    """Hammer TaskInfo for ``seconds`` with ``connections`` pooled connections; report the request count."""
    counts = [0] * connections
    errors = [0] * connections
    start = threading.Barrier(connections + 1)

    def worker(i: int) -> None:
        with httpx.Client(base_url=base_url, headers={"x-api-key": KEY}, trust_env=False,
                          limits=httpx.Limits(max_connections=1)) as c:
            c.get("/client/job/TaskInfo", params={"task_id": task_id})  # open the connection first
            start.wait()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                r = c.get("/client/job/TaskInfo", params={"task_id": task_id})
                if r.status_code == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    out.put((sum(counts), sum(errors), time.perf_counter() - began))


def _measure(base_url: str, task_id: str, seconds: float, connections: int, what: str) -> float:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_client_process, args=(base_url, task_id, seconds, connections, queue))
    proc.start()
    done, errors, elapsed = queue.get(timeout=seconds + 60)
    proc.join(30)
    rate = float(done / elapsed)
    print(f"TaskInfo of a {what} task, client in a separate process, {connections} pooled connection(s): "
          f"{rate:8.0f} req/s  ({done} ok, {errors} errors in {elapsed:.1f} s)  "
          f"ratio to target {rate / TASKINFO_TARGET:.2f}x (≥1 is good)")
    return rate


def _create(c: httpx.Client) -> str:
    task_id: str = c.post("/client/job/CreateTask", json={
        "model": "bytedance/seedance2-0-mini-r2v",
        "input": {"prompt": "bench", "reference_images": ["https://example.com/a.png"]}}).json()["data"]["task_id"]
    return task_id


def bench_taskinfo(seconds: float) -> dict[str, float]:
    results: dict[str, float] = {}
    print(f"Simulator HTTP protocol: {http_protocol_class().__name__}")
    with Simulator(latency=0) as sim, httpx.Client(base_url=sim.base_url, headers={"x-api-key": KEY},
                                                   trust_env=False) as c:
        task_id = _create(c)
        # The first TaskInfo of a finished task starts its render: let it finish before measuring, so the
        # ffmpeg process does not compete with the server for the CPU during the measurement.
        url = c.get("/client/job/TaskInfo", params={"task_id": task_id}).json()["data"]["result"]["media_urls"][0]
        c.get(url, timeout=120)
        for connections in (1, 4):
            results[f"finished/{connections}"] = _measure(sim.base_url, task_id, seconds, connections, "finished")
    with Simulator(latency=3600) as sim, httpx.Client(base_url=sim.base_url, headers={"x-api-key": KEY},
                                                      trust_env=False) as c:
        results["running/1"] = _measure(sim.base_url, _create(c), seconds, 1, "running")
    return results


def _spec(duration: int, audio: bool, prompt: str) -> RenderSpec:
    w, h = frame_size("720p", "16:9")
    return RenderSpec(w, h, duration, audio, prompt, (Tile("Image1", "https://example.com/a.png"),))


def bench_renders(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        renderer = Renderer(Path(tmp))
        try:
            renderer.submit(_spec(4, True, "warm-up")).result()  # first run pays for cold caches
            for duration in (5, 15):
                times = []
                for i in range(runs):
                    started = time.perf_counter()
                    renderer.submit(_spec(duration, True, f"bench {duration}s run {i}: a corgi in the rain")).result()
                    times.append(time.perf_counter() - started)
                median = statistics.median(times)
                line = (f"Render {duration:2d} s 720p 16:9 + audio (fresh, median of {runs}): {median:6.3f} s "
                        f"(min {min(times):.3f}, max {max(times):.3f})")
                if duration == 5:
                    line += f"  ratio to the {RENDER_TARGET} s target {median / RENDER_TARGET:.2f}x (≤1 is good)"
                else:
                    line += f"  = {median / duration * 1000:.0f} ms per second of video"
                print(line)
            spec = _spec(5, True, "bench 5s run 0: a corgi in the rain")
            hits = []
            for _ in range(1000):
                started = time.perf_counter()
                renderer.submit(spec).result()
                hits.append(time.perf_counter() - started)
            print(f"Render 5 s cached (same spec, renderer cache hit): {statistics.median(hits) * 1e6:8.1f} µs median")
        finally:
            renderer.close()


def bench_cached_media() -> None:
    body = {"model": "bytedance/seedance2-0-mini-r2v",
            "input": {"prompt": "cached media", "reference_images": ["https://example.com/a.png"], "duration": 5}}
    with Simulator(latency=0) as sim, httpx.Client(base_url=sim.base_url, headers={"x-api-key": KEY},
                                                   trust_env=False, timeout=60) as c:
        timings = []
        for _ in range(2):
            task_id = c.post("/client/job/CreateTask", json=body).json()["data"]["task_id"]
            started = time.perf_counter()
            url = c.get("/client/job/TaskInfo", params={"task_id": task_id}).json()["data"]["result"]["media_urls"][0]
            size = len(c.get(url).content)
            timings.append(time.perf_counter() - started)
        print(f"End to end, TaskInfo + media GET of a 5 s 720p clip ({size / 1024:.0f} KiB): first {timings[0]:.3f} s "
              f"(renders), identical request {timings[1] * 1000:.1f} ms (cached)  "
              f"speed-up {timings[0] / timings[1]:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per throughput run")
    parser.add_argument("--renders", type=int, default=5, help="fresh renders per clip length")
    args = parser.parse_args()
    print(f"Crun simulator benchmark ({mp.cpu_count()} CPUs); targets: TaskInfo ≥ {TASKINFO_TARGET:.0f}/s, "
          f"5 s 720p render ≤ {RENDER_TARGET} s")
    bench_taskinfo(args.seconds)
    bench_renders(args.renders)
    bench_cached_media()


if __name__ == "__main__":
    main()
