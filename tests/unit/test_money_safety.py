"""Regression tests of issue 8: no way to pay twice or to lose a paid result, on a fake Crun and a fake clock.

Each test failed before its fix (the defect's number in the issue is in its name's docstring).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_crun import PROMPT, FakeClock, FakeCrun, run_options

import seedance_nb as sn
from seedance_nb.tasklog._ledger import Ledger

KEYISH = "ak_" + "Q7" * 16  # shaped like a Crun key; found inside an answer


def lose_answers(crun: FakeCrun) -> None:
    """CreateTask creates (and charges) the task, then the answer is lost on the way back."""
    def create(request: httpx.Request) -> httpx.Response:
        crun.created[f"task-{len(crun.created) + 1}"] = crun.clock.t
        raise httpx.ReadTimeout("answer lost", request=request)

    crun.create = create


async def test_identical_requests_while_an_answer_is_lost_are_not_paid_twice(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    """Defect 1: the second caller used to send the same request again once the first row became unknown."""
    lose_answers(fake_crun)
    options = run_options(fake_client, fake_log, fake_clock)
    first, second = await asyncio.gather(sn.generate(**PROMPT, **options), sn.generate(**PROMPT, **options),
                                         return_exceptions=True)
    assert isinstance(first, sn.SubmissionUnknownError) and isinstance(second, sn.SubmissionUnknownError)
    assert len(fake_crun.created) == 1
    with pytest.raises(sn.SubmissionUnknownError, match=r"resubmit.*new=True") as again:
        await sn.generate(**PROMPT, **options)  # later, the same request: still blocked, the task may exist
    assert again.value.local_id == first.local_id and len(fake_crun.created) == 1
    fake_crun.create = None
    paid = await sn.generate(**PROMPT, new=True, **options)  # the user's explicit choice
    assert paid.status == "success" and len(fake_crun.created) == 2


async def test_a_row_whose_process_died_while_sending_blocks_its_twin(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    """Defect 1, the crash case: a twin left ``submitting`` used to be paid again after 30 s of waiting."""
    req = sn.R2VRequest(**PROMPT)
    Ledger(fake_log).begin(req.to_payload(), req.request_hash())  # its process died before the answer
    with pytest.raises(sn.SubmissionUnknownError, match="may exist"):
        await sn.generate(req, **run_options(fake_client, fake_log, fake_clock))
    assert fake_crun.created == {}


async def test_a_failed_download_of_a_paid_video_is_retried_by_resume(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun,
        fake_mp4: bytes) -> None:
    """Defect 3: a success whose download failed was never tried again, and Crun deletes it in 14 days."""
    drops = {"left": 3}
    serve = fake_crun.__call__

    def flaky_cdn(request: httpx.Request) -> httpx.Response:
        if request.url.host == "cdn.crun.test" and drops["left"] > 0:
            drops["left"] -= 1
            raise httpx.RemoteProtocolError("dropped", request=request)
        return serve(request)

    transport_client = sn.Client(api_key="ak_" + "0" * 32, base_url=str(fake_client.base_url),
                                 transport=httpx.MockTransport(flaky_cdn), sleep=fake_clock.sleep)
    async with transport_client as client:
        gen = await sn.generate(**PROMPT, **run_options(client, fake_log, fake_clock))
        assert gen.status == "success" and gen.video_path is None
        row = fake_log.get(gen.local_id) or {}
        assert row["media_error"]  # three drops: the archive gave up for now
        report = await sn.resume(**run_options(client, fake_log, fake_clock))
    assert report["status"].tolist() == ["success"] and Path(report["video_path"][0]).is_file()
    events = fake_log.events(gen.local_id)
    assert events["detail"].str.contains("download attempt 1 failed").any()  # a note per attempt
    assert len(fake_crun.created) == 1


@pytest.mark.parametrize("answer", [{"status": None}, {"status": "queued"}, {"status": "unknown"}])
async def test_a_task_with_an_odd_status_is_followed_not_lost(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun,
        answer: dict[str, Any]) -> None:
    """Defect 4: no status turned the row `unknown` (so resubmit re-sent it); `queued` made resume skip it."""
    normal = fake_crun.task_info
    fake_crun.task_info = lambda task_id: fake_crun.ok({"task_id": task_id, **answer})  # type: ignore[method-assign]
    with pytest.raises(sn.GenerationTimeout) as caught:
        await sn.generate(**PROMPT, timeout=30, **run_options(fake_client, fake_log, fake_clock))
    local_id = caught.value.local_id
    row = fake_log.get(local_id) or {}
    assert row["task_id"] == "task-1" and row["status"] != "unknown"
    with pytest.raises(sn.SeedanceError, match="exists at Crun"):
        await sn.resubmit(local_id, **run_options(fake_client, fake_log, fake_clock))
    fake_crun.task_info = normal  # type: ignore[method-assign]
    fake_clock.t += 300
    report = await sn.resume(**run_options(fake_client, fake_log, fake_clock))
    assert report["status"].tolist() == ["success"] and len(fake_crun.created) == 1


async def test_resubmit_resends_a_known_task_only_when_forced_and_warned(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    """Defect 4: `resubmit()` never resends a task that has a task id unless told explicitly, with a warning."""
    gen = await sn.generate(**PROMPT, **run_options(fake_client, fake_log, fake_clock))
    with pytest.raises(sn.SeedanceError, match="force=True"):
        await sn.resubmit(gen.local_id, **run_options(fake_client, fake_log, fake_clock))
    with pytest.warns(UserWarning, match="paid for twice"):
        again = await sn.resubmit(gen.local_id, force=True, **run_options(fake_client, fake_log, fake_clock))
    assert again.status == "success" and len(fake_crun.created) == 2


async def test_a_key_shaped_word_in_an_answer_is_recorded_redacted_not_refused(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    """Defect 5: the key guard raised ValueError on a paid task's answer, so the row stayed pending forever."""
    normal = fake_crun.task_info

    def answer(task_id: str) -> httpx.Response:
        data = normal(task_id).json()["data"]
        data["provider"] = f"echo {KEYISH}"
        if data.get("result"):
            data["result"]["media_urls"] = [f"https://cdn.crun.test/{task_id}.mp4?sig={KEYISH}"]
        return fake_crun.ok(data)

    fake_crun.task_info = answer  # type: ignore[method-assign]
    gen = await sn.generate(**PROMPT, **run_options(fake_client, fake_log, fake_clock))
    assert gen.status == "success" and gen.video_path is not None
    row = fake_log.get(gen.local_id) or {}
    assert KEYISH not in str(row) and "[redacted key]" in row["video_url"]
    assert KEYISH.encode() not in Path(fake_log.path).read_bytes()


