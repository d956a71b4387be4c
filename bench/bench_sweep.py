"""The toolkit's own cost: a sweep against the floor of a bare httpx loop doing the same work, in one run.

An out-of-process simulator (``seedance-nb simulate --latency 0``) answers both. Every task is the same payload
(one shape), so the simulator renders the video once and serves its cache afterwards: what is left is the
client's own work. Rounds alternate floor and sweep, each in a fresh process with a fresh home folder.

* **floor**: an ``httpx.AsyncClient`` with ``--concurrency`` workers doing, per task, CreateTask, TaskInfo until
  ``success`` and the video's download to a file, with its SHA-256 (nothing is verified, nothing recorded).
* **floor on seedance_nb's backend**: the same loop with ``AsyncioBackend`` under its httpx (what the transport
  alone gains, so the sweep's own overhead over an equally fast loop is in the figures too).
* **sweep**: ``sn.sweep(base, repeats=N, concurrency=C)`` — validation, one EstimateTask for the shape, the
  write-ahead task log (fsync'd), CreateTask once, polling, download, verification (in a child process) and the
  archive.

Printed: the median wall time of each over ``--rounds`` rounds and their ratio (target ≤ 1.5×, aim 1.2×), tasks
per second, TaskInfo requests per task, the peak memory of the sweep's process (target ≤ 300 MB at 1,000
tasks) and of the child process that checks its downloads, and the simulator's CPU time as a share of the
floor's wall time. Nothing is hard-coded.

    python bench/bench_sweep.py                   # 1,000 tasks, concurrency 16, 3 rounds
    python bench/bench_sweep.py --tasks 200 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing as mp
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Any

import httpx

MODEL = "bytedance/seedance2-0-mini-r2v"
INPUT = {"prompt": "[Image1] runs through the rain", "reference_images": ["https://example.com/a.png"],
         "resolution": "480p", "aspect_ratio": "16:9", "duration": 4, "audio": False}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _floor(base_url: str, key: str, tasks: int, concurrency: int, folder: Path, asyncio_backend: bool = False
                 ) -> dict[str, float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(tasks):
        queue.put_nowait(i)
    infos = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal infos
        while not queue.empty():
            i = queue.get_nowait()
            answer = (await client.post("client/job/CreateTask", json={"model": MODEL, "input": INPUT})).json()
            task_id = answer["data"]["task_id"]
            while True:
                infos += 1
                data = (await client.get("client/job/TaskInfo", params={"task_id": task_id})).json()["data"]
                if data["status"] in ("success", "failed"):
                    break
                await asyncio.sleep(0.05)
            digest = hashlib.sha256()
            with (folder / f"{i}.mp4").open("wb") as out:
                async with client.stream("GET", data["result"]["media_urls"][0]) as media:
                    async for chunk in media.aiter_bytes():
                        digest.update(chunk)
                        out.write(chunk)

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url + "/", headers={"x-api-key": key}, limits=limits,
                                 trust_env=False, timeout=60) as client:
        if asyncio_backend:
            from seedance_nb._transport import use_asyncio_backend

            use_asyncio_backend(client)
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return {"wall": time.perf_counter() - start, "taskinfo": infos}


async def _sweep(base_url: str, key: str, tasks: int, concurrency: int) -> dict[str, float]:
    import seedance_nb as sn

    infos = 0

    async def count(request: httpx.Request) -> None:
        nonlocal infos
        infos += request.url.path.endswith("/TaskInfo")

    async with sn.Client(api_key=key, base_url=base_url) as client:
        client.http.event_hooks["request"].append(count)
        start = time.perf_counter()
        df = await sn.sweep({"model": MODEL, **INPUT}, repeats=tasks, concurrency=concurrency, client=client,
                            progress=False)
        wall = time.perf_counter() - start
    done = int((df["status"] == "success").sum())
    if done != tasks:
        counts = df["status"].value_counts().to_dict()
        raise RuntimeError(f"the sweep ended {done} of {tasks} tasks in success: {counts}")
    return {"wall": wall, "taskinfo": infos}


def _child(kind: str, base_url: str, key: str, tasks: int, concurrency: int, out: Any) -> None:
    home = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    os.environ["SEEDANCE_NB_HOME"] = str(home)
    if kind.startswith("floor"):
        result = asyncio.run(_floor(base_url, key, tasks, concurrency, home, asyncio_backend=kind == "floor-asyncio"))
    else:
        result = asyncio.run(_sweep(base_url, key, tasks, concurrency))
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["child_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the checking process
    out.put(result)


def _measure(kind: str, base_url: str, key: str, tasks: int, concurrency: int, server_pid: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    cpu_before = _cpu_seconds(server_pid)
    proc = ctx.Process(target=_child, args=(kind, base_url, key, tasks, concurrency, queue))
    proc.start()
    while True:  # a child that dies (an exception, a kill) must end the benchmark, not leave it waiting
        try:
            result: dict[str, float] = queue.get(timeout=1)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"the {kind} process ended with code {proc.exitcode} and no result") from None
    proc.join(60)
    result["server_cpu"] = _cpu_seconds(server_pid) - cpu_before
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    key, port = "ak_" + secrets.token_hex(16), _free_port()
    env = {**os.environ, "CRUN_API_KEY": key}
    server = subprocess.Popen([sys.executable, "-m", "seedance_nb.cli", "simulate", "--port", str(port),
                               "--latency", "0", "--balance", "1e12"],  # rounds never run out of credits
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_simulator/stats", trust_env=False, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        _measure("floor", base_url, key, 5, 2, server.pid)  # warm the render cache: one shape, one render
        rounds: dict[str, list[dict[str, float]]] = {"floor": [], "floor-asyncio": [], "sweep": []}
        for _ in range(args.rounds):
            for kind in rounds:
                rounds[kind].append(_measure(kind, base_url, key, args.tasks, args.concurrency, server.pid))
    finally:
        server.terminate()
        server.wait(30)
    _print(rounds, args.tasks, args.concurrency)


def _print(rounds: dict[str, list[dict[str, float]]], tasks: int, concurrency: int) -> None:
    def median(kind: str, name: str) -> float:
        return statistics.median(r[name] for r in rounds[kind])

    floor, sweep = median("floor", "wall"), median("sweep", "wall")
    print(f"{tasks} tasks, concurrency {concurrency}, simulator latency 0, median of {len(rounds['floor'])} rounds")
    lean = median("floor-asyncio", "wall")
    for label, key in (("floor (bare httpx)", "floor"), ("floor, our backend", "floor-asyncio"), ("sn.sweep", "sweep")):
        wall = median(key, "wall")
        print(f"  {label:<18} {wall:7.2f} s  {tasks / wall:7.1f} tasks/s  "
              f"{median(key, 'taskinfo') / tasks:5.2f} TaskInfo/task  peak {median(key, 'peak_mb'):6.0f} MB"
              + (f" (+ {median(key, 'child_mb'):.0f} MB in its checking process)" if key == "sweep" else ""))
    print(f"  sweep / floor: {sweep / floor:.2f}x (target <= 1.5x, aim 1.2x)")
    print(f"  sweep / floor on the same network backend: {sweep / lean:.2f}x (the toolkit's own work); "
          f"the backend alone: floor {floor / lean:.2f}x faster")
    print(f"  simulator CPU during the floor: {median('floor', 'server_cpu'):.2f} s "
          f"= {median('floor', 'server_cpu') / floor:.0%} of the floor's wall time")


if __name__ == "__main__":
    main()
