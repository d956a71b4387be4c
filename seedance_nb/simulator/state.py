"""The simulator's bookkeeping: tasks, assets, uploads, balance and counters. No I/O, an injectable clock.

Statuses are computed from the clock when asked, never by timers: a task created at ``t`` with latency ``L``
is ``pending`` until ``t + 0.2·L``, ``running`` until ``t + L``, then ``success`` or ``failed``. ``settle()``
books what the passing of time implies (refunds of failed tasks) and is called before anything reads money.

Example:
    >>> from .knobs import Knobs
    >>> from .validation import validate_task_body
    >>> now = [1000.0]
    >>> state = SimState(Knobs(latency=10, clock=lambda: now[0]))
    >>> req = validate_task_body({"model": "bytedance/seedance2-0-mini-r2v",
    ...                           "input": {"prompt": "a cat", "reference_images": ["https://x.test/a.png"]}})
    >>> task = state.create_task(req)
    >>> task.status(now[0]), state.balance()
    ('pending', 99971.0)
    >>> now[0] += 10; task.status(now[0])
    'success'
"""

from __future__ import annotations

import heapq
import random
import secrets
import string
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .knobs import Knobs
from .validation import TaskRequest, host_is_invalid

__all__ = ["Asset", "InsufficientCredits", "SimState", "Task", "Upload"]

FAILED_MARKER = "[simulate:failed]"
MODERATED_MARKER = "[simulate:moderated]"
UPLOAD_URL_TTL = 3600.0


FAULT_COUNTER = "fault:"  # counters named fault:<endpoint>:<kind> count injected faults by kind


class InsufficientCredits(Exception):
    """The balance cannot pay for a task; nothing was charged."""

    def __init__(self, cost: float, balance: float) -> None:
        self.cost = cost
        self.balance = balance
        super().__init__(f"Insufficient credits: the task costs {cost:g} credits, the balance is {balance:g}")


@dataclass
class Task:
    """One simulated task. Its status is a function of the clock."""

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
    render: Future[Any] | None = field(default=None, repr=False)

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


