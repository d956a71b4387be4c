"""When to ask TaskInfo again: a pure schedule tuned to jobs of a few minutes.

Without history the waits start short (a quick failure shows at once) and grow with jitter to a cap. With
the running times of past tasks of the same shape (from the task log) the schedule learns: after an early
check it approaches the typical running time geometrically (long waits far from it, dense polls near it),
then the waits grow again. Near the expected end it polls every 6 % of the expected running time (at least
every 0.9 s), so a finished task is noticed within max(1 s, 10 % of its expected running time) at p95:
for a 3-minute job about ten requests and a delay of about 10 s at worst, where a fixed 5-second poll
makes 36; for an 8-second simulated job, under a second.

Example:
    >>> from itertools import islice
    >>> [round(d, 1) for d in islice(poll_delays(jitter=0.0), 6)]
    [2.0, 3.0, 4.5, 6.8, 10.1, 15.0]
    >>> times = poll_times(poll_delays(history=[175, 180, 186], jitter=0.0), until=180)
    >>> len(times) <= 15 and times[-1] - 180 <= 0.1 * 180
    True
    >>> times = poll_times(poll_delays(history=[8.0, 8.0], jitter=0.0), until=8.0)
    >>> times[-1] - 8.0 <= 1.0
    True
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["PollPlan", "detection_target", "expected_duration", "poll_delays", "poll_times"]


@dataclass(frozen=True)
class PollPlan:
    """The knobs of the schedule (seconds)."""

    first: float = 2.0        # the first check: catches tasks that fail at once
    growth: float = 1.5       # factor between waits without history
    cap: float = 15.0         # the longest wait without history, and once the expected end has passed
    long_step: float = 40.0   # the longest wait while far from the expected end
    approach: float = 3.0     # before the expected end, wait a 1/approach share of the time left
    dense_share: float = 0.06  # near the expected end, wait this share of the expected running time …
    dense_min: float = 0.9     # … but at least this: the worst detection delay is max(dense_min, 6 %)

    def dense(self, typical: float) -> float:
        """The wait near the expected end of a task whose typical running time is ``typical`` seconds.

        Example:
            >>> PollPlan().dense(180.0), PollPlan().dense(8.0)
            (10.8, 0.9)
        """
        return round(min(self.long_step, max(self.dense_min, self.dense_share * typical)), 6)


def detection_target(typical: float) -> float:
    """The detection delay a learned schedule keeps at p95: max(1 s, 10 % of the expected running time).

    Example:
        >>> detection_target(180.0), detection_target(8.0)
        (18.0, 1.0)
    """
    return max(1.0, 0.1 * typical)


def expected_duration(history: Sequence[float]) -> float | None:
    """The typical running time (median) of past tasks, or ``None`` without usable history.

    Example:
        >>> expected_duration([100, 120, 400])
        120.0
        >>> expected_duration([]) is None
        True
    """
    clean = [float(d) for d in history if d is not None and d > 0]
    return float(statistics.median(clean)) if clean else None


def poll_delays(history: Sequence[float] = (), *, elapsed: float = 0.0, plan: PollPlan = PollPlan(),
                jitter: float = 0.1, rng: Callable[[], float] = random.random) -> Iterator[float]:
    """Endless waits (seconds) between TaskInfo requests, starting ``elapsed`` seconds into the task.

    Args:
        history: running times of past tasks of the same shape (may be empty).
        elapsed: how long the task has been running already (when resuming).
        plan: the knobs.
        jitter: share of each wait drawn at random, so many clients do not poll in step. Near the
            expected end waits are only ever shortened by it: detection delay is what they buy.
        rng: a source of floats in [0, 1).
    """
    typical = expected_duration(history)
    clean = [float(d) for d in history if d is not None and d > 0]
    # Stay dense while the end is still likely: two standard deviations of past running times.
    dense_until = (typical or 0.0) + 2 * (statistics.pstdev(clean) if len(clean) > 1 else 0.0)
    dense = plan.dense(typical or 0.0)
    t = elapsed
    wait = plan.first
    while True:
        if typical is None:
            actual = wait * (1 + jitter * (2 * rng() - 1))
            wait = min(plan.cap, wait * plan.growth)
        elif t < plan.first:
            actual = plan.first - t
        elif t < typical:
            # Approach the expected end geometrically: few requests far from it, dense ones near it.
            actual = min(plan.long_step, max(dense, (typical - t) / plan.approach)) * (1 - jitter * rng())
        elif t < dense_until:
            actual = dense * (1 - jitter * rng())
        else:
            # Past the likely end: dense just after it, sparser the further past it the task runs.
            actual = min(max(plan.cap, dense), max(dense, (t - dense_until) / plan.approach)) * (1 - jitter * rng())
        actual = max(0.5, actual)
        yield actual
        t += actual


def poll_times(delays: Iterator[float], *, until: float, limit: int = 10_000) -> list[float]:
    """The moments (seconds from the start) of the polls needed to see a task that ends at ``until``.

    The last element is the first poll at or after ``until``; used by tests and the polling benchmark.

    Example:
        >>> poll_times(iter([2.0, 3.0, 5.0, 5.0]), until=9)
        [2.0, 5.0, 10.0]
    """
    times: list[float] = []
    t = 0.0
    for wait in delays:
        t += wait
        times.append(t)
        if t >= until or len(times) >= limit:
            break
    return times
