"""Killing the process at any instant loses no task the server created, and nothing is paid twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sim_helpers import quick

import seedance_nb as sn
from seedance_nb.simulator import Simulator

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    import seedance_nb as sn

    class KillBeforeSend(sn.Client):
        async def create_task(self, *args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)  # the row is committed; the request never leaves

    async def main():
        client = KillBeforeSend() if sys.argv[1] == "before-send" else sn.Client()
        async with client:
            await sn.generate(prompt="[Image1] walks", reference_images=["https://example.com/a.png"],
                              duration=4, resolution="480p", client=client, progress=False)

    asyncio.run(main())
""")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def sim(fake_key: str) -> Iterator[Simulator]:
    with Simulator(latency=3.0, api_key=fake_key, slow_delay=30.0) as simulator:
        yield simulator


def spawn(mode: str, sim: Simulator, key: str, home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CRUN_BASE_URL": sim.base_url, "CRUN_API_KEY": key, "SEEDANCE_NB_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-c", CHILD, mode], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def statuses(home: Path) -> list[str]:
    path = home / "tasks.sqlite"
    return sn.TaskLog(path).df()["status"].tolist() if path.exists() else []


async def resume(sim: Simulator, key: str, home: Path) -> object:
    async with sn.Client(api_key=key, base_url=sim.base_url) as client:
        return await sn.resume(client=client, log=sn.TaskLog(home / "tasks.sqlite"), progress=False, stale_after=0,
                               sleep=quick)



async def test_kill_while_waiting_then_resume_finishes_the_same_task(sim: Simulator, fake_key: str,
                                                                     home: Path) -> None:
    child = spawn("normal", sim, fake_key, home)
    wait_for(lambda: statuses(home) in (["pending"], ["running"]))
    child.send_signal(signal.SIGKILL)
    assert child.wait(10) == -signal.SIGKILL
    task_id = sn.TaskLog(home / "tasks.sqlite").df()["task_id"].iloc[0]
    summary = await resume(sim, fake_key, home)
    row = sn.TaskLog(home / "tasks.sqlite").df().iloc[0]
    assert (row["status"], row["task_id"]) == ("success", task_id)
    assert Path(row["video_path"]).is_file() and row["video_sha256"]
    assert sim.stats()["tasks_created"] == 1
    assert summary.iloc[0]["status"] == "success"  # type: ignore[attr-defined]


async def test_kill_between_commit_and_send(sim: Simulator, fake_key: str, home: Path) -> None:
    child = spawn("before-send", sim, fake_key, home)
    assert child.wait(30) == -signal.SIGKILL
    assert statuses(home) == ["submitting"]
    summary = await resume(sim, fake_key, home)
    assert statuses(home) == ["unknown"] and sim.stats()["tasks_created"] == 0
    assert "resubmit" in summary.iloc[0]["note"]  # type: ignore[attr-defined]


async def test_kill_between_send_and_answer(sim: Simulator, fake_key: str, home: Path) -> None:
    sim.script("createtask", ["slow"])  # created and charged; the answer is held back
    child = spawn("normal", sim, fake_key, home)
    wait_for(lambda: sim.stats()["tasks_created"] == 1)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    assert statuses(home) == ["submitting"]
    await resume(sim, fake_key, home)
    await resume(sim, fake_key, home)
    assert statuses(home) == ["unknown"]
    assert sim.stats()["tasks_created"] == 1  # nothing was sent again
