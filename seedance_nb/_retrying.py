"""When to retry a request, how long to wait first, and the one retry loop of the package.

The policy is pure (tested without a network); ``retrying()`` is the loop that the client's requests,
its uploads and the media archive share. It honours the job's deadline (``deadline_scope``): a wait that
would end past the deadline is not started, the last error is raised at once instead.

Only requests that are safe to repeat are retried (GETs, and EstimateTask, which charges nothing).
CreateTask never is: a repeat can charge twice. Retryable answers are 429 (after ``Retry-After`` when the
server sends one), 455 (maintenance) and 5xx except 501 (the generation failed: a fact, not a hiccup) and
505 (the feature is off: waiting will not switch it on), plus transport errors.

Example:
    >>> policy = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=8.0)
    >>> policy.should_retry(attempt=1, code=429), policy.should_retry(attempt=4, code=429)
    (True, False)
    >>> policy.delay(attempt=1, retry_after=3.0, rng=lambda: 0.0)
    3.0
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

__all__ = [
    "NOT_RETRYABLE_5XX",
    "RetryPolicy",
    "deadline_scope",
    "is_retryable_code",
    "parse_retry_after",
    "retrying",
    "time_left",
]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
log = logging.getLogger("seedance_nb")

NOT_RETRYABLE_5XX = frozenset({501, 505})


def is_retryable_code(code: int | None) -> bool:
    """True for 429, 455 and the 5xx codes worth another try.

    Example:
        >>> [c for c in (401, 402, 404, 422, 429, 451, 455, 500, 501, 502, 505) if is_retryable_code(c)]
        [429, 455, 500, 502]
    """
    if code is None:
        return False
    return code in (429, 455) or (500 <= code < 600 and code not in NOT_RETRYABLE_5XX)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if absent.

    Example:
        >>> parse_retry_after("2")
        2.0
        >>> parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now=datetime(2026, 10, 21, 7, 27, 30, tzinfo=UTC))
        30.0
        >>> parse_retry_after("soon") is None
        True
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, honouring ``Retry-After``.

    Args:
        max_attempts: tries in all, the first included.
        base_delay: the wait before the second try, before jitter.
        max_delay: the cap of a computed wait.
        max_retry_after: the longest ``Retry-After`` honoured before giving up instead.

    Example:
        >>> import seedance_nb as sn
        >>> policy = sn.RetryPolicy(max_attempts=3, base_delay=1.0)
        >>> client = sn.Client(retry=policy)      # safe requests are tried 3 times at most
        >>> client.retry.max_attempts
        3
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def should_retry(self, *, attempt: int, code: int | None = None, transport_error: bool = False,
                     retry_after: float | None = None) -> bool:
        """Whether try number ``attempt`` (1-based), which failed as described, deserves another.

        Example:
            >>> import seedance_nb as sn
            >>> policy = sn.RetryPolicy(max_attempts=3)
            >>> policy.should_retry(attempt=1, code=503), policy.should_retry(attempt=1, code=422)
            (True, False)
            >>> policy.should_retry(attempt=3, transport_error=True)      # the third try was the last
            False
            >>> policy.should_retry(attempt=1, code=429, retry_after=600)  # longer than max_retry_after
            False
        """
        if attempt >= self.max_attempts:
            return False
        if retry_after is not None and retry_after > self.max_retry_after:
            return False
        return transport_error or is_retryable_code(code)

    def delay(self, *, attempt: int, retry_after: float | None = None,
              rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed try ``attempt``: ``Retry-After`` if given, else jittered backoff.

        The computed wait is drawn from [cap/2, cap] with cap = min(max_delay, base_delay · 2^(attempt-1)),
        so concurrent clients spread out but never retry at once.

        Example:
            >>> import seedance_nb as sn
            >>> policy = sn.RetryPolicy(base_delay=0.5, max_delay=20.0)
            >>> [policy.delay(attempt=n, rng=lambda: 1.0) for n in (1, 2, 3, 8)]    # the caps; jitter halves at most
            [0.5, 1.0, 2.0, 20.0]
            >>> policy.delay(attempt=1, retry_after=7.0)
            7.0
        """
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        cap = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        return float(cap / 2 + rng() * cap / 2)


# The monotonic moment (time.monotonic) after which no retry waits; set per job, inherited by its tasks.
_DEADLINE: contextvars.ContextVar[tuple[float, Callable[[], float]] | None] = contextvars.ContextVar(
    "seedance_nb_deadline", default=None)


@contextmanager
def deadline_scope(deadline: float | None, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Within this block (and the tasks it starts), retries never wait past ``deadline`` as ``clock`` tells.

    Example:
        >>> import time
        >>> with deadline_scope(time.monotonic() + 5):
        ...     0 < time_left() <= 5
        True
        >>> time_left() is None
        True
    """
    token = _DEADLINE.set(None if deadline is None else (deadline, clock))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float | None:
    """Seconds until the current deadline, or ``None`` when no deadline is set.

    Example:
        >>> time_left() is None
        True
    """
    scope = _DEADLINE.get()
    if scope is None:
        return None
    deadline, clock = scope
    return deadline - clock()


async def retrying(attempt: Callable[[int], Awaitable[T]], *, wait_after: Callable[[Exception, int], float | None],
                   sleep: Sleep = asyncio.sleep, what: str = "request") -> T:
    """Run ``attempt(n)`` for n = 1, 2, … until it returns, waiting ``wait_after(error, n)`` seconds between tries.

    ``wait_after`` says whether a failure deserves another try: a number of seconds to wait, or ``None`` to
    give up (the error is raised as it is). A wait that would pass the current deadline (``deadline_scope``)
    is not started: the error is raised at once, with a note saying so.

    Example:
        >>> import asyncio
        >>> calls = []
        >>> async def flaky(n):
        ...     calls.append(n)
        ...     if n < 3:
        ...         raise ConnectionError("dropped")
        ...     return "ok"
        >>> async def no_wait(seconds): pass
        >>> asyncio.run(retrying(flaky, wait_after=lambda exc, n: 0.5, sleep=no_wait)), calls
        ('ok', [1, 2, 3])
    """
    number = 0
    while True:
        number += 1
        try:
            return await attempt(number)
        except Exception as exc:
            wait = wait_after(exc, number)
            if wait is None:
                raise
            left = time_left()
            if left is not None and wait > left:
                exc.add_note(f"not retried: the job's deadline comes in {max(left, 0):.1f} s")
                raise
            log.info("seedance_nb: %s failed (%s); try %d in %.1fs", what, type(exc).__name__, number + 1, wait)
        await sleep(wait)
