"""generate(), follow, resume(), resubmit() on httpx.MockTransport and a fake clock: minutes of task time in no time.

The fake Crun and clock are in ``tests/fake_crun.py``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fake_crun import PROMPT, FakeClock, FakeCrun, run_options

import seedance_nb as sn
from seedance_nb.tasklog._ledger import Ledger


async def test_generate_follows_a_long_task_to_its_archived_video_in_fake_time(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    gen = await sn.generate(**PROMPT, **run_options(fake_client, fake_log, fake_clock))
    assert gen.status == "success" and gen.video_path is not None and gen.video_path.is_file()
    assert sum(fake_clock.sleeps) >= fake_crun.runs_s  # 150 s passed on the fake clock only
    assert fake_crun.calls.count("/client/job/CreateTask") == 1
    assert 3 <= fake_crun.calls.count("/client/job/TaskInfo") <= 20  # the schedule polls sparsely
    assert max(fake_clock.sleeps) <= 1.0  # between polls the wait ticks each second: the status line moves
    row = fake_log.get(gen.local_id)
    assert row is not None and row["status"] == "success" and row["elapsed_s"] == pytest.approx(fake_crun.runs_s)
    assert list(fake_log.events(gen.local_id)["status"]) == ["submitting", "pending", "running", "success", "success"]


async def test_the_deadline_raises_generation_timeout_and_leaves_the_task_resumable(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    with pytest.raises(sn.GenerationTimeout) as caught:
        await sn.generate(**PROMPT, timeout=60, **run_options(fake_client, fake_log, fake_clock))
    assert caught.value.task_id == "task-1"
    assert fake_clock.t - 1000.0 <= 60  # it never waited past the deadline
    assert fake_log.df()["status"].tolist() == ["running"]
    fake_clock.t += 200  # later, the task has finished at Crun
    report = await sn.resume(**run_options(fake_client, fake_log, fake_clock))
    assert report["status"].tolist() == ["success"] and Path(report["video_path"][0]).is_file()
    assert fake_crun.calls.count("/client/job/CreateTask") == 1


async def test_retries_never_wait_past_the_jobs_deadline(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    fake_crun.info_status = 502  # TaskInfo fails on every try: each poll retries with backoff
    with pytest.raises(sn.GenerationTimeout):
        await sn.generate(**PROMPT, timeout=4, **run_options(fake_client, fake_log, fake_clock))
    assert fake_clock.t - 1000.0 <= 4  # neither the polls nor the retries inside one poll waited past it


async def test_an_identical_request_in_flight_is_followed_not_paid_twice(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    first = Ledger(fake_log).begin({"model": "bytedance/seedance2-0-mini-r2v", "input": {}}, "other")  # unrelated row
    req = sn.R2VRequest(**PROMPT)
    lid = Ledger(fake_log).begin(req.to_payload(), req.request_hash())
    Ledger(fake_log).mark_pending(lid, "task-9")
    fake_crun.created["task-9"] = fake_clock.t
    gen = await sn.generate(req, **run_options(fake_client, fake_log, fake_clock))
    assert gen.local_id == lid and gen.task_id == "task-9" and gen.status == "success"
    assert "/client/job/CreateTask" not in fake_crun.calls and first != lid


async def test_a_lost_create_answer_is_unknown_until_resubmitted_on_purpose(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    fake_crun.create = lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("lost", request=request))
    with pytest.raises(sn.SubmissionUnknownError) as caught:
        await sn.generate(**PROMPT, **run_options(fake_client, fake_log, fake_clock))
    local_id = caught.value.local_id
    assert fake_log.get(local_id)["status"] == "unknown"  # type: ignore[index]
    report = await sn.resume(**run_options(fake_client, fake_log, fake_clock))
    assert report["status"].tolist() == ["unknown"]  # listed, never resent
    assert fake_crun.calls.count("/client/job/CreateTask") == 1
    fake_crun.create = None
    gen = await sn.resubmit(local_id, **run_options(fake_client, fake_log, fake_clock))
    assert gen.status == "success" and fake_crun.calls.count("/client/job/CreateTask") == 2
    statuses = fake_log.events(local_id)["status"].tolist()
    assert statuses[:3] == ["submitting", "unknown", "submitting"] and statuses[-1] == "success"


async def test_a_failed_task_raises_with_its_ids_and_is_recorded(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    def failed(task_id: str) -> httpx.Response:
        return fake_crun.ok({"task_id": task_id, "status": "failed",
                        "result": {"code": 501, "message": "Generation failed: busy", "media_urls": []}})

    fake_crun.task_info = failed  # type: ignore[method-assign]
    with pytest.raises(sn.GenerationFailedError) as caught:
        await sn.generate(**PROMPT, **run_options(fake_client, fake_log, fake_clock))
    assert caught.value.task_id == "task-1"  # type: ignore[attr-defined]
    row = fake_log.get(caught.value.local_id)  # type: ignore[attr-defined]
    assert row is not None and (row["status"], row["error_code"]) == ("failed", 501)


async def test_on_update_sees_every_new_status(fake_client: sn.Client, fake_log: sn.TaskLog,
                                               fake_clock: FakeClock) -> None:
    seen: list[str] = []

    async def on_update(info: sn.TaskInfo) -> None:
        seen.append(info.status)

    await sn.generate(**PROMPT, on_update=on_update, **run_options(fake_client, fake_log, fake_clock))
    assert seen == ["running", "success"]



def test_the_remaining_time_says_when_it_is_only_a_guess() -> None:
    from seedance_nb._generate.follow import ExpectedTime

    assert ExpectedTime([]).left(10) is None and "no estimate yet" in ExpectedTime([]).note
    assert ExpectedTime([100.0]).left(30) == 70 and ExpectedTime([100.0]).note == "a guess from 1 past task"
    assert ExpectedTime([90.0, 100.0, 110.0]).note == ""  # three of the same shape: no longer called a guess


async def test_the_line_says_when_crun_stops_answering_and_keeps_ticking(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    from seedance_nb.notebook import ProgressLine

    shown: list[str] = []

    class Recorded(ProgressLine):
        def _show(self, text: str, *, final: bool) -> None:
            super()._show(text, final=final)
            shown.append(text)

    fake_crun.info_status = 503  # Crun stops answering TaskInfo as soon as the task exists
    options = {**run_options(fake_client, fake_log, fake_clock), "progress": Recorded(mode="off")}
    with pytest.raises(sn.GenerationTimeout):
        await sn.generate(**PROMPT, timeout=120, **options)
    trouble = [text for text in shown if "no answer from Crun for" in text]
    assert trouble and "ServerError" in trouble[-1] and "sn.resume()" in trouble[-1]
    assert len({text.split(" · ")[1] for text in trouble}) >= 30  # the elapsed time moved on while it failed
    fake_crun.info_status = None  # Crun answers again
    shown.clear()
    report = await sn.resume(**{**options, "progress": Recorded(mode="off")})
    assert report["status"].tolist() == ["success"]
    assert not any("no answer from Crun" in text for text in shown)


@pytest.mark.parametrize("full_decode", [False, True])
async def test_full_decode_reaches_the_archive(fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock,
                                               monkeypatch: pytest.MonkeyPatch, full_decode: bool) -> None:
    from seedance_nb._generate import follow as follow_module

    seen: list[bool] = []
    real = follow_module.archive

    async def recording(*args: object, **kwargs: object) -> object:
        if kwargs.get("kind") == "video":
            seen.append(bool(kwargs.get("full_decode")))
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(follow_module, "archive", recording)
    gen = await sn.generate(**PROMPT, full_decode=full_decode, **run_options(fake_client, fake_log, fake_clock))
    assert gen.video_path is not None and seen == [full_decode]
