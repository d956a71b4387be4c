"""What the tests that run generate() against the simulator share: quick polls and a small request."""

from __future__ import annotations

import asyncio
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
