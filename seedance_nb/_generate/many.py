"""``generate_many()``: several ``generate()`` runs at once on one client, shown as a grid of players.

Each request is its own ``generate()``: recorded before it is sent, sent once, followed, archived. A task
that fails, is refused or times out does not stop the others; its exception stays in its slot as a
``Failed`` record, which the grid shows with what to do. Interrupting the cell cancels the runs, and every
task already sent stays in the log for ``sn.resume()`` (the cancellation is not swallowed).

The example is on ``generate_many()`` (it runs against the test session's simulator).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from .._answers import TaskInfo
from .._client import Client
from .._models import R2VRequest
from ..errors import Problem, ValidationError, safe_text
from ..notebook import Failed, Generations, ProgressLine
from ..notebook._grid import Item
from .job import OnUpdate, client_and_log
from .submit import generate

if TYPE_CHECKING:
    from ..tasklog import TaskLog

__all__ = ["generate_many"]

_FIELDS = frozenset(f.name for f in fields(R2VRequest))
# The progress line lists the states in the order a task goes through them, then the outcomes as they come.
_RANK = {state: rank for rank, state in enumerate(("queued", "submitting", "pending", "running"))}


async def generate_many(requests: Iterable[R2VRequest | Mapping[str, Any]], /, *, concurrency: int = 4,
                        client: Client | None = None, log: TaskLog | None = None, progress: bool = True,
                        on_update: OnUpdate | None = None, **generate_kwargs: Any) -> Generations:
    """Run several ``generate()`` calls at once (at most ``concurrency`` in flight) and return them in order.

    Args:
        requests: ``R2VRequest``s, or dicts of their fields (``{"prompt": ..., "duration": 8}``).
        concurrency: how many tasks are in flight at once (default 4).
        client: the ``Client`` all tasks share (default: one built here and closed at the end).
        log: the ``TaskLog`` (default: ``$SEEDANCE_NB_HOME/tasks.sqlite``).
        progress: show one live line for the whole batch (how many are queued, running, done).
        on_update: called with each new ``TaskInfo`` of any task (a function or a coroutine function).
        **generate_kwargs: passed to each ``generate()`` (``timeout=`` per task, ``new=``, ``tags=``, …).
            Request fields given here (``reference_images=[...]``, ``duration=4``) are shared: they fill in
            what a dict leaves out, and replace the value of each ``R2VRequest``.

    Returns:
        ``Generations``: a list with, per request and in the same order, its ``Generation`` or a ``Failed``
        record (``.error``, ``.status``, ``.advice()``). A notebook shows it as a grid of players. Identical
        requests are run once and share the result (``new=True`` pays for each).

    Raises:
        ValidationError: ``requests`` is not a list of requests, or ``concurrency`` is below 1 (nothing ran).
        asyncio.CancelledError: the cell was interrupted; tasks already sent are in the log for ``sn.resume()``.

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> gens = asyncio.run(sn.generate_many(
        ...     [{"prompt": "[Image1] waves"}, {"prompt": "[Image1] falls [simulate:failed]"}],
        ...     reference_images=["https://example.com/a.png"], duration=4, progress=False))
        >>> [item.status for item in gens], type(gens[1].error).__name__, gens[1].code
        (['success', 'failed'], 'GenerationFailedError', 501)
        >>> gens[1].advice()
        "await sn.resubmit('...') sends it again"
    """
    shared = {name: value for name, value in generate_kwargs.items() if name in _FIELDS}
    options = {name: value for name, value in generate_kwargs.items() if name not in _FIELDS}
    built = _build(requests, shared)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        raise ValidationError([Problem("concurrency", concurrency, "must be a whole number of at least 1",
                                       "Use concurrency=4, say.")])
    batch = _Batch(built, ProgressLine(mode=None if progress else "off"), options.get("clock") or time.monotonic)
    async with client_and_log(client, log) as (client_, log_):
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int, request: R2VRequest) -> None:
            async with gate:
                batch.set(index, "submitting")
                try:
                    gen: Item = await generate(request, client=client_, log=log_, progress=False,
                                               on_update=batch.hook(index, on_update), **options)
                except Exception as exc:  # this task's outcome, not the batch's: the others go on
                    gen = Failed(request, exc)
                batch.done(index, gen)

        async with asyncio.TaskGroup() as group:  # a cancelled cell cancels every run, and waits for them
            for index, item in enumerate(built):
                if isinstance(item, R2VRequest):
                    group.create_task(one(index, item))
    return batch.finish()


def _build(requests: Iterable[R2VRequest | Mapping[str, Any]], shared: Mapping[str, Any]) -> list[Item | R2VRequest]:
    """Each request built with the shared fields; one that cannot be built is a ``Failed`` in its slot."""
    if isinstance(requests, (R2VRequest, Mapping, str, bytes)) or not isinstance(requests, Iterable):
        raise ValidationError([Problem("requests", safe_text(requests, 60), "is not a list of requests",
                                       "Pass a list: generate_many([request, ...]).")])
    built: list[Item | R2VRequest] = []
    wrong: list[Problem] = []
    for index, item in enumerate(requests):
        if isinstance(item, R2VRequest):
            built.append(item.replace(**shared) if shared else item)
        elif isinstance(item, Mapping):
            merged = {**shared, **item}
            try:
                built.append(R2VRequest.from_fields(**merged))
            except (ValidationError, TypeError) as exc:  # TypeError: a key that is not a string
                built.append(Failed(merged, exc))
        else:
            wrong.append(Problem(f"requests[{index}]", safe_text(item, 60), "is not an R2VRequest or a dict of its "
                                 "fields", "Build it with sn.R2VRequest(prompt=..., ...) or {'prompt': ...}."))
    if wrong:
        raise ValidationError(wrong)
    return built


class _Batch:
    """The slots of a batch and its one progress line (queued, submitting, pending, running, done)."""

    def __init__(self, built: list[Item | R2VRequest], line: ProgressLine,
                 clock: Callable[[], float]) -> None:
        self.results: list[Item | None] = [None if isinstance(b, R2VRequest) else b for b in built]
        self.states = ["queued" if r is None else r.status for r in self.results]
        self.line, self.clock, self.started = line, clock, clock()

    def set(self, index: int, state: str) -> None:
        self.states[index] = state
        shown = sorted(dict.fromkeys(self.states), key=lambda s: _RANK.get(s, len(_RANK)))
        counts = {s: self.states.count(s) for s in shown}
        done = sum(r is not None for r in self.results)
        self.line.update(", ".join(f"{n} {s}" for s, n in counts.items()), elapsed=self.clock() - self.started,
                         extra=f"{done}/{len(self.states)} done")

    def hook(self, index: int, on_update: OnUpdate | None) -> OnUpdate:
        """An ``on_update`` that moves this task's state on, then calls the user's."""
        def hook(info: TaskInfo) -> Any:
            if info.status and not info.is_final:
                self.set(index, info.status)
            return on_update(info) if on_update is not None else None
        return hook

    def done(self, index: int, item: Item) -> None:
        self.results[index] = item
        self.set(index, item.status)

    def finish(self) -> Generations:
        gens = Generations(r for r in self.results if r is not None)
        self.line.finish(gens.summary())
        return gens
