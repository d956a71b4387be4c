"""SIGKILL a process running 30 concurrent ``generate()`` calls at a random instant, then ``resume()`` in another
process: nothing the simulator created is lost, nothing is sent again, nothing is paid twice, and no
temporary download is left behind.

One unkilled run first measures how long the 30 calls take here (from the moment the child is ready, its
imports done, to its exit); the five kill instants are then drawn by a seeded generator, one in each fifth of
that run, so they fall while rows are being written, CreateTask calls are on the wire, tasks are polled, and
videos are downloaded and verified. The child is the user's kernel, the test process the one that resumes.
"""

from __future__ import annotations

import json
import random
import secrets
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import REFERENCE, child_env, integrity, spawn, tail, wait_for
from sim_helpers import quick

import seedance_nb as sn
from seedance_nb._media import sha256_file
from seedance_nb.simulator import Simulator

pytestmark = pytest.mark.slow

TRIALS = 5
CALLS = 30
SEED = 20260126

CHILD = f"""
import asyncio, pathlib, sys
import seedance_nb as sn

async def quick(seconds):
    await asyncio.sleep(min(seconds, 0.05))

async def main(prompt, callback, ready):
    log = sn.TaskLog()      # loads pandas: before the clock starts
    async with sn.Client() as client:
        pathlib.Path(ready).touch()
        await asyncio.gather(*(sn.generate(prompt=prompt, reference_images=[{REFERENCE!r}], duration=4,
                                           resolution="480p", callback_url=f"{{callback}}/{{i}}", new=True,
                                           client=client, log=log, progress=False, sleep=quick)
                               for i in range({CALLS})),
                             return_exceptions=True)

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
"""


@pytest.fixture(scope="module")
def key() -> str:
    return "ak_" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def sim(key: str) -> Iterator[Simulator]:
    with Simulator(latency="0.5-1.5", api_key=key, seed=SEED) as simulator:
        yield simulator


def run_child(sim: Simulator, key: str, home: Path, name: str, kill_after: float | None) -> dict[str, Any]:
    """Run the child; kill it ``kill_after`` seconds after it is ready (``None``: let it finish)."""
    ready = home.parent / f"{home.name}.ready"
    stderr = home.parent / f"{home.name}.stderr"
    args = [f"[Image1] kill {name}", callbacks(sim, name), str(ready)]
    child = spawn(CHILD, args, child_env(sim.base_url, key, home), stderr)
    try:
        wait_for(ready.exists, 60, "child ready")
        started = time.monotonic()
        if kill_after is None:
            code = child.wait(120)
            assert code == 0, tail(stderr)
            return {"ran_s": time.monotonic() - started}
        time.sleep(kill_after)
        finished_first = child.poll() is not None
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        return {"ran_s": time.monotonic() - started, "finished_before_kill": finished_first}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


@pytest.fixture(scope="module")
def instants(sim: Simulator, key: str, tmp_path_factory: pytest.TempPathFactory) -> list[float]:
    """One unkilled run measures the run; one kill instant is drawn in each fifth of it."""
    home = tmp_path_factory.mktemp("calibration") / "home"
    ran = run_child(sim, key, home, "calibration", None)["ran_s"]
    rows = sn.TaskLog(home / "tasks.sqlite").df()
    assert rows["status"].tolist() == ["success"] * CALLS  # the control: unkilled, everything succeeds
    rng = random.Random(SEED)
    return [ran * (k + rng.random()) / TRIALS for k in range(TRIALS)]


def callbacks(sim: Simulator, name: str) -> str:
    """Where the tasks of one run call back, ``/<call number>`` appended: each call's own request, told apart
    at the simulator and in the log, while the 30 share one prompt and so one render. Nothing listens there
    (the simulator answers its own 404), which costs nothing."""
    return f"{sim.root_url}/_callbacks/{name.replace(' ', '-')}"


def settled_tasks(sim: Simulator, prefix: str) -> list[Any]:
    """Tasks of this run at the simulator, once a CreateTask the child left on the wire has been handled."""
    last, stable_since, tasks = -1, time.monotonic(), []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        tasks = [t for t in sim.tasks() if (t.request.callback_url or "").startswith(prefix)]
        now = len(tasks)
        if now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since > 0.5:
            break
        time.sleep(0.05)
    return tasks


@pytest.mark.parametrize("trial", range(TRIALS))
async def test_kill_at_a_random_instant_then_resume(trial: int, sim: Simulator, key: str, instants: list[float],
                                                    tmp_path: Path) -> None:
    home = tmp_path / "home"
    name = f"trial {trial}"
    prefix = callbacks(sim, name) + "/"
    child = run_child(sim, key, home, name, instants[trial])
    created_before = len(settled_tasks(sim, prefix))
    media = home / "media"
    parts_before = len(list(media.glob(".part-*"))) if media.exists() else 0
    path = home / "tasks.sqlite"
    integrity_at_kill = integrity(path)  # before anything opens the log again
    log = sn.TaskLog(path)
    before = Counter(log.df()["status"])
    async with sn.Client(api_key=key, base_url=sim.base_url) as client:
        for _ in range(3):  # bounded: one round should do
            await sn.resume(client=client, log=log, progress=False, stale_after=0, sleep=quick, timeout=60)
            if not log.unfinished() and not log.missing_media():
                break
    tasks = [t for t in sim.tasks() if (t.request.callback_url or "").startswith(prefix)]
    rows = [log.get(local_id) or {} for local_id in log.df()["local_id"]]
    ids = Counter(r["task_id"] for r in rows if isinstance(r["task_id"], str))
    unknown = Counter(json.loads(r["payload"])["callback_url"] for r in rows if r["status"] == "unknown")
    lost = []
    for task in tasks:
        if task.task_id in ids:
            continue
        if unknown[task.request.callback_url] > 0:  # its answer never reached the log: an `unknown` row has it
            unknown[task.request.callback_url] -= 1
        else:
            lost.append(task.task_id)
    successes = [r for r in rows if r["status"] == "success"]
    unverified = [r["local_id"] for r in successes
                  if not (isinstance(r["video_path"], str) and Path(r["video_path"]).is_file()
                          and Path(r["video_path"]).stem == sha256_file(Path(r["video_path"])) == r["video_sha256"])]
    figures = {
        "kill_after_s": round(instants[trial], 2),
        "finished_before_kill": child["finished_before_kill"],
        "statuses_at_kill": dict(before),
        "part_files_at_kill": parts_before,
        "created": len(tasks),
        "lost": len(lost),
        "resubmitted": len(tasks) - created_before,
        "duplicates": sum(n - 1 for n in Counter(t.request.callback_url for t in tasks).values() if n > 1)
        + sum(n - 1 for n in ids.values() if n > 1),
        "in_flight": sum(r["status"] in ("submitting", "pending", "running") for r in rows),
        "unknown_rows": sum(r["status"] == "unknown" for r in rows),
        "success_without_verified_video": len(unverified),
        "part_files_after_resume": len(list(media.glob(".part-*"))) if media.exists() else 0,
        "integrity": (integrity_at_kill, integrity(path)),
    }
    log.close()
    print(f"kill trial {trial}: {figures}")
    assert figures["integrity"] == ("ok", "ok"), figures
    assert (figures["lost"], figures["resubmitted"], figures["duplicates"], figures["in_flight"]) == (0, 0, 0, 0), \
        figures
    assert figures["success_without_verified_video"] == 0, figures
    assert figures["part_files_after_resume"] == 0, figures
