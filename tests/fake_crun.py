"""A fake Crun on ``httpx.MockTransport`` and a fake clock, for orchestrator tests that run minutes of task time
in no time. TaskInfo answers ``running`` until the fake clock passes a task's running time; media URLs serve
a real MP4, so the archive's verification runs as it does for real. Tests change its answers per case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

import seedance_nb as sn

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


def run_options(client: sn.Client, log: sn.TaskLog, clock: FakeClock) -> dict[str, Any]:
    """The arguments that make generate()/resume()/resubmit() use the fake Crun and the fake clock, quietly."""
    return {"client": client, "log": log, "clock": clock.monotonic, "sleep": clock.sleep, "progress": False}
