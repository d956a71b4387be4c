"""The simulator's knobs (the same names on the command line and in ``use_simulator()``), checked once.

Example:
    >>> parse_latency("2-5"), parse_latency(0), parse_latency((1, 3))
    ((2.0, 5.0), (0.0, 0.0), (1.0, 3.0))
    >>> Knobs(rates={"720p": 6.0}).rates["480p"]
    2.9
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalogue import DEFAULT_RATES

__all__ = ["Knobs", "LatencyLike", "parse_latency"]

LatencyLike = float | int | str | tuple[float, float] | list[float]


def _seconds(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number of seconds.") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} {value!r} must be a finite number of seconds ≥ 0.")
    return number


def parse_latency(value: LatencyLike | None) -> tuple[float, float]:
    """Latency as ``(min, max)`` seconds from a number, a ``(min, max)`` pair or a ``"MIN-MAX"`` string.

    Raises:
        ValueError: negative, not a number, or min above max.
    """
    if value is None:
        return (0.0, 0.0)
    if isinstance(value, str):
        text = value.strip()
        low, dash, high = text.partition("-")
        pair = (_seconds(low, "Latency"), _seconds(high, "Latency")) if dash else (_seconds(text, "Latency"),) * 2
    elif isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(f"Latency {value!r} must be a (min, max) pair.")
        pair = (_seconds(value[0], "Latency"), _seconds(value[1], "Latency"))
    else:
        pair = (_seconds(value, "Latency"),) * 2
    if pair[0] > pair[1]:
        raise ValueError(f"Latency range {value!r} has its minimum above its maximum.")
    return pair


@dataclass(frozen=True)
class Knobs:
    """Every setting of one simulator, validated. ``api_key`` never shows in a repr."""

    latency: tuple[float, float] = (0.0, 0.0)
    errors_as_200: bool = False
    api_key: str | None = field(default=None, repr=False)
    balance: float = 100000.0
    rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    fail_rate: float = 0.0
    asset_delay: float = 0.0
    slow_delay: float = 60.0
    retry_after: int = 1
    media_ttl: float | None = None
    seed: int | None = None
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        # Frozen dataclass: normalise through object.__setattr__ so callers may pass loose values.
        object.__setattr__(self, "latency", parse_latency(self.latency))
        merged = dict(DEFAULT_RATES)
        for key, rate in dict(self.rates).items():
            merged[key] = _seconds(rate, f"Rate for {key!r}")
        object.__setattr__(self, "rates", merged)
        if not 0.0 <= float(self.fail_rate) <= 1.0:
            raise ValueError(f"fail_rate {self.fail_rate!r} must be in [0, 1].")
        object.__setattr__(self, "balance", float(self.balance))
        object.__setattr__(self, "asset_delay", _seconds(self.asset_delay, "asset_delay"))
        object.__setattr__(self, "slow_delay", _seconds(self.slow_delay, "slow_delay"))
        if self.media_ttl is not None:
            object.__setattr__(self, "media_ttl", _seconds(self.media_ttl, "media_ttl"))
        if isinstance(self.retry_after, bool) or int(self.retry_after) < 0:
            raise ValueError(f"retry_after {self.retry_after!r} must be a whole number of seconds ≥ 0.")
        object.__setattr__(self, "retry_after", int(self.retry_after))
        if self.api_key is not None and not str(self.api_key).strip():
            object.__setattr__(self, "api_key", None)

    def price(self, resolution: str, duration: int) -> float:
        """Credits for one task: ``rate[resolution] × duration`` (CRUN_API.md §0).

        Example:
            >>> Knobs().price("720p", 5)
            29.0
        """
        return round(self.rates[resolution] * duration, 4)