class SimState:
    """Tasks, assets, uploads, the balance and the counters of one simulator; every method is thread-safe."""

    def __init__(self, knobs: Knobs) -> None:
        self.knobs = knobs
        self._lock = threading.RLock()
        self._balance = knobs.balance
        self._tasks: dict[str, Task] = {}
        self._unsettled: list[tuple[float, str]] = []
        self._callbacks: list[tuple[float, str]] = []
        self._assets: dict[str, Asset] = {}
        self._uploads: dict[str, Upload] = {}
        self._files: dict[str, Upload] = {}
        # Separate streams, so a fault script never shifts which tasks fail or how long they take.
        self._rng = random.Random(knobs.seed)
        self.counters: defaultdict[str, float] = defaultdict(float)

    def now(self) -> float:
        """The simulator's clock."""
        return self.knobs.clock()

    # -- money and tasks ---------------------------------------------------------------------------------
    def settle(self, now: float | None = None) -> None:
        """Book every task that ended by ``now``: a failed task gets its credits back."""
        now = self.now() if now is None else now
        with self._lock:
            while self._unsettled and self._unsettled[0][0] <= now:
                _, task_id = heapq.heappop(self._unsettled)
                task = self._tasks[task_id]
                task.settled = True
                if task.outcome == "failed" and task.credits:
                    self._balance += task.credits
                    self.counters["credits_refunded"] += task.credits
                    task.credits = 0.0

    def balance(self) -> float:
        """The balance after settling what has ended."""
        self.settle()
        with self._lock:
            return round(self._balance, 4)

    def price(self, request: TaskRequest) -> float:
        """Credits ``request`` costs."""
        return self.knobs.price(request.resolution, request.duration)

    def create_task(self, request: TaskRequest) -> Task:
        """Charge and create a task; its outcome and timing are decided now.

        Raises:
            InsufficientCredits: the balance cannot pay; nothing is created or charged.
        """
        now = self.now()
        cost = self.price(request)
        self.settle(now)
        with self._lock:
            if cost > self._balance + 1e-9:
                raise InsufficientCredits(cost, round(self._balance, 4))
            low, high = self.knobs.latency
            latency = self._rng.uniform(low, high) if high > low else low
            outcome, code, message = "success", 200, "success"
            if FAILED_MARKER in request.prompt:
                outcome, code, message = "failed", 501, "Generation failed: the prompt asked for a failure"
            elif MODERATED_MARKER in request.prompt:
                outcome, code = "failed", 451
                message = "Output moderation: the generated video was refused by content moderation"
            elif self.knobs.fail_rate and self._rng.random() < self.knobs.fail_rate:
                outcome, code, message = "failed", 501, "Generation failed: simulated random failure"
            task = Task(
                task_id=str(uuid.uuid4()),
                request=request,
                created=now,
                running_at=now + 0.2 * latency,
                final_at=now + latency,
                outcome=outcome,
                result_code=code,
                result_message=message,
                credits=cost,
            )
            self._balance -= cost
            self._tasks[task.task_id] = task
            heapq.heappush(self._unsettled, (task.final_at, task.task_id))
            if request.callback_url:
                heapq.heappush(self._callbacks, (task.final_at, task.task_id))
            self.counters["tasks_created"] += 1
            self.counters["credits_charged"] += cost
        return task

    def tasks(self) -> list[Task]:
        """Every task created so far, settled up to now, oldest first (a snapshot of the list)."""
        self.settle()
        with self._lock:
            return list(self._tasks.values())

    def task(self, task_id: str) -> Task | None:
        """The task with this id, settled up to now, or ``None``."""
        self.settle()
        with self._lock:
            return self._tasks.get(task_id)

    def due_callbacks(self, now: float) -> list[Task]:
        """Tasks whose callback is due by ``now``; each is handed out once."""
        due: list[Task] = []
        with self._lock:
            while self._callbacks and self._callbacks[0][0] <= now:
                _, task_id = heapq.heappop(self._callbacks)
                due.append(self._tasks[task_id])
        return due

    def next_callback_at(self) -> float | None:
        """When the next callback falls due (simulator clock), if any."""
        with self._lock:
            return self._callbacks[0][0] if self._callbacks else None

    def media_expired(self, task: Task, now: float) -> bool:
        """True once ``expire_media()`` hit the task or ``media_ttl`` seconds passed since it ended."""
        ttl = self.knobs.media_ttl
        return task.media_expired or (ttl is not None and now >= task.final_at + ttl)

    def expire_media(self, task_ids: list[str] | None = None) -> int:
        """Make the media of these tasks (default: all) answer 404 from now on; returns how many."""
        with self._lock:
            ids = list(self._tasks) if task_ids is None else [t for t in task_ids if t in self._tasks]
            for task_id in ids:
                self._tasks[task_id].media_expired = True
            return len(ids)

    # -- assets ------------------------------------------------------------------------------------------
    def create_asset(self, name: str, asset_type: str, asset_url: str) -> Asset:
        """Register an asset; it turns Active (or Failed for a ``.invalid`` host) after ``asset_delay``."""
        now = self.now()
        suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        asset_id = f"asset-{time.strftime('%Y%m%d%H%M%S', time.gmtime(now))}-{suffix}"
        asset = Asset(asset_id, name, asset_type, asset_url, now, now + self.knobs.asset_delay)
        with self._lock:
            self._assets[asset_id] = asset
            self.counters["assets_created"] += 1
        return asset

    def asset(self, asset_id: str) -> Asset | None:
        """The asset with this id, or ``None``."""
        with self._lock:
            return self._assets.get(asset_id)

    def asset_lookup(self, asset_id: str) -> tuple[str, str] | None:
        """``(Status, AssetType)`` of an asset now, or ``None`` (the validator's view)."""
        asset = self.asset(asset_id)
        return None if asset is None else (asset.status(self.now()), asset.asset_type)

    # -- presigned uploads -------------------------------------------------------------------------------
    def new_upload(self, content_type: str, ext: str) -> Upload:
        """Open an upload slot: a single-use token and the file name it will be served under."""
        upload = Upload(
            token=secrets.token_urlsafe(24),
            name=secrets.token_hex(12) + ext,
            content_type=content_type,
            expires_at=self.now() + UPLOAD_URL_TTL,
        )
        with self._lock:
            self._uploads[upload.token] = upload
        return upload

    def claim_upload(self, token: str) -> Upload | None:
        """The open slot for ``token`` (unused, not expired), or ``None``."""
        with self._lock:
            upload = self._uploads.get(token)
            if upload is None or upload.path is not None or self.now() > upload.expires_at:
                return None
            return upload

    def complete_upload(self, upload: Upload, path: str, size: int) -> bool:
        """Store the PUT's file; ``False`` when another PUT used the token first (single use)."""
        with self._lock:
            if self._uploads.pop(upload.token, None) is None:
                return False
            upload.path, upload.size = path, size
            self._files[upload.name] = upload
            self.counters["uploads_completed"] += 1
            return True

    def file(self, name: str) -> Upload | None:
        """The stored upload served as ``/files/<name>``, or ``None``."""
        with self._lock:
            return self._files.get(name)

    # -- the admin view ----------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """``tasks_created``, ``credits_charged`` (net of refunds), ``balance``, ``callbacks_sent`` and more;
        ``faults_by_kind`` counts the injected faults as ``"endpoint:kind"``."""
        balance = self.balance()
        with self._lock:
            c = self.counters
            counts = ("callbacks_failed", "callback_attempts_failed", "assets_created", "uploads_completed",
                      "renders", "render_cache_hits", "faults_injected")
            return {
                "tasks_created": int(c["tasks_created"]),
                "credits_charged": round(c["credits_charged"] - c["credits_refunded"], 4),
                "balance": balance,
                "callbacks_sent": int(c["callbacks_sent"]),
                "credits_refunded": round(c["credits_refunded"], 4),
                **{name: int(c[name]) for name in counts},
                "faults_by_kind": {name.removeprefix(FAULT_COUNTER): int(n) for name, n in sorted(c.items())
                                   if name.startswith(FAULT_COUNTER)},
            }

    def bump(self, counter: str, amount: int = 1) -> None:
        """Add to a counter (thread-safe)."""
        with self._lock:
            self.counters[counter] += amount
