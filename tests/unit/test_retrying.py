"""The retry policy as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from seedance_nb._retrying import RetryPolicy, is_retryable_code, parse_retry_after


def test_retryable_codes() -> None:
    assert [c for c in range(400, 600) if is_retryable_code(c)] == [429, 455, 500, *range(502, 505), *range(506, 600)]
    assert not is_retryable_code(None)


@given(attempt=st.integers(1, 30), r=st.floats(0, 1))
def test_backoff_stays_within_half_cap_and_cap(attempt: int, r: float) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=20.0)
    cap = min(20.0, 0.5 * 2 ** (attempt - 1))
    assert cap / 2 <= policy.delay(attempt=attempt, rng=lambda: r) <= cap


@given(st.floats(0, 500, allow_nan=False))
def test_retry_after_is_honoured_up_to_the_limit(seconds: float) -> None:
    policy = RetryPolicy(max_retry_after=120.0)
    assert policy.delay(attempt=1, retry_after=seconds) == min(seconds, 120.0)
    assert policy.should_retry(attempt=1, code=429, retry_after=seconds) == (seconds <= 120.0)


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.should_retry(attempt=a, transport_error=True) for a in (1, 2, 3)] == [True, True, False]
    assert not policy.should_retry(attempt=1, code=422)


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("nan") is None and parse_retry_after("x") is None
