"""generate(), follow, resume(), resubmit() on httpx.MockTransport and a fake clock: minutes of task time in no time.

A small fake Crun answers EstimateTask, CreateTask, TaskInfo (running until the fake clock passes the task's
running time) and the media URL (a real MP4, so the archive's verification runs as it does for real).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from media_factory import video

import seedance_nb as sn
from seedance_nb.tasklog._ledger import Ledger

BASE = "https://api.crun.test/api/v1"
CDN = "https://cdn.crun.test"
PROMPT = {"prompt": "[Image1] runs", "reference_images": ["https://x.org/a.png"], "duration": 5}


class FakeClock:
    """Monotonic seconds and wall time that move only when the code under test sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.wall0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        return self.wall0 + timedelta(seconds=self.t - 1000.0)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class FakeCrun:
    """Crun's job endpoints as far as the orchestrator uses them, timed by the fake clock."""

    def __init__(self, clock: FakeClock, mp4: bytes, *, runs_s: float = 150.0) -> None:
        self.clock, self.mp4, self.runs_s = clock, mp4, runs_s
        self.created: dict[str, float] = {}
        self.calls: list[str] = []
        self.create: Callable[[httpx.Request], httpx.Response] | None = None  # a test may replace CreateTask
        self.info_status: int | None = None  # answer TaskInfo with this HTTP error instead

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1")
        self.calls.append(path)
        if request.url.host == "cdn.crun.test":
            return httpx.Response(200, content=self.mp4, headers={"content-type": "video/mp4"})
        if path.endswith("/EstimateTask"):
            return self.ok({"estimated_credits": 29.0, "balance": 1000.0, "affordable": True})
        if path.endswith("/CreateTask"):
            if self.create is not None:
                return self.create(request)
            task_id = f"task-{len(self.created) + 1}"
            self.created[task_id] = self.clock.t
            return self.ok({"task_id": task_id})
        if path.endswith("/TaskInfo"):
            return self.task_info(request.url.params["task_id"])
        return httpx.Response(404, json={"code": 404, "message": "no such path", "data": None})

    def task_info(self, task_id: str) -> httpx.Response:
        if self.info_status is not None:
            return httpx.Response(self.info_status, json={"code": self.info_status, "message": "down", "data": None})
        age = self.clock.t - self.created[task_id]
        done = age >= self.runs_s
        data: dict[str, Any] = {"task_id": task_id, "status": "success" if done else "running", "create_at": 1,
                                "complete_at": 1 + int(self.runs_s) if done else None, "credits": 29.0}
        if done:
            data["result"] = {"code": 200, "message": "success", "media_urls": [f"{CDN}/{task_id}.mp4"]}
        return self.ok(data)

    @staticmethod
    def ok(data: Any) -> httpx.Response:
        return httpx.Response(200, json={"code": 200, "message": "success", "data": data})


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=2).read_bytes()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def crun(clock: FakeClock, mp4: bytes) -> FakeCrun:
    return FakeCrun(clock, mp4)


@pytest.fixture
async def client(crun: FakeCrun, clock: FakeClock, fake_key: str) -> Any:
    async with sn.Client(api_key=fake_key, base_url=BASE, transport=httpx.MockTransport(crun),
                         sleep=clock.sleep) as opened:
        yield opened


@pytest.fixture
def log(tmp_path: Path, clock: FakeClock) -> sn.TaskLog:
    return sn.TaskLog(tmp_path / "tasks.sqlite", clock=clock.now)


def run_options(client: sn.Client, log: sn.TaskLog, clock: FakeClock) -> dict[str, Any]:
    return {"client": client, "log": log, "clock": clock.monotonic, "sleep": clock.sleep, "progress": False}


async def test_generate_follows_a_long_task_to_its_archived_video_in_fake_time(
        client: sn.Client, log: sn.TaskLog, clock: FakeClock, crun: FakeCrun) -> None:
    gen = await sn.generate(**PROMPT, **run_options(client, log, clock))
    assert gen.status == "success" and gen.video_path is not None and gen.video_path.is_file()
    assert sum(clock.sleeps) >= crun.runs_s  # the task's 150 s passed on the fake clock, not the real one
    assert crun.calls.count("/client/job/CreateTask") == 1
    assert 3 <= crun.calls.count("/client/job/TaskInfo") <= 20  # the schedule polls sparsely
    row = log.get(gen.local_id)
    assert row is not None and row["status"] == "success" and row["elapsed_s"] == pytest.approx(crun.runs_s)
    assert list(log.events(gen.local_id)["status"]) == ["submitting", "pending", "running", "success", "success"]


