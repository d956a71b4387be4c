"""rerun() against the real simulator: priced first, dry run sends nothing, the cap refuses, and a rerun sends
exactly the manifest's payloads (repeats included) into a new sweep whose report compares with the first."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from sim_helpers import QUICK, request

import seedance_nb as sn
from seedance_nb._report import report, rerun
from seedance_nb.simulator import Simulator


async def _first_sweep(client: sn.Client, log: sn.TaskLog) -> None:
    """Sweep s1: one request twice (repeats 1, 2), a longer one, and one that fails (501)."""
    plan = [(request(), 1), (request(), 2), (request(duration=8), 1), (request("[Image1] [simulate:failed]"), 1)]
    for req, repeat in plan:
        with contextlib.suppress(sn.GenerationFailedError):
            await sn.generate(req, client=client, log=log, sweep_id="s1", repeat=repeat, new=True, **QUICK)


def _counting(client: sn.Client) -> list[Any]:
    calls: list[Any] = []
    estimate = client.estimate

    async def counted(body: Any) -> sn.Estimate:
        calls.append(body)
        return await estimate(body)

    client.estimate = counted  # type: ignore[method-assign]
    return calls


async def test_rerun_prices_first_then_sends_the_same_payloads_into_a_new_sweep(
        sim: Simulator, client: sn.Client, log: sn.TaskLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with client:
        await _first_sweep(client, log)
        first = report(log.df(), tmp_path / "first", title="First", by="duration", log=log)
        manifest_path = first.parent / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        assert len(manifest["tasks"]) == 4
        created, tasks_in_log = sim.stats()["tasks_created"], len(log)
        calls = _counting(client)

        plan = await rerun(manifest_path, client=client, log=log, dry_run=True)
        assert "estimated 58 credits (2 shapes priced)" in capsys.readouterr().out  # 20 s at 2.9 credits/s (480p)
        assert len(calls) == 2  # once per distinct shape, not per task
        assert len(plan) == 4 and plan.attrs["estimated_credits"] == pytest.approx(58)
        assert [json.loads(p) for p in plan["payload"]] == [t["payload"] for t in manifest["tasks"]]
        assert (sim.stats()["tasks_created"], len(log)) == (created, tasks_in_log)  # a dry run sends nothing

        with pytest.raises(sn.BudgetExceededError, match="58 credits, above max_credits=50") as caught:
            await rerun(manifest_path, client=client, log=log, max_credits=50, progress=False)
        assert (caught.value.estimate, caught.value.cap) == (pytest.approx(58), 50)
        assert (sim.stats()["tasks_created"], len(log)) == (created, tasks_in_log)

        rows = await rerun(manifest_path, client=client, log=log, max_credits=200, concurrency=2, progress=False,
                           sleep=QUICK["sleep"])
    assert sim.stats()["tasks_created"] == created + 4 and len(rows) == 4  # repeats are paid, not followed
    new_id = rows.attrs["sweep_id"]
    assert new_id != "s1" and set(rows["sweep_id"]) == {new_id}
    sent = sorted(json.loads(log.get(i)["payload"])["input"]["duration"] for i in rows["local_id"])  # type: ignore[index]
    assert sent == [4, 4, 4, 8]
    payloads = sorted(json.dumps(json.loads(log.get(i)["payload"]), sort_keys=True)  # type: ignore[index]
                      for i in rows["local_id"])
    assert payloads == sorted(json.dumps(t["payload"], sort_keys=True) for t in manifest["tasks"])
    assert sorted(rows["status"]) == ["failed", "success", "success", "success"]
    assert sorted(rows["repeat"].tolist()) == [1, 1, 1, 2]
    assert int(rows.loc[rows.status == "failed", "error_code"].iloc[0]) == 501

    second = report(rows, tmp_path / "second", title="Rerun", by="duration", log=log, compare_to=manifest_path)
    text = second.read_text()
    assert "Side by side: First (left)" in text and text.count("<div class='pair'>") == 1 + 4  # header + 4 pairs
    again = json.loads((second.parent / "manifest.json").read_text())
    assert again["sweep_ids"] == [new_id] and again["compare_to"]["sweep_ids"] == ["s1"]
    assert sorted(t["payload_sha256"] for t in again["tasks"]) == sorted(t["payload_sha256"] for t in manifest["tasks"])


async def test_rerun_refuses_a_manifest_without_payloads(tmp_path: Path, client: sn.Client, log: sn.TaskLog) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"tasks": [{"local_id": "t1", "payload": {}}]}))
    async with client:
        with pytest.raises(sn.ValidationError, match="no task with a recorded payload"):
            await rerun(tmp_path, client=client, log=log)
        with pytest.raises(sn.ValidationError, match="concurrency"):
            await rerun(tmp_path, client=client, log=log, concurrency=0)
