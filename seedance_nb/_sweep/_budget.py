"""What a sweep costs: one ``EstimateTask`` per distinct shape, the cap checked first, and while running.

A price depends on the shape of a request only (model, resolution, aspect ratio, duration, audio, last
frame, reference counts), so a sweep of hundreds of tasks asks Crun for a handful of estimates. Local files
are priced as placeholders (``estimate_payload``): nothing is uploaded to price a sweep.

Example:
    >>> budget = Budget(cap=60.0)
    >>> budget.admit(0, 29.0), budget.admit(1, 29.0), budget.admit(2, 29.0)     # the third would pass 60
    (True, True, False)
    >>> budget.settle(0, 23.2); budget.committed
    52.2
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from .._answers import Estimate
from .._client import Client
from .._models import R2VRequest, request_body
from ..errors import BudgetExceededError
from ..notebook._form_model import estimate_payload
from ._plan import Planned

__all__ = ["Budget", "check_cap", "payload_shape", "price_plan", "priced_estimate", "shape_label"]

_COUNTS = (("reference_images", "n_images"), ("reference_videos", "n_videos"), ("reference_audios", "n_audios"))
_OPTIONS = ("resolution", "aspect_ratio", "duration", "audio", "return_last_frame")


def payload_shape(payload: Mapping[str, Any]) -> str:
    """The shape of a CreateTask/EstimateTask body as a key (the fields of ``R2VRequest.shape``).

    Example:
        >>> req = R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])
        >>> payload_shape(req.to_payload()) == payload_shape(req.replace(prompt="[Image1] jumps").to_payload())
        True
    """
    given = payload.get("input") or {}
    shape = {"model": payload.get("model"), **{name: given.get(name) for name in _OPTIONS},
             **{count: len(given.get(name) or ()) for name, count in _COUNTS}}
    return json.dumps(shape, sort_keys=True)


def shape_label(request: R2VRequest) -> str:
    """A short text naming a request's shape (the dry-run plan's ``shape_label`` column).

    Example:
        >>> shape_label(R2VRequest(prompt="[Image1]", reference_images=["https://x.org/a.png"], duration=8))
        'seedance2-0-mini-r2v 720p 16:9 8s audio 1 image'
    """
    counts = [f"{len(refs)} {name.split('_')[1].rstrip('s')}{'s' if len(refs) > 1 else ''}"
              for name, refs in request.references.items() if refs]
    model = request.model.rsplit("/", 1)[-1] if isinstance(request.model, str) else str(request.model)
    flags = ["audio"] * bool(request.audio) + ["last frame"] * bool(request.return_last_frame)
    return " ".join([model, str(request.resolution), str(request.aspect_ratio), f"{request.duration}s",
                     *flags, *counts])


async def price_plan(client: Client, plan: Sequence[Planned]) -> tuple[dict[str, Estimate], list[float]]:
    """Ask ``EstimateTask`` once per distinct shape; return the estimates by shape and the price of each task.

    Raises:
        APIError / TransportError: Crun could not price the sweep (nothing was sent).

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> from seedance_nb._sweep._plan import expand
        >>> plan = expand({"prompt": "[Image1] waves", "reference_images": ["https://example.com/a.png"]},
        ...               grid={"duration": [4, 8]}, prompts=None, repeats=3)
        >>> async def main():
        ...     async with sn.Client() as client:
        ...         return await price_plan(client, plan)
        >>> by_shape, prices = asyncio.run(main())
        >>> len(by_shape), prices
        (2, [23.2, 46.4, 23.2, 46.4, 23.2, 46.4])
    """
    payloads = [estimate_payload(planned.request) for planned in plan]
    first: dict[str, dict[str, Any]] = {}
    for payload in payloads:
        first.setdefault(payload_shape(payload), payload)
    answers = await asyncio.gather(*(client.estimate(payload) for payload in first.values()))
    by_shape = dict(zip(first, answers, strict=True))
    return by_shape, [float(by_shape[payload_shape(p)].estimated_credits or 0.0) for p in payloads]


def priced_estimate(by_shape: Mapping[str, Estimate], fallback: Callable[[Any], Awaitable[Estimate]]
                    ) -> Callable[[Any], Awaitable[Estimate]]:
    """An ``estimate`` that answers from the sweep's estimates by shape (``fallback`` for a shape not priced).

    ``generate()`` prices each task before sending it; within a sweep that price is already known.

    Example:
        >>> import asyncio
        >>> async def never(request): raise AssertionError("not asked")
        >>> req = R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])
        >>> known = {payload_shape(req.to_payload()): Estimate(29.0, 100.0, True)}
        >>> asyncio.run(priced_estimate(known, never)(req.replace(prompt="[Image1] jumps"))).estimated_credits
        29.0
    """
    async def estimate(request: Any) -> Estimate:
        found = by_shape.get(payload_shape(request_body(request)))
        return found if found is not None else await fallback(request)
    return estimate


def check_cap(total: float, cap: float | None, *, spent: float = 0.0, tasks: int = 0) -> None:
    """Refuse a sweep whose estimate (plus what it spent already) passes ``max_credits``.

    Raises:
        BudgetExceededError: the estimate and the cap are in the message (nothing was sent).

    Example:
        >>> check_cap(58.0, 100.0)
        >>> check_cap(116.0, 100.0, tasks=4)
        Traceback (most recent call last):
        ...
        seedance_nb.errors.BudgetExceededError: the sweep is estimated at 116 credits (4 tasks), above
        max_credits=100; nothing was sent. ...
    """
    if cap is None or total + spent <= cap + 1e-9:
        return
    done = f" plus {spent:g} already spent by this sweep" if spent else ""
    raise BudgetExceededError(f"the sweep is estimated at {total:g} credits ({tasks} tasks){done}, above "
                              f"max_credits={cap:g}; nothing was sent. Raise max_credits, or make the grid or "
                              "repeats smaller (dry_run=True shows the plan and its price).",
                              estimate=round(total + spent, 6), cap=cap)  # sums of floats: 92.8, not 92.79999


class Budget:
    """The running total of a sweep: credits spent, plus estimates of the tasks in flight, against the cap.

    Once a task would pass the cap, the sweep stops submitting: that task and every later one is skipped.

    Args:
        cap: ``max_credits`` (``None``: no cap).
        spent: credits this sweep spent in earlier runs.
    """

    def __init__(self, cap: float | None, spent: float = 0.0) -> None:
        self.cap, self.spent, self.stopped = cap, spent, False
        self.reserved: dict[int, float] = {}

    @property
    def committed(self) -> float:
        """Credits spent plus the estimates of the tasks in flight."""
        return round(self.spent + sum(self.reserved.values()), 6)

    def admit(self, index: int, estimate: float) -> bool:
        """Reserve ``estimate`` for task ``index`` if the cap allows; otherwise stop the sweep's submissions."""
        if self.stopped or (self.cap is not None and self.committed + estimate > self.cap + 1e-9):
            self.stopped = True
            return False
        self.reserved[index] = estimate
        return True

    def settle(self, index: int, credits: float | None) -> None:
        """Task ``index`` ended (or was refused): its estimate is replaced by what it cost (``None``: its estimate)."""
        estimate = self.reserved.pop(index, 0.0)
        self.spent = round(self.spent + (estimate if credits is None else credits), 6)
