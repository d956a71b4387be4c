"""When to retry a request and how long to wait first: pure functions, tested without a network.

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

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["NOT_RETRYABLE_5XX", "RetryPolicy", "is_retryable_code", "parse_retry_after"]

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
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 120.0

    def should_retry(self, *, attempt: int, code: int | None = None, transport_error: bool = False,
                     retry_after: float | None = None) -> bool:
        """Whether try number ``attempt`` (1-based), which failed as described, deserves another."""
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
        """
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        cap = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempt - 1))
        return float(cap / 2 + rng() * cap / 2)
