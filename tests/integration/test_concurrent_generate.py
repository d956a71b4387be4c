"""Two processes generate 200 tasks each into one task log at the same time; all 400 rows arrive intact."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import seedance_nb as sn
from seedance_nb.simulator import Simulator

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent("""
    import asyncio, sys
    import seedance_nb as sn

    async def main(tag):
        gate = asyncio.Semaphore(16)
        async with sn.Client() as client:
            log = sn.TaskLog()
            async def one(i):
                async with gate:
                    gen = await sn.generate(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
                                            duration=4, resolution="480p", client=client, log=log, new=True,
                                            tags=(tag,), progress=False)
                    assert gen.status == "success", gen
            await asyncio.gather(*(one(i) for i in range(200)))

    asyncio.run(main(sys.argv[1]))
""")


def test_two_processes_generate_200_tasks_each_into_one_log(fake_key: str, tmp_path: Path) -> None:
    home = tmp_path / "runs"
    with Simulator(latency=0, api_key=fake_key) as sim:
        env = {**os.environ, "CRUN_BASE_URL": sim.base_url, "CRUN_API_KEY": fake_key, "SEEDANCE_NB_HOME": str(home)}
        children = [subprocess.Popen([sys.executable, "-c", CHILD, tag], env=env, stderr=subprocess.PIPE)
                    for tag in ("a", "b")]
        for child in children:
            _, err = child.communicate(timeout=240)
            assert child.returncode == 0, err.decode()[-2000:]
        assert sim.stats()["tasks_created"] == 400
    df = sn.TaskLog(home / "tasks.sqlite").df()
    assert len(df) == 400 and df["local_id"].is_unique and df["task_id"].is_unique
    assert (df["status"] == "success").all() and df["video_path"].notna().all()
    assert sorted(df["tags"].map(tuple).value_counts().to_dict().items()) == [(("a",), 200), (("b",), 200)]
    events = sn.TaskLog(home / "tasks.sqlite").events()
    assert (events.groupby("local_id")["status"].apply(list).map(lambda s: s[0] == "submitting")).all()
    with sqlite3.connect(home / "tasks.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
