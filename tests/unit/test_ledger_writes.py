"""Ledger writes from a job: SQL on the loop when the log is free, durable ones fsync'd in a worker thread
(one fsync for every commit made before it), and a worker thread when another writer holds the log."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sim_helpers import ticking

import seedance_nb as sn
from seedance_nb._generate.job import open_job
from seedance_nb.tasklog import _db

KEY, NOWHERE = "ak_" + "0" * 32, "http://127.0.0.1:9/api/v1"  # no request is sent
PAYLOAD = {"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "[Image1] waves"}}


async def test_writes_run_on_the_loop_and_concurrent_durable_ones_share_fsyncs(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    syncs: list[str] = []
    real = _db.LogDatabase.sync_wal

    def counted(self: _db.LogDatabase) -> None:
        syncs.append(threading.current_thread().name)
        real(self)

    monkeypatch.setattr(_db.LogDatabase, "sync_wal", counted)
    async with sn.Client(api_key=KEY, base_url=NOWHERE) as client, \
            open_job(client=client, log=log, progress=False) as job:
        ids = await asyncio.gather(*(job.write(job.ledger.begin, PAYLOAD, f"h{i}") for i in range(20)))
        await job.write(job.ledger.record_status, ids[0], "running")  # not durable: no fsync owed
    assert len(set(ids)) == 20 and [log.get(i)["status"] for i in ids] == ["running"] + ["submitting"] * 19
    assert 1 <= len(syncs) < 20  # a commit made while an fsync runs waits for the next one, shared
    assert all(name != threading.main_thread().name for name in syncs)  # never on the loop's thread
    assert log._db._synced == log._db._commits == 20


async def test_a_write_waits_in_a_thread_while_another_writer_holds_the_log(tmp_path: Path) -> None:
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    holder = sqlite3.connect(tmp_path / "tasks.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another kernel in the middle of a write
    asyncio.get_running_loop().call_later(0.5, holder.execute, "COMMIT")
    try:
        async with ticking(0.02) as ticks, sn.Client(api_key=KEY, base_url=NOWHERE) as client, \
                open_job(client=client, log=log, progress=False) as job:
            local_id = await job.write(job.ledger.begin, PAYLOAD, "h1")
    finally:
        holder.close()
    assert log.get(local_id)["status"] == "submitting"
    assert ticks.count >= 10  # the loop kept running while the write waited for the lock
