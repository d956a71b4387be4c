"""generate(), resume(), resubmit() against the real simulator on loopback."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from sim_helpers import QUICK, URL, request

import seedance_nb as sn
from seedance_nb.simulator import Simulator


async def test_generate_records_follows_and_archives(sim: Simulator, client: sn.Client, log: sn.TaskLog,
                                                     tmp_path: Path) -> None:
    import media_factory

    image = media_factory.image(tmp_path / "me.png")
    seen: list[str] = []
    req = sn.R2VRequest(prompt="[Image1] and [Image2] dance", reference_images=[image, URL], duration=4,
                        aspect_ratio="9:16", return_last_frame=True)
    async with client:
        gen = await sn.generate(req, client=client, log=log, on_update=lambda info: seen.append(info.status),
                                **QUICK)
    assert gen.status == "success" and gen.simulated and gen.credits and gen.credits > 0
    assert gen.video_path is not None and gen.video_path.is_file()
    assert gen.video_path.stem == hashlib.sha256(gen.video_path.read_bytes()).hexdigest()
    assert gen.last_frame_path is not None and gen.last_frame_path.suffix == ".png"
    assert seen[-1] == "success" and len(seen) == len(set(seen))
    row = log.get(gen.local_id)
    assert row is not None
    assert (row["status"], row["task_id"], row["width"], row["height"], row["has_audio"]) == (
        "success", gen.task_id, 720, 1280, True)
    assert row["video_duration_s"] == pytest.approx(4, abs=0.1) and row["simulated"] is True
    assert row["reference_images"][1] == URL and row["reference_images"][0].startswith("http://127.0.0.1")
    assert row["reference_files"] == ["me.png"]  # the upload URL means nothing later; the file name does
    events = log.events(gen.local_id)
    assert list(events["status"])[:2] == ["submitting", "pending"]
    assert sim.stats()["tasks_created"] == 1
    assert "<video" in gen._repr_html_() and "720p" in gen.caption()


async def test_on_update_may_be_a_coroutine_function(client: sn.Client, log: sn.TaskLog) -> None:
    seen: list[str] = []

    async def record(info: sn.TaskInfo) -> None:
        await asyncio.sleep(0)
        seen.append(info.status)

    async with client:
        await sn.generate(request(), client=client, log=log, on_update=record, **QUICK)
    assert seen and seen[-1] == "success"


async def test_identical_request_in_flight_is_followed_not_paid_twice(sim: Simulator, client: sn.Client,
                                                                      log: sn.TaskLog) -> None:
    async with client:
        a, b = await asyncio.gather(sn.generate(request(), client=client, log=log, **QUICK),
                                    sn.generate(request(), client=client, log=log, **QUICK))
        assert a.local_id == b.local_id and sim.stats()["tasks_created"] == 1
        c = await sn.generate(request(), client=client, log=log, **QUICK, new=True)
    assert c.local_id != a.local_id and sim.stats()["tasks_created"] == 2


async def test_lost_create_answer_is_unknown_never_resent_until_resubmit(sim: Simulator, client: sn.Client,
                                                                         log: sn.TaskLog) -> None:
    sim.script("createtask", ["lost"])
    async with client:
        with pytest.raises(sn.SubmissionUnknownError) as caught:
            await sn.generate(request(), client=client, log=log, **QUICK)
        local_id = caught.value.local_id
        assert local_id and "resubmit" in str(caught.value) and "may exist" in str(caught.value)
        assert log.get(local_id)["status"] == "unknown"  # type: ignore[index]
        summary = await sn.resume(client=client, log=log, **QUICK)
        assert sim.stats()["tasks_created"] == 1  # created once by the lost call, never again
        row = summary.set_index("local_id").loc[local_id]
        assert row["status"] == "unknown" and "resubmit" in row["note"]
        # An identical request is not attached to an unknown task either: the user decides.
        gen = await sn.resubmit(local_id, client=client, log=log, **QUICK)
    assert gen.status == "success" and gen.local_id == local_id and sim.stats()["tasks_created"] == 2
    assert list(log.events(local_id)["status"]).count("submitting") == 2


async def test_failed_and_moderated_tasks_raise_and_are_refunded(sim: Simulator, client: sn.Client,
                                                                 log: sn.TaskLog) -> None:
    async with client:
        before = await client.balance()
        with pytest.raises(sn.GenerationFailedError) as failed:
            await sn.generate(request("[Image1] [simulate:failed]"), client=client, log=log, **QUICK)
        with pytest.raises(sn.ModerationError) as moderated:
            await sn.generate(request("[Image1] [simulate:moderated]"), client=client, log=log, **QUICK)
        assert await client.balance() == before
    for exc, code in ((failed.value, 501), (moderated.value, 451)):
        row = log.get(exc.local_id)  # type: ignore[attr-defined]
        assert row is not None and row["status"] == "failed" and row["error_code"] == code
        assert row["video_path"] is None


async def test_rejections_are_recorded_and_unaffordable_tasks_are_not_sent(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=0, api_key=fake_key, balance=20.0) as poor:  # 480p 4 s costs 11.6, 720p 5 s 29
        async with sn.Client(api_key=fake_key, base_url=poor.base_url) as client:
            with pytest.raises(sn.InsufficientCreditsError) as caught:
                await sn.generate(request(resolution="720p", duration=5), client=client, log=log, **QUICK)
            assert "nothing was sent" in str(caught.value) and len(log) == 0
            poor.set_faults("createtask:451=1")
            poor_balance = await client.balance()
            with pytest.raises(sn.ModerationError):
                await sn.generate(request(duration=4, resolution="480p"), client=client, log=log, **QUICK)
        assert poor.stats()["tasks_created"] == 0 and poor_balance == 20.0
    assert log.df()["status"].tolist() == ["rejected"]


async def test_deadline_raises_with_task_id_and_resume_finishes(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=2.5, api_key=fake_key) as slow:
        async with sn.Client(api_key=fake_key, base_url=slow.base_url) as client:
            with pytest.raises(sn.GenerationTimeout) as caught:
                await sn.generate(request(), client=client, log=log, timeout=0.5, **QUICK)
            assert isinstance(caught.value, TimeoutError) and caught.value.task_id
            summary = await sn.resume(client=client, log=log, **QUICK)
        assert slow.stats()["tasks_created"] == 1
    row = summary.iloc[0]
    assert (row["task_id"], row["before"], row["status"]) == (caught.value.task_id, "pending", "success")
    assert Path(row["video_path"]).is_file()


async def test_expired_result_is_reported_by_resume_not_a_crash(sim: Simulator, client: sn.Client,
                                                                log: sn.TaskLog) -> None:
    async with client:
        gen = await sn.generate(request(), client=client, log=log, download=False, **QUICK)
        assert gen.video_path is None
        sim.expire_media()
        summary = await sn.resume(client=client, log=log, **QUICK)
    assert "expired" in summary.set_index("local_id").loc[gen.local_id, "note"]
    assert "expired" in log.get(gen.local_id)["media_error"]  # type: ignore[index]


async def test_polling_survives_flaky_taskinfo(sim: Simulator, client: sn.Client, log: sn.TaskLog) -> None:
    sim.script("taskinfo", ["500", "429", "drop"])  # in order, on the next TaskInfo requests
    sim.script("media", ["drop"])
    async with client:
        gen = await sn.generate(request(), client=client, log=log, **QUICK)
    assert gen.status == "success" and gen.video_path is not None and gen.video_path.is_file()
    assert sim.stats()["faults_injected"] == 4  # every scripted failure was met, and survived


def test_generate_sync_from_a_script_and_from_inside_a_running_loop(sim: Simulator, fake_key: str, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # generate_sync builds its own client, inside the loop that runs it (a client belongs to its loop).
    monkeypatch.setenv("CRUN_BASE_URL", sim.base_url)
    monkeypatch.setenv("CRUN_API_KEY", fake_key)
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    plain = sn.generate_sync(request(), log=log, **QUICK)
    assert plain.status == "success"

    async def cell() -> sn.Generation:  # what a notebook cell without await does
        return sn.generate_sync(request(), log=log, new=True, **QUICK)

    inside = asyncio.run(cell())
    assert inside.status == "success" and inside.local_id != plain.local_id
    assert sim.stats()["tasks_created"] == 2


async def test_use_simulator_points_the_default_client_at_it(tmp_path: Path) -> None:
    simulator = sn.use_simulator(latency=0)
    try:
        gen = await sn.generate(request(), **QUICK)
        assert gen.simulated and gen.status == "success"
        assert simulator.stats()["tasks_created"] == 1
        assert sn.TaskLog().df()["simulated"].tolist() == [True]
    finally:
        sn.stop_simulator()
    with pytest.raises(sn.ConfigError):
        sn.Client()
