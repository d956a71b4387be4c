"""``sn.sweep()``: a grid of requests as one call, priced first, bounded, polite to the rate limit, resumable.

    _plan.py      expand(): base + grid + prompts (list or template) + repeats -> planned tasks; check_plan()
    _budget.py    one EstimateTask per shape; the cap before starting and while running
    _limiter.py   one shared limiter: a 429 pauses every request of the sweep for its Retry-After
    _run.py       which tasks the log already has; bounded workers on one client
    _frame.py     the plan (dry run) and the sweep's rows, in plan order
    _progress.py  the tqdm.auto bar: counts by status, credits spent

Nothing heavy is imported with this package (pandas and tqdm load when a sweep runs).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._client import Client
from .._generate.job import DEFAULT_TIMEOUT_S, client_and_log
from .._generate.sync import run_sync
from .._models import R2VRequest
from ..errors import Problem, ValidationError, safe_text
from ._budget import Budget, check_cap, price_plan, priced_estimate
from ._frame import plan_frame, result_frame
from ._limiter import SharedLimiter
from ._plan import check_plan, expand, sweep_id_of
from ._progress import SweepBar
from ._run import Runner, Slot, classify, plan_keys, run_slots

if TYPE_CHECKING:
    import pandas as pd

    from ..tasklog import TaskLog

__all__ = ["sweep", "sweep_sync"]

Base = R2VRequest | Mapping[str, Any]
Grid = Mapping[str, Sequence[Any]]


async def sweep(base: Base, grid: Grid | None = None, prompts: Sequence[str] | str | None = None,
                repeats: int = 1, concurrency: int = 8, max_credits: float | None = None, dry_run: bool = False,
                *, sweep_id: str | None = None, client: Client | None = None, log: TaskLog | None = None,
                progress: bool = True, timeout: float = DEFAULT_TIMEOUT_S, retry_failed: bool = False,
                clock: Callable[[], float] | None = None, sleep: Callable[[float], Awaitable[None]] | None = None
                ) -> pd.DataFrame:
    """Run every combination of a grid (times ``repeats``) as one sweep and return its rows of the task log.

    Every request is validated and the sweep is priced (one ``EstimateTask`` per distinct shape) before
    anything is sent. Tasks run ``concurrency`` at a time on one client; a 429 pauses the whole sweep for its
    ``Retry-After``; failures, moderation and refusals become rows with their codes. Running the same sweep
    again continues it: tasks already ``success`` are not sent again, those in flight are followed, ``unknown``
    ones are reported (never resent), failed ones are kept unless ``retry_failed=True``.

    Args:
        base: an ``R2VRequest`` or a dict of its fields (the prompt may come from ``prompts``).
        grid: ``{field: [values]}``, a cartesian product over any request field, ``model`` included; for a
            reference field each value is a whole set (``{"reference_images": [[a], [b, c]]}``). Keys that
            are no field may fill the ``{placeholders}`` of a ``prompts`` template.
        prompts: a list of prompts (one more axis), or one template filled from each combination's values.
        repeats: runs of each combination (``repeat`` 0, 1, ... in the log; repeats are the outer loop).
        concurrency: tasks in flight at once.
        max_credits: the cap: above it the sweep is refused before anything is sent, and while running it
            stops submitting when spent plus in-flight estimates would pass it (rows ``skipped``).
        dry_run: return the plan (one row per task, its shape, estimate and action) and send nothing.
        sweep_id: the id in the log (default: a stable hash of base, grid, prompts and repeats).
        client, log: the ``Client`` and ``TaskLog`` (defaults built here).
        progress: show a tqdm bar with counts by status and credits spent.
        timeout: the deadline of each task, in seconds.
        retry_failed: send failed and refused tasks of an earlier run again.
        clock, sleep: monotonic seconds and the wait (tests inject fake ones).

    Returns:
        A DataFrame in plan order: ``plan_index``, the ``TaskLog.df()`` columns (``status``, ``credits``,
        ``error_code``, ``video_path``, ``sweep_id``, ``repeat``, ...) and ``estimated_credits``.
        ``attrs["sweep_id"]`` names the sweep.

    Raises:
        ValidationError: an argument or a planned request is invalid (every problem listed; nothing sent).
        BudgetExceededError: the estimate passes ``max_credits`` (nothing sent).
        asyncio.CancelledError: interrupted; every task sent is in the log for ``sn.resume()``.

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
        ...                     duration=4, resolution="480p")
        >>> plan = asyncio.run(sn.sweep(req, grid={"aspect_ratio": ["16:9", "9:16"]}, repeats=2, dry_run=True))
        >>> len(plan), plan.attrs["estimated_credits"]
        (4, 46.4)
        >>> df = asyncio.run(sn.sweep(req, grid={"aspect_ratio": ["16:9", "9:16"]}, repeats=2, progress=False))
        >>> df[["plan_index", "aspect_ratio", "repeat", "status"]].values.tolist()
        [[0, '16:9', 0, 'success'], [1, '9:16', 0, 'success'], [2, '16:9', 1, 'success'], [3, '9:16', 1, 'success']]
        >>> again = asyncio.run(sn.sweep(req, grid={"aspect_ratio": ["16:9", "9:16"]}, repeats=2, progress=False))
        >>> again.local_id.tolist() == df.local_id.tolist()        # continued: nothing sent again
        True
    """
    plan = expand(base, grid, prompts, repeats)
    _check_options(concurrency, max_credits)
    await asyncio.to_thread(check_plan, plan)  # local files are probed with ffmpeg
    sid = sweep_id if sweep_id is not None else sweep_id_of(base, grid, prompts, repeats)
    keys = await asyncio.to_thread(plan_keys, plan)
    async with client_and_log(client, log) as (client_, log_):
        by_shape, prices = await price_plan(client_, plan)
        slots = classify(plan, keys, prices, await asyncio.to_thread(_rows, log_, sid), retry_failed)
        budget = _budget(slots, max_credits)
        if dry_run:
            return plan_frame(slots, sid)
        check_cap(sum(s.estimate for s in slots if s.action == "send"), max_credits, spent=budget.committed,
                  tasks=sum(s.action == "send" for s in slots))
        priced = copy.copy(client_)  # the same connection; generate() asks it for the sweep's estimates
        vars(priced)["estimate"] = priced_estimate(by_shape, client_.estimate)
        bar = SweepBar(len(slots), enabled=progress, desc=sid)
        runner = Runner(priced, log_, sid, budget, SharedLimiter(clock, sleep), bar, timeout, clock, sleep)
        try:
            await run_slots(runner, slots, concurrency)
        finally:
            bar.close()
        return result_frame(await asyncio.to_thread(log_.df), slots, sid)


def sweep_sync(base: Base, grid: Grid | None = None, prompts: Sequence[str] | str | None = None,
               repeats: int = 1, concurrency: int = 8, max_credits: float | None = None, dry_run: bool = False,
               **options: Any) -> pd.DataFrame:
    """``sweep()`` for scripts and cells without ``await``; blocks until the sweep ends (same arguments).

    Example:
        >>> import seedance_nb as sn
        >>> df = sn.sweep_sync({"prompt": "[Image1] a {animal} runs", "reference_images": ["https://example.com/a.png"],
        ...                     "duration": 4, "resolution": "480p"}, grid={"animal": ["cat", "dog"]},
        ...                    prompts="[Image1] a {animal} runs", progress=False)
        >>> df.prompt.tolist(), df.status.tolist(), df.animal.tolist()
        (['[Image1] a cat runs', '[Image1] a dog runs'], ['success', 'success'], ['cat', 'dog'])
    """
    return run_sync(sweep(base, grid, prompts, repeats, concurrency, max_credits, dry_run, **options))


def _check_options(concurrency: Any, max_credits: Any) -> None:
    problems = []
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        problems.append(Problem("concurrency", safe_text(concurrency, 60), "must be a whole number of at least 1",
                                "Use concurrency=8, say."))
    if max_credits is not None and (isinstance(max_credits, bool) or not isinstance(max_credits, (int, float))
                                    or not max_credits >= 0):
        problems.append(Problem("max_credits", safe_text(max_credits, 60), "must be a number of credits ≥ 0 or None",
                                "Use max_credits=500, say."))
    if problems:
        raise ValidationError(problems)


def _rows(log: TaskLog, sweep_id: str) -> list[dict[str, Any]]:
    from ..tasklog._log import OLDEST_FIRST

    return log._query("WHERE sweep_id = ?", (sweep_id,), OLDEST_FIRST)


def _budget(slots: Sequence[Slot], cap: float | None) -> Budget:
    """The budget of this run: credits the sweep spent before, and the estimates of tasks still in flight."""
    spent = 0.0
    for slot in slots:
        if slot.action in ("done", "keep") and slot.row is not None:
            spent += float(slot.row.get("credits") or 0.0)
        elif slot.action == "unknown":
            spent += slot.estimate  # it may exist at Crun and be paid for
    budget = Budget(cap, spent)
    for slot in slots:
        if slot.action == "follow":
            budget.reserved[slot.planned.index] = slot.estimate
    return budget
