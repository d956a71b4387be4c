"""A real kernel restart with the embedded simulator: the task outlives the kernel, as it would at Crun
(issue 9, rough edge 6).

Kernel 1 starts ``sn.use_simulator()`` and a ``generate``, which is interrupted while the task runs; the kernel
is then killed (``restart_kernel(now=True)``: no clean-up runs). Kernel 2 calls ``sn.use_simulator()`` again
(a new port, a new made-up key) and ``await sn.resume()``: the task is found where time has taken it, ends
``success``, and its video is archived, with one task created and paid for in all.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager, start_new_kernel
from kernel_cells import execute

import seedance_nb as sn

pytestmark = pytest.mark.slow

LATENCY = 6.0
COST = 11.6  # 480p, 4 s
QUICK = "async def quick(seconds):\n    await asyncio.sleep(min(seconds, 0.2))\n"
START = ("import asyncio, json, os\nimport seedance_nb as sn\n" + QUICK +
         f"sim = sn.use_simulator(latency={LATENCY})\nprint(json.dumps({{'pid': os.getpid(), 'url': sim.base_url}}))")
GENERATE = ("await sn.generate(prompt='[Image1] walks in the rain', reference_images=['https://example.com/a.png'], "
            "duration=4, resolution='480p', progress=False, sleep=quick)")
RESUME = ("report = await sn.resume(progress=False, sleep=quick)\n"
          "print(json.dumps({'pid': os.getpid(), 'url': sim.base_url, 'rows': report.to_dict('records'), "
          "'stats': sim.stats()}))")


def run(client: BlockingKernelClient, code: str, timeout: float = 30) -> dict[str, Any]:
    """Run a cell; return the JSON it printed last. Fails on an error in the cell."""
    printed, errors = execute(client, code, timeout)
    assert errors == [], errors
    result: dict[str, Any] = json.loads(printed.strip().splitlines()[-1])
    return result


def wait_for_status(log_path: Path, wanted: tuple[str, ...], seconds: float = 20) -> str:
    deadline = time.monotonic() + seconds
    while True:
        statuses = sn.TaskLog(log_path).df()["status"].tolist() if log_path.exists() else []
        if len(statuses) == 1 and statuses[0] in wanted:
            return str(statuses[0])
        assert time.monotonic() < deadline, f"the log shows {statuses}, not one task in {wanted}"
        time.sleep(0.05)


def interrupt_and_wait(manager: KernelManager, client: BlockingKernelClient, msg_id: str) -> str:
    """Interrupt the running cell; return the status of its reply."""
    manager.interrupt_kernel()
    deadline = time.monotonic() + 20
    while True:
        reply = client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return str(reply["content"]["status"])


def test_a_task_survives_a_hard_kernel_restart_and_resume_archives_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {name: value for name, value in os.environ.items() if not name.startswith("CRUN_")}
    env["SEEDANCE_NB_HOME"] = str(home)
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60, env=env)
    try:
        first = run(client, START)
        msg_id = client.execute(GENERATE)
        before = wait_for_status(home / "tasks.sqlite", ("pending", "running"))
        assert interrupt_and_wait(manager, client, msg_id) == "error"  # CancelledError: the cell stopped
        manager.restart_kernel(now=True)  # SIGKILL: no atexit, no stop(), no finally in kernel 1
        client.wait_for_ready(timeout=60)
        second = run(client, START)
        assert second["pid"] != first["pid"]  # a new process (and a new port, a new made-up key)
        resumed = run(client, RESUME)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    [row] = resumed["rows"]
    assert row["before"] in ("pending", "running") and before in ("pending", "running")
    assert (row["status"], row["note"]) == ("success", "")
    logged = sn.TaskLog(home / "tasks.sqlite").get(row["local_id"]) or {}
    assert logged["status"] == "success" and logged["task_id"] == row["task_id"]
    assert logged["video_path"] and Path(logged["video_path"]).stat().st_size > 1000  # archived
    stats = resumed["stats"]
    assert (stats["tasks_created"], stats["credits_charged"], stats["balance"]) == (1, COST, 100000 - COST)
