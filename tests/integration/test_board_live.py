"""sn.board() against the real simulator: it follows tasks started elsewhere, and its buttons resume and resubmit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sim_helpers import QUICK, request

import seedance_nb as sn
from seedance_nb.notebook._board import Board
from seedance_nb.simulator import Simulator

IN_FLIGHT = ("submitting", "pending", "running")


@pytest.fixture
def slow_sim(fake_key: str) -> Iterator[Simulator]:
    """A simulator whose tasks run for a second: long enough for the board to see them in flight."""
    simulator = Simulator(latency=1.0, api_key=fake_key).start()
    try:
        yield simulator
    finally:
        simulator.stop()


async def closed(board: Board) -> None:
    """Close the board and check that nothing of it is left running on the loop."""
    board.close()
    await asyncio.sleep(0)
    assert not board.running
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_the_board_shows_a_task_started_in_another_cell(slow_sim: Simulator, fake_key: str,
                                                              log: sn.TaskLog) -> None:
    seen: list[tuple[str, bool]] = []

    def finished(board: Board) -> bool:
        seen.extend((str(r["status"]), r["local_id"] in board.actions) for r in board.rows)
        return bool(board.rows) and board.rows[0]["status"] == "success" and board.rows[0]["credits"] is not None

    async with sn.Client(api_key=fake_key, base_url=slow_sim.base_url, timeout=2.0) as client:
        board = sn.board(log, interval=0.05, client=client, **QUICK)
        assert board.running and board.rows == []
        other_cell = asyncio.create_task(sn.generate(request(), client=client, log=log, **QUICK))
        await board.wait_for(finished, timeout=20)  # the background polling saw it: no refresh() here
        gen = await other_cell
    assert {"pending", "running"} & {status for status, _ in seen}
    assert not [status for status, action in seen if status in IN_FLIGHT and action]  # followed here: no Resume
    row = board.rows[0]
    assert row["local_id"] == gen.local_id and row["credits"] == gen.credits and gen.credits
    assert f">{gen.credits:g}<" in board.html and ">success</span>" in board.html
    await closed(board)


async def test_resume_follows_a_task_that_nothing_here_follows(slow_sim: Simulator, fake_key: str,
                                                               log: sn.TaskLog) -> None:
    async with sn.Client(api_key=fake_key, base_url=slow_sim.base_url, timeout=2.0) as client:
        with pytest.raises(sn.GenerationTimeout) as caught:  # the waiting stopped (as a restart would stop it)
            await sn.generate(request(), client=client, log=log, timeout=0.2, **QUICK)
        local_id = caught.value.local_id
        assert local_id is not None and log.get(local_id)["status"] in IN_FLIGHT
        board = sn.board(log, interval=0.05, client=client, **QUICK)
        assert board.actions[local_id].description == "Resume"
        board.actions[local_id].click()
        assert board.actions[local_id].description == "Resuming…" and board.actions[local_id].disabled
        await board.settled()
    assert board.messages == [f"resume: {local_id} success"]
    assert board.rows[0]["status"] == "success" and local_id not in board.actions
    assert log.get(local_id)["video_path"] and slow_sim.stats()["tasks_created"] == 1  # followed, not resent
    await closed(board)


async def test_an_unknown_task_is_resubmitted_once_and_only_after_a_confirmation(
        sim: Simulator, client: sn.Client, log: sn.TaskLog) -> None:
    sim.script("createtask", ["lost"])  # created and charged at Crun, the answer never arrives
    async with client:
        with pytest.raises(sn.SubmissionUnknownError) as caught:
            await sn.generate(request(), client=client, log=log, **QUICK)
        local_id = str(caught.value.local_id)
        assert sim.stats()["tasks_created"] == 1
        board = sn.board(log, interval=0.05, client=client, **QUICK)
        assert board.actions[local_id].description == "Resubmit…"
        board.actions[local_id].click()
        await asyncio.sleep(0.3)  # a few polls: nothing was sent on the first click
        assert sim.stats()["tasks_created"] == 1 and board.messages == []
        assert board.actions[local_id].description == "Resubmit (may pay again)"
        board.actions[local_id].click()
        await board.settled()
    assert sim.stats()["tasks_created"] == 2  # exactly one new task
    assert len(board.messages) == 1 and board.messages[0].startswith(f"resubmit {local_id}: success")
    assert log.get(local_id)["status"] == "success" and local_id not in board.actions
    await closed(board)


async def test_resubmit_on_a_rejected_and_on_a_failed_row(sim: Simulator, client: sn.Client, log: sn.TaskLog) -> None:
    sim.script("createtask", ["402"])  # refused: nothing created, nothing paid
    async with client:
        with pytest.raises(sn.InsufficientCreditsError) as refused:
            await sn.generate(request(), client=client, log=log, **QUICK)
        with pytest.raises(sn.GenerationFailedError) as crashed:
            await sn.generate(request("[Image1] [simulate:failed]"), client=client, log=log, **QUICK)
        assert refused.value.code == 402
        board = sn.board(log, interval=0.05, client=client, **QUICK)
        rejected_id = next(r["local_id"] for r in board.rows if r["status"] == "rejected")
        failed_id = crashed.value.local_id  # type: ignore[attr-defined]
        assert board.actions[rejected_id].description == board.actions[failed_id].description == "Resubmit"
        assert "402 · " in board.html and "501 · " in board.html
        assert sim.stats()["tasks_created"] == 1
        board.actions[rejected_id].click()
        board.actions[failed_id].click()
        await board.settled()
    assert sim.stats()["tasks_created"] == 3
    assert log.get(rejected_id)["status"] == "success"
    assert len(board.messages) == 2
    assert any(m.startswith(f"resubmit {failed_id} failed: GenerationFailedError") for m in board.messages)
    assert any(m.startswith(f"resubmit {rejected_id}: success") for m in board.messages)
    assert "GenerationFailedError" in board.html  # the action's error stays in the board
    await closed(board)


async def test_the_board_sees_a_task_written_by_another_process(log: sn.TaskLog) -> None:
    board = sn.board(log, interval=0.05)
    code = ("import sys, seedance_nb as sn; sn.TaskLog(sys.argv[1]).import_records("
            "[{'local_id': 't-other', 'status': 'running', 'task_id': 'c0ffee', 'prompt': 'from elsewhere'}])")
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code, str(log.path)], check=True, timeout=60)
    await board.wait_for(lambda b: [r["local_id"] for r in b.rows] == ["t-other"], timeout=10)
    assert board.actions["t-other"].description == "Resume" and "from elsewhere" in board.html
    await closed(board)


async def test_rerunning_the_board_cell_leaves_one_poller_per_log(log: sn.TaskLog) -> None:
    before = len(asyncio.all_tasks())
    boards = [sn.board(log) for _ in range(5)]  # the cell run five times
    await asyncio.sleep(0)
    assert [board.running for board in boards] == [False, False, False, False, True]
    assert "took over" in boards[0]._heading.value  # the old table stays, frozen, and says why
    assert len(asyncio.all_tasks()) == before + 1
    other = sn.board(sn.TaskLog(log.path.parent / "other.sqlite"))  # another log keeps its own board
    await asyncio.sleep(0)
    assert boards[-1].running and other.running
    boards[-1].close()
    await closed(other)  # and nothing of any of them is left on the loop
