"""Two processes write one task log at once, with identical and with distinct requests: no row is lost or
corrupt, an identical request is paid once however many callers ask for it, a distinct one once each.

Each process gathers 25 ``generate()`` calls of the SAME request and 5 of its own distinct requests, all at
once; a go file starts both together, and the simulator's latency (3 s) keeps the shared request in flight
while the 50 callers of both processes arrive.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import REFERENCE, child_env, integrity, spawn, tail, wait_for

import seedance_nb as sn
from seedance_nb.simulator import Simulator

pytestmark = pytest.mark.slow

SAME = 25
DISTINCT = 5
SHARED_PROMPT = "[Image1] shared request walks through the rain"

CHILD = f"""
import asyncio, json, pathlib, sys
import seedance_nb as sn

async def quick(seconds):
    await asyncio.sleep(min(seconds, 0.05))

async def call(prompt, client, log):
    try:
        gen = await sn.generate(prompt=prompt, reference_images=[{REFERENCE!r}], duration=4, resolution="480p",
                                client=client, log=log, progress=False, sleep=quick, timeout=60)
        return {{"prompt": prompt, "outcome": gen.status, "local_id": gen.local_id, "task_id": gen.task_id}}
    except sn.SeedanceError as exc:
        return {{"prompt": prompt, "outcome": type(exc).__name__, "local_id": getattr(exc, "local_id", None),
                 "task_id": getattr(exc, "task_id", None)}}

async def main(name, path, go, out, same, distinct):
    log = sn.TaskLog(path)
    async with sn.Client() as client:
        pathlib.Path(f"{{out}}.ready").touch()
        while not pathlib.Path(go).exists():
            await asyncio.sleep(0.005)
        prompts = [{SHARED_PROMPT!r}] * same + [f"[Image1] {{name}} distinct #{{i}}" for i in range(distinct)]
        results = await asyncio.gather(*(call(p, client, log) for p in prompts))
    pathlib.Path(out).write_text(json.dumps(results))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])))
"""


@pytest.fixture
def key() -> str:
    return "ak_" + secrets.token_hex(16)


@pytest.fixture
def sim(key: str) -> Iterator[Simulator]:
    with Simulator(latency=3.0, api_key=key, seed=5) as simulator:
        yield simulator


def run_pair(sim: Simulator, key: str, tmp_path: Path, same: int, distinct: int) -> tuple[list[dict[str, Any]], Path]:
    """Both processes, started together; returns every call's result and the log's path."""
    path = tmp_path / "home" / "tasks.sqlite"
    go = tmp_path / "go"
    env = child_env(sim.base_url, key, tmp_path / "home")
    outs = [tmp_path / f"{name}.json" for name in ("a", "b")]
    children = [spawn(CHILD, [out.stem, str(path), str(go), str(out), str(same), str(distinct)], env,
                      out.with_suffix(".stderr")) for out in outs]
    try:
        wait_for(lambda: all(Path(f"{out}.ready").exists() for out in outs), 60, "both processes ready")
        go.touch()
        for child, out in zip(children, outs, strict=True):
            code = child.wait(90)
            assert code == 0, tail(out.with_suffix(".stderr"))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(10)
    return [r for out in outs for r in json.loads(out.read_text())], path


def test_two_processes_one_log_identical_paid_once_distinct_once_each(sim: Simulator, key: str,
                                                                       tmp_path: Path) -> None:
    started = time.monotonic()
    results, path = run_pair(sim, key, tmp_path, SAME, DISTINCT)
    tasks = sim.tasks()
    created = Counter(t.request.prompt for t in tasks)
    rows = sn.TaskLog(path).df().to_dict("records")
    per_prompt = Counter(r["prompt"] for r in rows)
    shared = [r for r in results if r["prompt"] == SHARED_PROMPT]
    distinct = [r for r in results if r["prompt"] != SHARED_PROMPT]
    figures = {
        "calls": len(results),
        "shared_request_created": created[SHARED_PROMPT],
        "shared_request_rows": per_prompt[SHARED_PROMPT],
        "shared_calls_outcomes": dict(Counter(r["outcome"] for r in shared)),
        "shared_calls_task_ids": len({r["task_id"] for r in shared}),
        "distinct_requests": len({r["prompt"] for r in distinct}),
        "distinct_created_not_once": sum(created[p] != 1 for p in {r["prompt"] for r in distinct}),
        "distinct_rows_not_once": sum(per_prompt[p] != 1 for p in {r["prompt"] for r in distinct}),
        "tasks_missing_from_log": len({t.task_id for t in tasks} - {r["task_id"] for r in rows}),
        "rows_without_task_or_final": sum(not isinstance(r["task_id"], str) or r["status"] != "success"
                                          for r in rows),
        "integrity": integrity(path),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"shared log: {figures}")
    assert figures["integrity"] == "ok", figures
    assert figures["tasks_missing_from_log"] == 0 and figures["rows_without_task_or_final"] == 0, figures
    assert (figures["shared_request_created"], figures["shared_request_rows"]) == (1, 1), figures
    assert figures["shared_calls_outcomes"] == {"success": 2 * SAME} and figures["shared_calls_task_ids"] == 1, figures
    assert figures["distinct_requests"] == 2 * DISTINCT, figures
    assert (figures["distinct_created_not_once"], figures["distinct_rows_not_once"]) == (0, 0), figures


def test_identical_request_whose_answer_is_lost_is_not_paid_again(sim: Simulator, key: str, tmp_path: Path) -> None:
    """The first CreateTask of the shared request is created and charged, its answer dropped: the other 49
    callers, which were following it, must not send it again (it may exist; only resubmit() resends)."""
    sim.script("createtask", ["lost"])
    results, path = run_pair(sim, key, tmp_path, SAME, 0)
    created = sum(t.request.prompt == SHARED_PROMPT for t in sim.tasks())
    rows = sn.TaskLog(path).df().to_dict("records")
    figures = {
        "calls": len(results),
        "created": created,
        "outcomes": dict(Counter(r["outcome"] for r in results)),
        "rows": dict(Counter(r["status"] for r in rows)),
        "integrity": integrity(path),
    }
    print(f"shared log, lost answer: {figures}")
    assert figures["integrity"] == "ok", figures
    assert created == 1, figures
    assert figures["rows"] == {"unknown": 1}, figures
