"""The simulator's bookkeeping: tasks, assets, uploads, balance and counters, kept in a ``SimStore``.

Statuses are computed from the clock when asked, never by timers: a task created at ``t`` with latency ``L``
is ``pending`` until ``t + 0.2·L``, ``running`` until ``t + L``, then ``success`` or ``failed``. ``settle()``
books what the passing of time implies (refunds of failed tasks) and is called before anything reads money.
Times are those of the injectable clock (wall-clock seconds by default), so a task stored in a durable store
ends at the same moment for the next simulator that opens it.

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

import random
import secrets
import string
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from .knobs import Knobs
from .persist import SimStore
from .records import Asset, InsufficientCredits, Task, Upload
from .validation import TaskRequest

__all__ = ["Asset", "InsufficientCredits", "SimState", "Task", "Upload"]

FAILED_MARKER = "[simulate:failed]"
MODERATED_MARKER = "[simulate:moderated]"
UPLOAD_URL_TTL = 3600.0


FAULT_COUNTER = "fault:"  # counters named fault:<endpoint>:<kind> count injected faults by kind


class SimState:
    """Tasks, assets, uploads, the balance and the counters of one simulator; every method is thread-safe.

    ``store`` keeps them (default: a fresh one in memory, starting at ``knobs.balance``). Task objects are
    cached per process, so each keeps this process's render; their bookkeeping is read back from the store,
    which another simulator on the same file may have changed.
    """

    def __init__(self, knobs: Knobs, store: SimStore | None = None) -> None:
        self.knobs = knobs
        self.store = store if store is not None else SimStore(None, balance=knobs.balance)
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        # Separate streams, so a fault script never shifts which tasks fail or how long they take.
        self._rng = random.Random(knobs.seed)

    def now(self) -> float:
        """The simulator's clock."""
        return self.knobs.clock()

    @property
    def durable(self) -> bool:
        """True when the store is a file that outlives this process."""
        return self.store.path is not None

    def _cached(self, stored: Task) -> Task:
        """This process's object for a stored task, with the store's bookkeeping."""
        with self._lock:
            task = self._tasks.setdefault(stored.task_id, stored)
            if task is not stored:
                task.credits, task.settled = stored.credits, stored.settled
                task.media_expired = task.media_expired or stored.media_expired
            return task

    # -- money and tasks ---------------------------------------------------------------------------------
    def settle(self, now: float | None = None) -> None:
        """Book every task that ended by ``now``: a failed task gets its credits back."""
        now = self.now() if now is None else now
        for task_id, refunded in self.store.settle(now):
            with self._lock:
                task = self._tasks.get(task_id)
                if task is not None:
                    task.settled = True
                    if refunded:
                        task.credits = 0.0

    def balance(self) -> float:
        """The balance after settling what has ended."""
        self.settle()
        return round(self.store.balance(), 4)

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
            balance = self.store.balance()
            if cost > balance + 1e-9:  # checked before drawing, so a refusal never shifts the seeded draws
                raise InsufficientCredits(cost, round(balance, 4))
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
            self.store.charge_and_add(task)  # checks again: another simulator may share the account
            self._tasks[task.task_id] = task
        return task

    def tasks(self) -> list[Task]:
        """Every task created so far, settled up to now, oldest first (a snapshot of the list)."""
        self.settle()
        return [self._cached(task) for task in self.store.tasks()]

    def task(self, task_id: str) -> Task | None:
        """The task with this id, settled up to now, or ``None``."""
        self.settle()
        stored = self.store.task(task_id)
        return None if stored is None else self._cached(stored)

    def polled_task(self, task_id: str) -> Task | None:
        """The task as TaskInfo shows it: like ``task()``, without reading the store when it cannot tell more.

        Once a task is settled, or while it has not ended, nothing TaskInfo shows of it can change in the store
        (its status follows the clock; its credits change only when it is settled), so this process's copy is
        answered as it is: the hot path of polling reads no SQLite. Otherwise it is ``task()``.

        Example:
            >>> from .validation import validate_task_body
            >>> state = SimState(Knobs(latency=0))
            >>> req = validate_task_body({"model": "bytedance/seedance2-0-mini-r2v",
            ...                           "input": {"prompt": "a cat", "reference_images": ["https://x.test/a.png"]}})
            >>> task = state.create_task(req)
            >>> state.polled_task(task.task_id) is task, task.settled, state.polled_task("nope")
            (True, True, None)
        """
        with self._lock:
            known = self._tasks.get(task_id)
        if known is not None and (known.settled or self.now() < known.final_at):
            return known
        return self.task(task_id)

    def due_callbacks(self, now: float) -> list[Task]:
        """Tasks whose callback is due by ``now``; each is handed out once (to one simulator of the store)."""
        stored = (self.store.task(task_id) for task_id in self.store.claim_callbacks(now))
        return [self._cached(task) for task in stored if task is not None]

    def next_callback_at(self) -> float | None:
        """When the next callback falls due (simulator clock), if any."""
        return self.store.next_callback_at()

    def media_expired(self, task: Task, now: float) -> bool:
        """True once ``expire_media()`` hit the task or ``media_ttl`` seconds passed since it ended."""
        ttl = self.knobs.media_ttl
        return task.media_expired or (ttl is not None and now >= task.final_at + ttl)

    def expire_media(self, task_ids: list[str] | None = None) -> int:
        """Make the media of these tasks (default: all) answer 404 from now on; returns how many."""
        expired = self.store.expire_media(task_ids)
        with self._lock:
            for task_id in expired:
                if task_id in self._tasks:
                    self._tasks[task_id].media_expired = True
        return len(expired)

    # -- assets ------------------------------------------------------------------------------------------
    def create_asset(self, name: str, asset_type: str, asset_url: str) -> Asset:
        """Register an asset; it turns Active (or Failed for a ``.invalid`` host) after ``asset_delay``."""
        now = self.now()
        while True:  # a taken id (1 in 60 million within a second) is drawn again
            suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
            asset_id = f"asset-{time.strftime('%Y%m%d%H%M%S', time.gmtime(now))}-{suffix}"
            asset = Asset(asset_id, name, asset_type, asset_url, now, now + self.knobs.asset_delay)
            if self.store.add_asset(asset):
                return asset

    def asset(self, asset_id: str) -> Asset | None:
        """The asset with this id, or ``None``."""
        return self.store.asset(asset_id)

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
        self.store.add_upload(upload)
        return upload

    def claim_upload(self, token: str) -> Upload | None:
        """The open slot for ``token`` (unused, not expired), or ``None``."""
        upload = self.store.open_upload(token)
        if upload is None or self.now() > upload.expires_at:
            return None
        return upload

    def complete_upload(self, upload: Upload, path: str, size: int) -> bool:
        """Store the PUT's file; ``False`` when another PUT used the token first (single use)."""
        if not self.store.complete_upload(upload.token, path, size):
            return False
        upload.path, upload.size = path, size
        return True

    def file(self, name: str) -> Upload | None:
        """The stored upload served as ``/files/<name>``, or ``None``."""
        return self.store.file(name)

    # -- the admin view ----------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """``tasks_created``, ``credits_charged`` (net of refunds), ``balance``, ``callbacks_sent`` and more;
        ``faults_by_kind`` counts the injected faults as ``"endpoint:kind"``."""
        balance = self.balance()
        c: defaultdict[str, float] = defaultdict(float, self.store.counters())
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
        self.store.bump(counter, amount)
