"""seedance_nb works in a kernel where another library already applied nest-asyncio (issue 9, rough edge 8).

The toolkit never applies it (it is archived, breaks on Python 3.12+, and made queued cells vanish on
ipykernel 7): `await sn.generate(...)` runs on the kernel's loop, `sn.generate_sync(...)` on a private loop
thread. Many users arrive with it applied by some other package, so a real kernel applies it first and runs
both forms, and a cell queued after them still runs. nest-asyncio is a test-only dependency.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

from seedance_nb.simulator import Simulator

CELLS = [
    "import nest_asyncio\nnest_asyncio.apply()  # what some other library did before seedance_nb was imported",
    "import seedance_nb as sn\n"
    "gen = await sn.generate(prompt='[Image1] waves', reference_images=['https://example.com/a.png'], "
    "duration=4, progress=False)\nprint('await:', gen.status)",
    "print('sync:', sn.generate_sync(prompt='[Image1] waves', reference_images=['https://example.com/a.png'], "
    "duration=4, new=True, progress=False).status)",
    "print('after: still running cells')",
]


@pytest.mark.slow
def test_await_and_sync_generate_work_after_nest_asyncio_was_applied(fake_key: str, tmp_path: Path) -> None:
    with Simulator(latency=0.3, api_key=fake_key) as sim:
        env = {**os.environ, "CRUN_BASE_URL": sim.base_url, "CRUN_API_KEY": fake_key,
               "SEEDANCE_NB_HOME": str(tmp_path / "home")}
        text, errors = _run_cells(env)
        assert sim.stats()["tasks_created"] == 2
    assert errors == []
    assert "await: success" in text and "sync: success" in text and "after: still running cells" in text


def _run_cells(env: dict[str, str]) -> tuple[str, list[str]]:
    """Run CELLS in a new ipykernel with ``env``; return what they printed and the errors they raised."""
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60, env=env)
    printed: list[str] = []
    errors: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            errors.append(f"{message['content']['ename']}: {message['content']['evalue']}")

    try:
        for cell in CELLS:
            client.execute_interactive(cell, output_hook=collect, timeout=90)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(printed), errors
