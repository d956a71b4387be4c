"""generate_many() against the real simulator on loopback: several at once, failures kept in their slots."""

from __future__ import annotations

import asyncio

import pytest
from sim_helpers import QUICK, URL, request

import seedance_nb as sn
from seedance_nb.simulator import Simulator


async def test_three_requests_one_fails_the_others_go_on(sim: Simulator, client: sn.Client, log: sn.TaskLog) -> None:
    requests = [request(), request("[Image1] [simulate:failed]"),
                {"prompt": "[Image1] runs", "reference_images": [URL], "duration": 5, "resolution": "480p"}]
    seen: list[str] = []
    async with client:
        gens = await sn.generate_many(requests, client=client, log=log, concurrency=2,
                                      on_update=lambda info: seen.append(info.task_id), **QUICK)
        assert not client.http.is_closed  # a client given is the caller's to close
    assert isinstance(gens, sn.Generations) and len(gens) == 3
    ok, failed, other = gens
    assert isinstance(ok, sn.Generation) and isinstance(other, sn.Generation) and isinstance(failed, sn.Failed)
    assert (ok.status, ok.request.duration, other.status, other.request.duration) == ("success", 4, "success", 5)
    assert ok.video_path is not None and ok.video_path.is_file() and other.request.prompt == "[Image1] runs"
    assert isinstance(failed.error, sn.GenerationFailedError) and failed.code == 501 and failed.status == "failed"
    assert failed.local_id and failed.task_id and f"sn.resubmit({failed.local_id!r})" in failed.advice()
    assert sim.stats()["tasks_created"] == 3  # one CreateTask per request, none sent twice
    df = log.df().set_index("local_id")
    assert sorted(df["status"]) == ["failed", "success", "success"]
    assert df.loc[failed.local_id, "error_code"] == 501
    assert set(seen) == set(df["task_id"])
    page = gens._repr_html_()
    assert page.count("<video") == 2 and "GenerationFailedError 501" in page and "[simulate:failed]" in page
    assert "4s" in page and "5s" in page and "all: Seedance 2.0 Mini 480p" in page
    assert gens.summary().startswith("3 tasks · 2 success · 1 failed")


async def test_a_lost_answer_stays_unknown_in_its_slot_until_resubmitted(sim: Simulator, client: sn.Client,
                                                                        log: sn.TaskLog) -> None:
    sim.script("createtask", ["lost"])  # the first CreateTask is created and charged; its answer never comes
    async with client:
        gens = await sn.generate_many([request(), request("[Image1] waves")], client=client, log=log,
                                      concurrency=1, **QUICK)
        lost, ok = gens
        assert isinstance(lost, sn.Failed) and lost.status == "unknown" and ok.status == "success"
        assert lost.local_id and f"sn.resubmit({lost.local_id!r})" in lost.advice()
        assert sim.stats()["tasks_created"] == 2
        again = await sn.resubmit(lost.local_id, client=client, log=log, **QUICK)
    assert again.status == "success" and sim.stats()["tasks_created"] == 3


async def test_shared_fields_and_input_mistakes(sim: Simulator, client: sn.Client, log: sn.TaskLog) -> None:
    async with client:
        gens = await sn.generate_many([{"prompt": "[Image1] waves"}, {"prompt": "[Image1] x", "durration": 4},
                                       request("[Image1] waves", duration=8)], reference_images=[URL], duration=4,
                                      resolution="480p", client=client, log=log, **QUICK)
        first, bad, third = gens
        assert first.request.duration == 4 and first.request.reference_images == (URL,)
        assert third.request.duration == 4  # shared fields replace those of an R2VRequest
        assert isinstance(bad, sn.Failed) and bad.status == "invalid" and "durration" in bad.message
        assert sim.stats()["tasks_created"] == 1  # the two valid requests are identical: run once, shared
        assert first.local_id == third.local_id  # type: ignore[union-attr]
        with pytest.raises(sn.ValidationError, match="not a list of requests"):
            await sn.generate_many(request(), client=client, log=log)  # type: ignore[arg-type]
        with pytest.raises(sn.ValidationError) as caught:
            await sn.generate_many([request(), "a prompt"], client=client, log=log)  # type: ignore[list-item]
        assert caught.value.fields == ["requests[1]"]
        with pytest.raises(sn.ValidationError, match="concurrency"):
            await sn.generate_many([request()], concurrency=0, client=client, log=log)
    assert sim.stats()["tasks_created"] == 1


async def test_concurrency_bounds_the_tasks_in_flight(sim: Simulator, client: sn.Client, log: sn.TaskLog) -> None:
    seen: list[tuple[str, str]] = []
    async with client:
        gens = await sn.generate_many([request(f"[Image1] waves {n} times") for n in range(2)], client=client,
                                      log=log, concurrency=1, on_update=lambda i: seen.append((i.task_id, i.status)),
                                      **QUICK)
    assert [g.status for g in gens] == ["success"] * 2
    first, second = dict.fromkeys(task for task, _ in seen)
    ends = max(i for i, (task, _) in enumerate(seen) if task == first)
    starts = min(i for i, (task, _) in enumerate(seen) if task == second)
    assert seen[ends] == (first, "success") and ends < starts  # the second began after the first ended


async def test_interrupting_the_cell_leaves_every_sent_task_for_resume(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=1.5, api_key=fake_key) as slow:
        async with sn.Client(api_key=fake_key, base_url=slow.base_url) as client:
            batch = asyncio.ensure_future(sn.generate_many(
                [request(f"[Image1] waves {n} times") for n in range(3)], client=client, log=log, **QUICK))
            for _ in range(200):  # until all three were created
                await asyncio.sleep(0.02)
                if slow.stats()["tasks_created"] == 3 and all(log.df()["task_id"].notna()):
                    break
            batch.cancel()  # what Kernel > Interrupt does to the running cell
            with pytest.raises(asyncio.CancelledError):
                await batch
            assert sorted(log.df()["status"]) != ["success"] * 3
            report = await sn.resume(client=client, log=log, **QUICK)
        assert slow.stats()["tasks_created"] == 3
    assert sorted(report["status"]) == ["success"] * 3


async def test_without_a_client_one_is_built_from_the_environment(sim: Simulator, fake_key: str, log: sn.TaskLog,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUN_BASE_URL", sim.base_url)
    monkeypatch.setenv("CRUN_API_KEY", fake_key)
    gens = await sn.generate_many([request()], log=log, **QUICK)
    assert [g.status for g in gens] == ["success"] and sim.stats()["tasks_created"] == 1
