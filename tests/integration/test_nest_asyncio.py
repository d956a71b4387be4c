"""seedance_nb works in a kernel where another library already applied nest-asyncio (issue 9, rough edge 8).

The toolkit never applies it (it is archived, breaks on Python 3.12+, and made queued cells vanish on
ipykernel 7): `await sn.generate(...)` runs on the kernel's loop, `sn.generate_sync(...)` on a private loop
thread, and the form's Generate button schedules `generate()` as a task on the kernel's loop. Many users
arrive with nest-asyncio applied by some other package, so a real kernel applies it first and runs all
three, and a cell queued after them still runs. nest-asyncio is a test-only dependency.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_cells import execute

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
FORM_CELLS = [
    CELLS[0],
    "import seedance_nb as sn\n"
    "f = sn.form(prompt='[Image1] waves', reference_images=['https://example.com/a.png'], duration=4)\n"
    "f.generate_button.click()  # what a click in the browser does: the callback runs on the kernel's loop\n"
    "print('clicked:', f.generate_button.description)",
    "print('free while it runs:', f.running)  # this cell ran while the task was still being followed",
    "await f.idle()\nprint('form:', f.generation.status, '<video' in f.result_html, f.generate_button.description)",
    CELLS[-1],
]


@pytest.mark.slow
def test_await_and_sync_generate_work_after_nest_asyncio_was_applied(fake_key: str, tmp_path: Path) -> None:
    text, errors, created = _run_on_simulator(CELLS, fake_key, tmp_path)
    assert errors == [] and created == 2
    assert "await: success" in text and "sync: success" in text and "after: still running cells" in text


@pytest.mark.slow
def test_the_form_generates_after_nest_asyncio_was_applied(fake_key: str, tmp_path: Path) -> None:
    text, errors, created = _run_on_simulator(FORM_CELLS, fake_key, tmp_path)
    assert errors == [] and created == 1
    assert "clicked: Cancel waiting" in text and "free while it runs: True" in text
    assert "form: success True Generate" in text and "after: still running cells" in text


def _run_on_simulator(cells: list[str], fake_key: str, tmp_path: Path) -> tuple[str, list[str], int]:
    """Run ``cells`` in a new ipykernel talking to a new simulator; what they printed, raised, and created."""
    with Simulator(latency=0.3, api_key=fake_key) as sim:
        env = {**os.environ, "CRUN_BASE_URL": sim.base_url, "CRUN_API_KEY": fake_key,
               "SEEDANCE_NB_HOME": str(tmp_path / "home")}
        manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60, env=env)
        printed: list[str] = []
        errors: list[str] = []
        try:
            for cell in cells:
                text, raised = execute(client, cell)
                printed.append(text)
                errors += raised
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
        return "".join(printed), errors, int(sim.stats()["tasks_created"])
