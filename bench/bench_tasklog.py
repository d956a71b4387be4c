"""Task-log benchmark: append latency, df() load time beside pandas reading JSONL, peak memory.

Prints what it measures in this run; asserts nothing. Targets: append p50 <= 2 ms, df() <= 1 s at 100k
tasks, peak memory <= 300 MB.

    python bench/bench_tasklog.py                 # 300 appends, df() at 10k and 100k tasks
    python bench/bench_tasklog.py --sizes 10000 --appends 100

The large logs are built with ``TaskLog.import_records`` (one executemany in one transaction). Two data
shapes are loaded: "sweeps" (16 tasks share a prompt and references, as sweeps and repeats do) and
"distinct" (every prompt, reference list and tag list differs: the worst case for df()).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

try:
    from seedance_nb.tasklog import TaskLog
    from seedance_nb.tasklog._ledger import Ledger
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from seedance_nb.tasklog import TaskLog
    from seedance_nb.tasklog._ledger import Ledger

MODEL = "bytedance/seedance2-0-mini-r2v"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def payload(i: int, group: int, distinct: bool) -> dict[str, Any]:
    key = i if distinct else group
    return {"model": MODEL, "input": {
        "prompt": f"[Image1] walks through the rain in scene {key}, slow dolly shot, film grain",
        "reference_images": [f"https://cdn.example/refs/{key}/face.png", "asset://asset-20260420153000-ab12c"],
        "resolution": ("480p", "720p")[key % 2], "aspect_ratio": ("16:9", "9:16", "1:1")[key % 3],
        "duration": 4 + key % 3, "audio": True, "return_last_frame": False}}


def record(i: int, *, distinct: bool) -> dict[str, Any]:
    """One finished task as df() would show it (the sizes of real rows: payload, TaskInfo, hashes)."""
    group = i // 16
    body = payload(i, group, distinct)
    fields = body["input"]
    start = T0 + timedelta(seconds=30 * i)
    sha = f"{i:064x}"
    info = {"task_id": f"d6956973-2f17-43d4-8514-{i:012x}", "status": "success", "provider": "ByteDance",
            "param": body, "create_at": int(start.timestamp()), "credits": 2.9 * fields["duration"],
            "result": {"code": 200, "message": "success", "media_urls": [f"https://static.example/{sha}.mp4"]}}
    return {
        "local_id": f"t{int(start.timestamp() * 1000):011x}{i % 0xFFFFF:05x}", "task_id": info["task_id"],
        "status": "success", **{k: fields[k] for k in ("prompt", "reference_images", "resolution",
                                                      "aspect_ratio", "duration", "audio", "return_last_frame")},
        "model": MODEL, "submitted_at": start, "finished_at": start + timedelta(seconds=150 + i % 90),
        "credits": info["credits"], "video_url": info["result"]["media_urls"][0],
        "video_path": f"/home/me/seedance-runs/media/{sha}.mp4", "video_sha256": sha,
        "width": 1280 if fields["resolution"] == "720p" else 854, "height": 720 if fields["resolution"] == "720p"
        else 480, "fps": 24.0, "video_duration_s": float(fields["duration"]), "has_audio": True,
        "sweep_id": f"sweep-{group}", "repeat": i % 2, "tags": [f"batch{i}"] if distinct else ["keep"],
        "request_hash": f"{(i // 2):064x}", "payload": json.dumps(body), "task_info": json.dumps(info),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def stopwatch(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - start


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def bench_appends(folder: Path, count: int) -> None:
    per_op: dict[str, list[float]] = {"begin": [], "mark_pending": [], "record_status(running)": [],
                                      "record_status(success)": [], "record_media": []}
    per_task: list[float] = []
    with TaskLog(folder / "appends.sqlite") as log:
        ledger = Ledger(log)
        for i in range(count + 20):
            took: dict[str, float] = {}
            lid, took["begin"] = stopwatch(ledger.begin, payload(i, i, True), f"h{i}")
            _, took["mark_pending"] = stopwatch(ledger.mark_pending, lid, f"task-{i}")
            _, took["record_status(running)"] = stopwatch(ledger.record_status, lid, "running")
            _, took["record_status(success)"] = stopwatch(ledger.record_status, lid, "success", credits=14.5,
                                                          video_url=f"https://cdn/{i}.mp4")
            _, took["record_media"] = stopwatch(ledger.record_media, lid, video_path=f"/m/{i}.mp4",
                                                video_sha256=f"{i:064x}", width=1280, height=720, fps=24.0,
                                                video_duration_s=5.0, has_audio=True)
            if i >= 20:  # the first tasks warm caches and the WAL file
                for name, seconds in took.items():
                    per_op[name].append(seconds)
                per_task.append(took["begin"] + took["mark_pending"] + took["record_status(success)"])
    singles = [s for values in per_op.values() for s in values]
    print(f"\nappend latency over {count} tasks (ms)            p50     p99")
    for name, values in per_op.items():
        print(f"  {name:<40} {percentile(values, 50) * 1e3:7.3f} {percentile(values, 99) * 1e3:7.3f}")
    print(f"  {'any single append':<40} {percentile(singles, 50) * 1e3:7.3f} {percentile(singles, 99) * 1e3:7.3f}")
    print(f"  {'task: begin + pending + success':<40} {percentile(per_task, 50) * 1e3:7.3f} "
          f"{percentile(per_task, 99) * 1e3:7.3f}")
    p50 = percentile(singles, 50) * 1e3
    print(f"  target: single append p50 <= 2 ms -> {'met' if p50 <= 2 else 'NOT met'} ({p50:.3f} ms)")


def build(folder: Path, size: int, distinct: bool) -> tuple[TaskLog, Path, float]:
    log = TaskLog(folder / f"log-{size}-{'distinct' if distinct else 'sweeps'}.sqlite")
    start = time.perf_counter()
    log.import_records(record(i, distinct=distinct) for i in range(size))
    built = time.perf_counter() - start
    jsonl = log.path.with_suffix(".jsonl")
    with jsonl.open("w") as out:
        for row in _rows(log):
            out.write(json.dumps(row, default=str) + "\n")
    return log, jsonl, built


def _rows(log: TaskLog) -> Iterator[dict[str, Any]]:
    for rec in log.df().to_dict("records"):
        yield {k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in rec.items()}


def bench_load(folder: Path, size: int, distinct: bool, repeats: int = 3) -> float:
    log, jsonl, built = build(folder, size, distinct)
    with log:
        ours = [timed(log.df) for _ in range(repeats)]
        theirs = [timed(lambda: pd.read_json(jsonl, lines=True)) for _ in range(repeats)]
    mine, base = statistics.median(ours), statistics.median(theirs)
    label = f"{size:,} tasks, {'distinct' if distinct else 'sweeps'}"
    print(f"  {label:<28} built in {built:5.2f} s | TaskLog.df() {mine:6.3f} s (min {min(ours):.3f}) | "
          f"pd.read_json(lines) {base:6.3f} s | ratio df/jsonl {mine / base:5.2f}")
    return mine


def bench_memory(folder: Path, size: int) -> None:
    path = folder / f"log-{size}-sweeps.sqlite"
    tracemalloc.start()
    with TaskLog(path) as log:
        frame = log.df()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    deep = frame.memory_usage(deep=True).sum()
    # VmHWM is this process's own peak RSS (ru_maxrss would carry this parent's peak over the exec).
    probe = ("import re, sys; from seedance_nb.tasklog import TaskLog; "
             "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); "
             "base = hwm(); f = TaskLog(sys.argv[1]).df(); print(base, hwm(), len(f))")
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}).stdout.split()
    before, after = int(out[0]) / 1024, int(out[1]) / 1024  # /proc reports KiB
    print(f"\npeak memory loading {size:,} tasks")
    print(f"  tracemalloc peak during df() (Python + numpy allocations): {peak / 2**20:7.1f} MB")
    print(f"  the DataFrame itself (memory_usage(deep=True)):          {deep / 2**20:7.1f} MB")
    print(f"  fresh process peak RSS (VmHWM): {before:.1f} MB after imports -> {after:.1f} MB after df() "
          f"(df() added {after - before:.1f} MB)")
    verdict = "met" if peak / 2**20 <= 300 and after - before <= 300 else "NOT met"
    print(f"  target: peak <= 300 MB for df() -> {verdict} (tracemalloc {peak / 2**20:.1f} MB, "
          f"RSS added {after - before:.1f} MB, whole process {after:.1f} MB)")


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and print it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--appends", type=int, default=300)
    args = parser.parse_args(argv)
    print(f"TaskLog benchmark — Python {sys.version.split()[0]}, pandas {pd.__version__}, "
          f"SQLite {__import__('sqlite3').sqlite_version}")
    with tempfile.TemporaryDirectory(prefix="bench-tasklog-") as tmp:
        folder = Path(tmp)
        bench_appends(folder, args.appends)
        print("\ndf() load time (median of 3) beside pandas reading the same rows from JSONL")
        largest = 0.0
        for size in args.sizes:
            largest = bench_load(folder, size, distinct=False)
        bench_load(folder, max(args.sizes), distinct=True)
        print(f"  target: df() <= 1 s at {max(args.sizes):,} tasks (sweeps) -> "
              f"{'met' if largest <= 1 else 'NOT met'} ({largest:.3f} s)")
        bench_memory(folder, max(args.sizes))
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(this benchmark process's own ru_maxrss (KiB on Linux), with every log and JSONL built and "
          f"read: {usage:.1f} MB)")


if __name__ == "__main__":
    main()
