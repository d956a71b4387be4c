"""What the tests share: quick polls, a small request, and a ticker that shows the event loop kept running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import seedance_nb as sn

URL = "https://example.com/street.png"


async def quick(seconds: float) -> None:
    """Poll often: these tests check what is recorded and paid, not the schedule (tests/unit/test_polling.py)."""
    await asyncio.sleep(min(seconds, 0.05))


QUICK: dict[str, Any] = {"progress": False, "sleep": quick}


def request(prompt: str = "[Image1] crosses the street", **kw: object) -> sn.R2VRequest:
    """A small valid request (4 s at 480p, one image URL) with any field changed."""
    fields: dict[str, object] = {"duration": 4, "resolution": "480p", **kw}
    return sn.R2VRequest(prompt=prompt, reference_images=[URL], **fields)  # type: ignore[arg-type]


class Ticks:
    """How many times a coroutine on the loop woke up, every ``every`` seconds, while a block ran."""

    count = 0


@asynccontextmanager
async def ticking(every: float) -> AsyncIterator[Ticks]:
    """Count the loop's ticks during the block: a block that blocked the loop shows (almost) none."""
    ticks = Ticks()

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            ticks.count += 1

    task = asyncio.ensure_future(beat())
    try:
        yield ticks
    finally:
        task.cancel()