async def test_the_deadline_raises_generation_timeout_and_leaves_the_task_resumable(
        client: sn.Client, log: sn.TaskLog, clock: FakeClock, crun: FakeCrun) -> None:
    with pytest.raises(sn.GenerationTimeout) as caught:
        await sn.generate(**PROMPT, timeout=60, **run_options(client, log, clock))
    assert caught.value.task_id == "task-1"
    assert clock.t - 1000.0 <= 60  # it never waited past the deadline
    assert log.df()["status"].tolist() == ["running"]
    clock.t += 200  # later, the task has finished at Crun
    report = await sn.resume(**run_options(client, log, clock))
    assert report["status"].tolist() == ["success"] and Path(report["video_path"][0]).is_file()
    assert crun.calls.count("/client/job/CreateTask") == 1


async def test_retries_never_wait_past_the_jobs_deadline(
        client: sn.Client, log: sn.TaskLog, clock: FakeClock, crun: FakeCrun) -> None:
    crun.info_status = 502  # TaskInfo fails on every try: each poll retries with backoff
    with pytest.raises(sn.GenerationTimeout):
        await sn.generate(**PROMPT, timeout=4, **run_options(client, log, clock))
    assert clock.t - 1000.0 <= 4  # neither the polls nor the retries inside one poll waited past it


async def test_an_identical_request_in_flight_is_followed_not_paid_twice(
        client: sn.Client, log: sn.TaskLog, clock: FakeClock, crun: FakeCrun) -> None:
    first = Ledger(log).begin({"model": "bytedance/seedance2-0-mini-r2v", "input": {}}, "other")  # unrelated row
    req = sn.R2VRequest(**PROMPT)
    lid = Ledger(log).begin(req.to_payload(), req.request_hash())
    Ledger(log).mark_pending(lid, "task-9")
    crun.created["task-9"] = clock.t
    gen = await sn.generate(req, **run_options(client, log, clock))
    assert gen.local_id == lid and gen.task_id == "task-9" and gen.status == "success"
    assert "/client/job/CreateTask" not in crun.calls and first != lid


async def test_a_lost_create_answer_is_unknown_until_resubmitted_on_purpose(
        client: sn.Client, log: sn.TaskLog, clock: FakeClock, crun: FakeCrun) -> None:
    crun.create = lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("lost", request=request))
    with pytest.raises(sn.SubmissionUnknownError) as caught:
        await sn.generate(**PROMPT, **run_options(client, log, clock))
    local_id = caught.value.local_id
    assert log.get(local_id)["status"] == "unknown"  # type: ignore[index]
    report = await sn.resume(**run_options(client, log, clock))
    assert report["status"].tolist() == ["unknown"]  # listed, never resent
    assert crun.calls.count("/client/job/CreateTask") == 1
    crun.create = None
    gen = await sn.resubmit(local_id, **run_options(client, log, clock))
    assert gen.status == "success" and crun.calls.count("/client/job/CreateTask") == 2
    statuses = log.events(local_id)["status"].tolist()
    assert statuses[:3] == ["submitting", "unknown", "submitting"] and statuses[-1] == "success"


async def test_a_failed_task_raises_with_its_ids_and_is_recorded(
        client: sn.Client, log: sn.TaskLog, clock: FakeClock, crun: FakeCrun) -> None:
    def failed(task_id: str) -> httpx.Response:
        return crun.ok({"task_id": task_id, "status": "failed",
                        "result": {"code": 501, "message": "Generation failed: busy", "media_urls": []}})

    crun.task_info = failed  # type: ignore[method-assign]
    with pytest.raises(sn.GenerationFailedError) as caught:
        await sn.generate(**PROMPT, **run_options(client, log, clock))
    assert caught.value.task_id == "task-1"  # type: ignore[attr-defined]
    row = log.get(caught.value.local_id)  # type: ignore[attr-defined]
    assert row is not None and (row["status"], row["error_code"]) == ("failed", 501)


async def test_on_update_sees_every_new_status(client: sn.Client, log: sn.TaskLog, clock: FakeClock) -> None:
    seen: list[str] = []

    async def on_update(info: sn.TaskInfo) -> None:
        seen.append(info.status)

    await sn.generate(**PROMPT, on_update=on_update, **run_options(client, log, clock))
    assert seen == ["running", "success"]

