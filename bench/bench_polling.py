"""TaskInfo requests per task and detection delay (printed, not asserted).

Targets (issue 10): a finished job is noticed within max(1 s, 10 % of its expected running time) at p95,
with ≤ 15 TaskInfo requests per 3-minute job at p95. Crun's own CLI polls every 5 s (36 requests for such a
job). Two measurements, both made in this run:

1. The schedule `generate()` uses (seedance_nb._polling), over 2,000 jobs whose running time is drawn
   around 3 minutes (and 2,000 around 8 s), with and without a history of past durations, beside a fixed
   5 s poll.
2. Real `generate()` calls against the simulator on loopback with 8 s jobs, counting the TaskInfo
   requests on the wire, first with an empty task log and then with a learned history. The completion
   time is the simulator's own (``final_at``, not TaskInfo's whole-second ``complete_at``).

Run: .venv/bin/python bench/bench_polling.py
"""

from __future__ import annotations

import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from seedance_nb._polling import detection_target, poll_delays, poll_times

JOBS = 2000
REQUESTS_TARGET = 15


def fixed(seconds: float) -> Iterator[float]:
    while True:
        yield seconds


def summarize(name: str, counts: list[int], delays: list[float]) -> tuple[float, float]:
    """Print and return the p95 of the request counts and of the detection delays."""
    q = statistics.quantiles(delays, n=20)
    qc = statistics.quantiles(counts, n=20)
    print(f"  {name:<28} requests p50 {statistics.median(counts):5.1f}  p95 {qc[18]:5.1f}  max {max(counts):3d}   "
          f"delay p50 {statistics.median(delays):5.2f} s  p95 {q[18]:5.2f} s  max {max(delays):5.2f} s")
    return qc[18], q[18]


def schedule_figures(typical: float, spread: float) -> dict[str, tuple[float, float]]:
    rng = random.Random(7)
    results: dict[str, tuple[list[int], list[float]]] = {"fixed 5 s (Crun CLI)": ([], []),
                                                         "ours, no history": ([], []),
                                                         "ours, learned history": ([], [])}
    for _ in range(JOBS):
        end = rng.gauss(typical, spread)
        history = [rng.gauss(typical, spread) for _ in range(20)]
        for name, delays in (("fixed 5 s (Crun CLI)", fixed(5.0)), ("ours, no history", poll_delays(rng=rng.random)),
                             ("ours, learned history", poll_delays(history, rng=rng.random))):
            times = poll_times(delays, until=end)
            results[name][0].append(len(times))
            results[name][1].append(times[-1] - end)
    print(f"1. schedule over {JOBS} jobs of {typical:g} ± {spread:g} s "
          f"(detection target max(1 s, 10 %) = {detection_target(typical):g} s at p95)")
    return {name: summarize(name, counts, delays) for name, (counts, delays) in results.items()}


async def one_run(sn: Any, sim: Any, key: str, log: Any, attempt: int) -> tuple[int, float]:
    """One generate() call; returns (TaskInfo requests on the wire, seconds from completion to detection).

    The completion is the simulator's ``final_at`` (wall-clock seconds): TaskInfo's ``complete_at`` is
    whole seconds and would add up to a second to the measured delay.
    """
    counter = {"taskinfo": 0}
    seen_at: dict[str, float] = {}

    async def count(request: httpx.Request) -> None:
        if request.url.path.endswith("/TaskInfo"):
            counter["taskinfo"] += 1

    async with sn.Client(api_key=key, base_url=sim.base_url) as client:
        client.http.event_hooks["request"].append(count)
        gen = await sn.generate(prompt=f"[Image1] run {attempt}", reference_images=["https://example.com/a.png"],
                                duration=4, resolution="480p", client=client, log=log, download=False,
                                progress=False, on_update=lambda i: seen_at.setdefault(i.status, time.time()))
    assert gen.info and gen.task_id
    final_at = next(task.final_at for task in sim.tasks() if task.task_id == gen.task_id)
    return counter["taskinfo"], seen_at["success"] - final_at


async def real_runs(latency: float = 8.0, runs: int = 4) -> list[tuple[str, int, float]]:
    import seedance_nb as sn
    from seedance_nb.simulator import Simulator

    key = "ak_" + secrets.token_hex(16)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Simulator(latency=latency, api_key=key) as sim:
        log = sn.TaskLog(Path(tmp) / "tasks.sqlite")
        for attempt in range(runs):
            requests, delay = await one_run(sn, sim, key, log, attempt)
            rows.append(("empty log" if attempt == 0 else f"history of {attempt}", requests, delay))
    print(f"2. real generate() against the simulator, {latency:g} s jobs "
          f"(detection target with a history: {detection_target(latency):g} s)")
    for name, count, delay in rows:
        print(f"  {name:<28} TaskInfo requests {count:3d}   detection delay {delay:5.2f} s")
    return rows


def main() -> None:
    for typical, spread in ((180.0, 8.0), (8.0, 0.3)):
        figures = schedule_figures(typical, spread)
        fixed_count = figures["fixed 5 s (Crun CLI)"][0]
        learned_count, learned_delay = figures["ours, learned history"]
        line = (f"  learned / fixed requests (p95) = {learned_count / fixed_count:.2f}; delay p95 / target "
                f"{detection_target(typical):g} s = {learned_delay / detection_target(typical):.2f} (≤1 is good)")
        if typical == 180.0:
            line += f"; requests p95 / target {REQUESTS_TARGET} = {learned_count / REQUESTS_TARGET:.2f} (≤1 is good)"
        print(line)
    if "--no-real" not in sys.argv:
        asyncio.run(real_runs())


if __name__ == "__main__":
    main()
