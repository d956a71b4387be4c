"""What the simulator keeps: tasks, assets and upload slots, as plain records (no I/O, no clock of their own).

A task's status is a function of the time it is asked at; so is an asset's review. ``SimState`` decides and
books them, ``SimStore`` keeps them.

Example:
    >>> asset = Asset("asset-1", "cat", "Image", "https://x.test/cat.png", created=0.0, ready_at=2.0)
    >>> asset.status(1.0), asset.status(2.0), asset.info(2.0)["UpdateTime"]
    ('Processing', 'Active', '1970-01-01T00:00:02Z')
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .validation import TaskRequest, host_is_invalid

__all__ = ["Asset", "InsufficientCredits", "Task", "Upload"]


class InsufficientCredits(Exception):
    """The balance cannot pay for a task; nothing was charged.

    Example:
        >>> str(InsufficientCredits(29, 10))
        'Insufficient credits: the task costs 29 credits, the balance is 10'
    """

    def __init__(self, cost: float, balance: float) -> None:
        self.cost = cost
        self.balance = balance
        super().__init__(f"Insufficient credits: the task costs {cost:g} credits, the balance is {balance:g}")


@dataclass
class Task:
    """One simulated task. Its status is a function of the clock; ``render`` is this process's render of it."""

    task_id: str
    request: TaskRequest
    created: float
    running_at: float
    final_at: float
    outcome: str
    result_code: int
    result_message: str
    credits: float
    settled: bool = False
    media_expired: bool = False
    callback_done: bool = False
    render: Future[Any] | None = field(default=None, repr=False, compare=False)

    def status(self, now: float) -> str:
        """``pending``, ``running``, then ``success`` or ``failed`` once ``final_at`` has passed."""
        if now >= self.final_at:
            return self.outcome
        return "running" if now >= self.running_at else "pending"

    def media_urls(self, root_url: str) -> list[str]:
        """The result URLs: the MP4, then the last frame when it was asked for."""
        if self.outcome != "success":
            return []
        urls = [f"{root_url}/media/{self.task_id}.mp4"]
        if self.request.return_last_frame:
            urls.append(f"{root_url}/media/{self.task_id}_1.png")
        return urls

    def data(self, now: float, root_url: str) -> dict[str, Any]:
        """The TaskInfo ``data`` object (also the callback body), as CRUN_API.md §5 draws it."""
        status = self.status(now)
        final = status in ("success", "failed")
        req = self.request
        return {
            "task_id": self.task_id,
            "provider": "ByteDance",
            "model_version": req.model.removeprefix("bytedance/"),
            "status": status,
            "param": {"model": req.model, "callback_url": req.callback_url, "input": req.input},
            "create_at": int(self.created),
            "result": (
                {"code": self.result_code, "message": self.result_message, "media_urls": self.media_urls(root_url)}
                if final
                else None
            ),
            "duration_s": round(self.final_at - self.created, 3) if final else None,
            "complete_at": int(self.final_at) if final else None,
            "source": "api",
            "credits": self.credits,
        }


@dataclass
class Asset:
    """An uploaded asset under review: ``Processing`` until ``ready_at``, then ``Active`` or ``Failed``."""

    asset_id: str
    name: str
    asset_type: str
    asset_url: str
    created: float
    ready_at: float

    def status(self, now: float) -> str:
        """The review status at ``now``."""
        if now < self.ready_at:
            return "Processing"
        return "Failed" if host_is_invalid(self.asset_url) else "Active"

    def info(self, now: float) -> dict[str, Any]:
        """The asset-info ``data`` object (times as ISO strings ending in Z)."""
        updated = self.ready_at if now >= self.ready_at else self.created
        return {
            "AssetId": self.asset_id,
            "Name": self.name,
            "AssetType": self.asset_type,
            "Status": self.status(now),
            "CreateTime": _iso(self.created),
            "UpdateTime": _iso(updated),
        }


@dataclass
class Upload:
    """A presigned upload slot; ``path`` is set once the PUT has stored the bytes."""

    token: str
    name: str
    content_type: str
    expires_at: float
    path: str | None = None
    size: int = 0


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
