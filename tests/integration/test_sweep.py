"""sn.sweep() against the real simulator on loopback: failures become rows, a sweep run again continues,
an interrupted sweep is finished by sn.resume(), and 429s slow the sweep without losing a task."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sim_helpers import URL, quick

import seedance_nb as sn
from seedance_nb._sweep import sweep
from seedance_nb.simulator import Simulator

BASE = {"prompt": "[Image1] crosses the street", "reference_images": [URL], "duration": 4, "resolution": "480p"}
QUICK: dict[str, Any] = {"progress": False, "sleep": quick}


async def test_failures_and_refusals_become_rows_and_a_rerun_sends_nothing(sim: Simulator, client: sn.Client,
                                                                          log: sn.TaskLog) -> None:
    sim.script("createtask", ["451"])  # the first CreateTask is refused by moderation: no task is created
    prompts = ["[Image1] refused", "[Image1] [simulate:failed]", "[Image1] [simulate:moderated]", "[Image1] ok"]
    async with client:
        df = await sweep(BASE, prompts=prompts, concurrency=1, client=client, log=log, **QUICK)
        assert df.status.tolist() == ["rejected", "failed", "failed", "success"]
        assert df.error_code.tolist()[:3] == [451, 501, 451] and df.plan_index.tolist() == [0, 1, 2, 3]
        assert df.video_path.iloc[3].endswith(".mp4") and sim.stats()["tasks_created"] == 3
        again = await sweep(BASE, prompts=prompts, concurrency=1, client=client, log=log, **QUICK)
        assert again.local_id.tolist() == df.local_id.tolist() and sim.stats()["tasks_created"] == 3
        assert again.attrs["sweep_id"] == df.attrs["sweep_id"] == df.sweep_id.iloc[0]
        retried = await sweep(BASE, prompts=prompts, concurrency=2, retry_failed=True, client=client, log=log,
                              **QUICK)
    assert retried.status.tolist() == ["success", "failed", "failed", "success"]
    assert retried.local_id.tolist()[3] == df.local_id.iloc[3] and sim.stats()["tasks_created"] == 6
    assert len(log.df().query("sweep_id == @df.sweep_id.iloc[0]")) == 7  # earlier tries stay in the log


@pytest.fixture
def slow_sim(fake_key: str) -> Iterator[Simulator]:
    with Simulator(latency=3, api_key=fake_key) as simulator:
        yield simulator


async def _until_all_sent(log: sn.TaskLog, count: int) -> None:
    for _ in range(200):
        rows = log.df()
        if len(rows) == count and rows.task_id.notna().all():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the sweep never sent its tasks")


async def test_an_interrupted_sweep_is_finished_by_resume_and_continued(slow_sim: Simulator, fake_key: str,
                                                                        log: sn.TaskLog) -> None:
    grid: dict[str, list[Any]] = {"aspect_ratio": ["16:9", "9:16"], "duration": [4, 5]}
    async with sn.Client(api_key=fake_key, base_url=slow_sim.base_url, timeout=2.0) as client:
        running = asyncio.ensure_future(sweep(BASE, grid=grid, concurrency=4, client=client, log=log, **QUICK))
        await _until_all_sent(log, 4)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert set(log.df().status) <= {"pending", "running"}  # every submitted task is in the log
        report = await sn.resume(client=client, log=log, progress=False, sleep=quick)
        assert report.status.tolist() == ["success"] * 4
        df = await sweep(BASE, grid=grid, concurrency=4, client=client, log=log, **QUICK)
    assert df.status.tolist() == ["success"] * 4 and slow_sim.stats()["tasks_created"] == 4
    assert sorted(df.local_id) == sorted(log.df().local_id)


async def test_a_sweep_interrupted_again_is_followed_not_resent(slow_sim: Simulator, fake_key: str,
                                                                log: sn.TaskLog) -> None:
    async with sn.Client(api_key=fake_key, base_url=slow_sim.base_url, timeout=2.0) as client:
        running = asyncio.ensure_future(sweep(BASE, repeats=3, client=client, log=log, **QUICK))
        await _until_all_sent(log, 3)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        df = await sweep(BASE, repeats=3, client=client, log=log, **QUICK)  # follows the three in flight
    assert df.status.tolist() == ["success"] * 3 and df.repeat.tolist() == [0, 1, 2]
    assert slow_sim.stats()["tasks_created"] == 3 and df.local_id.nunique() == 3  # repeats are not merged


async def test_rate_limits_slow_the_sweep_without_losing_a_task(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=0, api_key=fake_key, faults="createtask:429=0.3", seed=4) as simulator:
        async with sn.Client(api_key=fake_key, base_url=simulator.base_url, timeout=2.0) as client:
            started = time.monotonic()
            df = await sweep(BASE, grid={"duration": [4, 5, 6]}, repeats=2, concurrency=3, client=client,
                             log=log, **QUICK)
            took = time.monotonic() - started
        assert df.status.tolist() == ["success"] * 6 and simulator.stats()["tasks_created"] == 6
        refused = int((log.df().error_code == 429).sum())
        assert refused >= 1 and took >= 1.0  # each 429 paused the sweep for Retry-After (1 s)


async def test_a_worker_sends_its_next_task_while_the_last_video_is_archived(sim: Simulator, client: sn.Client,
                                                                            log: sn.TaskLog,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from seedance_nb._sweep import _run

    real_archive, seen = _run.archive_result, []

    async def slow_archive(job: Any, local_id: str, info: Any) -> None:
        for _ in range(100):  # hold the first video until the next task exists at Crun (at most 5 s)
            if sim.stats()["tasks_created"] >= 2 or seen:
                break
            await asyncio.sleep(0.05)
        seen.append(sim.stats()["tasks_created"])
        await real_archive(job, local_id, info)

    monkeypatch.setattr(_run, "archive_result", slow_archive)
    async with client:
        df = await sweep(BASE, repeats=2, concurrency=1, client=client, log=log, **QUICK)
    assert seen[0] == 2  # the one worker had sent task 2 while task 1's video was still being fetched
    assert df.status.tolist() == ["success", "success"] and df.video_path.str.endswith(".mp4").all()


async def test_a_sweep_interrupted_while_archiving_leaves_the_video_to_resume(sim: Simulator, client: sn.Client,
                                                                             log: sn.TaskLog,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from seedance_nb._sweep import _run

    archiving = asyncio.Event()

    async def stuck_archive(job: Any, local_id: str, info: Any) -> None:
        archiving.set()
        await asyncio.sleep(3600)

    monkeypatch.setattr(_run, "archive_result", stuck_archive)
    async with client:
        running = asyncio.ensure_future(sweep(BASE, concurrency=1, client=client, log=log, **QUICK))
        await asyncio.wait_for(archiving.wait(), 10)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        row = log.df().iloc[0]
        assert row.status == "success" and pd.isna(row.video_path)  # paid and done, the video not yet fetched
        report = await sn.resume(client=client, log=log, progress=False)
    assert report.video_path.iloc[0].endswith(".mp4") and log.df().video_path.iloc[0] == report.video_path.iloc[0]
    assert sim.stats()["tasks_created"] == 1