async def test_one_task_that_cannot_be_resumed_does_not_stop_the_others(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    """Defect 5: one raw exception in resume() used to abort the run, so the other tasks were never finished."""
    ledger = Ledger(fake_log)
    for n in (1, 2, 3):
        local_id = ledger.begin({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": f"p{n}"}}, f"h{n}")
        ledger.mark_pending(local_id, f"task-{n}")
        fake_crun.created[f"task-{n}"] = fake_clock.t - 1000
    normal = fake_crun.task_info

    def poisoned(task_id: str) -> httpx.Response:
        if task_id == "task-2":
            raise RuntimeError("something no one expected")
        return normal(task_id)

    fake_crun.task_info = poisoned  # type: ignore[method-assign]
    report = await sn.resume(**run_options(fake_client, fake_log, fake_clock))
    by_task = report.set_index("task_id")
    assert by_task.loc["task-1", "status"] == "success" and by_task.loc["task-3", "status"] == "success"
    assert by_task.loc["task-2", "status"] == "pending" and "RuntimeError" in by_task.loc["task-2", "note"]


async def test_resume_lists_a_row_left_submitting_at_once_without_resending(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    """Defect 9: rows left `submitting` by a crash were invisible to resume() for 5 minutes."""
    local_id = Ledger(fake_log).begin({"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": "p"}}, "h")
    report = await sn.resume(**run_options(fake_client, fake_log, fake_clock))
    row = report.set_index("local_id").loc[local_id]
    assert row["status"] == "submitting" and "may exist" in row["note"]
    assert fake_crun.created == {}


async def test_resume_removes_the_partial_downloads_of_dead_processes(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock) -> None:
    """Defect 9: `.part-*` files of killed downloads were never cleaned."""
    media = Path(fake_log.path).parent / "media"
    media.mkdir()
    dead = media / ".part-999999999-x1.mp4"
    dead.write_bytes(b"half a video")
    alive = media / f".part-{os.getpid()}-x2.mp4"
    alive.write_bytes(b"being written")
    await sn.resume(**run_options(fake_client, fake_log, fake_clock))
    assert not dead.exists() and alive.exists()


async def test_an_estimate_without_a_balance_still_says_what_is_wrong(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    """Defect 6: an EstimateTask answer without `balance` raised a TypeError while explaining the 402."""
    normal = fake_crun.__call__

    def poor(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/EstimateTask"):
            return fake_crun.ok({"estimated_credits": 29.0, "affordable": False})
        return normal(request)

    async with sn.Client(api_key="ak_" + "0" * 32, base_url=str(fake_client.base_url),
                         transport=httpx.MockTransport(poor), sleep=fake_clock.sleep) as client:
        with pytest.raises(sn.InsufficientCreditsError, match="29 credits"):
            await sn.generate(**PROMPT, **run_options(client, fake_log, fake_clock))
    assert fake_crun.created == {} and len(fake_log) == 0


async def test_a_task_imported_without_its_request_is_not_resent_blindly(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    fake_log.import_records([{"local_id": "t1", "status": "failed", "prompt": "[Image1] waves",
                              "reference_images": ["https://example.com/a.png"]}])
    with pytest.raises(sn.ValidationError, match="has no stored request"):
        await sn.resubmit("t1", **run_options(fake_client, fake_log, fake_clock))
    assert "/client/job/CreateTask" not in fake_crun.calls
