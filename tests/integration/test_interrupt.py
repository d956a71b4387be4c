"""Interrupting a wait says what happened: the task goes on at Crun, and how to finish it (issue 9, rough edge 1).

`await sn.generate(...)` and `sn.generate_sync(...)` behave alike: the wait stops, the row stays in the log for
`sn.resume()`, and the exception (CancelledError, or KeyboardInterrupt for the sync form) says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import seedance_nb as sn
from seedance_nb.simulator import Simulator

PROMPT = {"prompt": "[Image1] waits", "reference_images": ["https://example.com/a.png"], "duration": 4}


@pytest.fixture
def slow_sim(fake_key: str) -> Iterator[Simulator]:
    with Simulator(latency=30, api_key=fake_key) as simulator:
        yield simulator


async def _until_pending(log: sn.TaskLog) -> str:
    for _ in range(200):
        rows = log.df()
        if len(rows) and rows["status"].iloc[0] in ("pending", "running"):
            return str(rows["local_id"].iloc[0])
        await asyncio.sleep(0.05)
    raise AssertionError("the task never reached pending")


async def test_an_interrupted_await_says_the_task_goes_on_and_leaves_it_in_the_log(
        slow_sim: Simulator, fake_key: str, tmp_path: Path) -> None:
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    async with sn.Client(api_key=fake_key, base_url=slow_sim.base_url) as client:
        running = asyncio.create_task(sn.generate(**PROMPT, client=client, log=log, progress=False))
        local_id = await _until_pending(log)
        running.cancel()  # what Kernel > Interrupt does to an awaiting cell
        with pytest.raises(asyncio.CancelledError) as caught:
            await running
    message = str(caught.value)
    assert local_id in message and "goes on at Crun" in message and "sn.resume()" in message
    assert log.get(local_id)["status"] in ("pending", "running")  # type: ignore[index]
    assert slow_sim.stats()["tasks_created"] == 1


CELL = textwrap.dedent("""
    import asyncio, json, os, signal, sys, threading, time
    import seedance_nb as sn

    log = sn.TaskLog(sys.argv[1])

    def interrupt_when_pending():
        for _ in range(400):
            rows = log.df()
            if len(rows) and rows["status"].iloc[0] in ("pending", "running"):
                os.kill(os.getpid(), signal.SIGINT)  # what Kernel > Interrupt sends
                return
            time.sleep(0.05)

    async def cell():  # a notebook cell without await: a loop is running, generate_sync uses its own thread
        threading.Thread(target=interrupt_when_pending, daemon=True).start()
        try:
            sn.generate_sync(prompt="[Image1] waits", reference_images=["https://example.com/a.png"],
                             duration=4, log=log, progress=False)
        except KeyboardInterrupt as exc:
            print(json.dumps({"message": str(exc), "status": log.df()["status"].tolist()}))

    # Like ipykernel: a loop runs the cell, and SIGINT raises KeyboardInterrupt where the main thread is
    # (asyncio.run would turn it into a cancellation of the whole cell instead).
    asyncio.new_event_loop().run_until_complete(cell())
""")


def test_an_interrupted_generate_sync_behaves_like_an_interrupted_await(
        slow_sim: Simulator, fake_key: str, tmp_path: Path) -> None:
    env = {**os.environ, "CRUN_BASE_URL": slow_sim.base_url, "CRUN_API_KEY": fake_key,
           "SEEDANCE_NB_HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, "-c", CELL, str(tmp_path / "tasks.sqlite")], capture_output=True,
                         text=True, env=env, timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert "goes on at Crun" in seen["message"] and "sn.resume()" in seen["message"]
    assert seen["status"] in (["pending"], ["running"])
    assert slow_sim.stats()["tasks_created"] == 1
