"""One rate limiter for a whole sweep: a 429 from Crun pauses every request of the sweep, not just its own.

Each request retries a 429 by itself (after ``Retry-After``); within a sweep that is not enough: the other
workers would go on hammering the API. ``SharedLimiter.attach(client)`` adds two httpx event hooks to the
client for the duration of the sweep: a response hook that notes a 429's ``Retry-After``, and a request hook
that holds every request to the API until that time has passed.

Example:
    >>> import asyncio
    >>> now = [0.0]
    >>> async def sleep(seconds): now[0] += seconds
    >>> limiter = SharedLimiter(clock=lambda: now[0], sleep=sleep)
    >>> limiter.pause(3.0); asyncio.run(limiter.wait()); now[0]
    3.0
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx

from .._client import Client
from .._retrying import parse_retry_after

__all__ = ["DEFAULT_PAUSE_S", "SharedLimiter"]

DEFAULT_PAUSE_S = 1.0  # a 429 without Retry-After
MAX_PAUSE_S = 120.0  # as RetryPolicy.max_retry_after: a longer ask is capped, not obeyed for hours


class SharedLimiter:
    """The moment before which no request of the sweep leaves, pushed on by every 429.

    Args:
        clock: monotonic seconds (``time.monotonic``; a test injects a fake one).
        sleep: the wait (``asyncio.sleep``; a test injects a fake one).
    """

    def __init__(self, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self.clock = clock or time.monotonic
        self.sleep = sleep or asyncio.sleep
        self.until = float("-inf")
        self.pauses = 0  # how many 429s paused the sweep
        self.waited = 0.0  # seconds requests were held, summed over requests

    def pause(self, retry_after: float | None) -> None:
        """A 429 came: hold every request for ``retry_after`` seconds from now (default 1 s).

        Example:
            >>> limiter = SharedLimiter(clock=lambda: 100.0)
            >>> limiter.pause(2.0); limiter.pause(None); limiter.until, limiter.pauses
            (102.0, 2)
        """
        seconds = DEFAULT_PAUSE_S if retry_after is None else min(max(retry_after, 0.0), MAX_PAUSE_S)
        self.until = max(self.until, self.clock() + seconds)
        self.pauses += 1

    async def wait(self) -> None:
        """Return once no pause holds (at once when none does). Bounded: each turn waits out the pause."""
        for _ in range(1000):
            left = self.until - self.clock()
            if left <= 0:
                return
            self.waited += left
            await self.sleep(left)

    @contextmanager
    def attach(self, client: Client) -> Iterator[None]:
        """Within this block, every request of ``client`` to its API waits for the limiter and every 429
        pauses it (the hooks are removed at the end).

        Example:
            >>> import seedance_nb as sn
            >>> client = sn.Client(api_key="ak_" + "0" * 32, base_url="http://127.0.0.1:9/api/v1")
            >>> with SharedLimiter().attach(client):
            ...     len(client.http.event_hooks["request"])
            2
            >>> len(client.http.event_hooks["request"])
            1
        """
        host = urlsplit(client.base_url).hostname

        async def hold(request: httpx.Request) -> None:
            if request.url.host == host:
                await self.wait()

        async def notice(response: httpx.Response) -> None:
            if response.status_code == 429:
                self.pause(parse_retry_after(response.headers.get("retry-after")))

        hooks = client.http.event_hooks
        hooks["request"].append(hold)
        hooks["response"].append(notice)
        try:
            yield
        finally:
            hooks["request"].remove(hold)
            hooks["response"].remove(notice)
