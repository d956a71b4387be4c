"""Fault injection for the simulator: parse a fault spec, keep exact scripts, pick a fault per call.

A spec is ``ENDPOINT:KIND=RATE`` items separated by commas::

    createtask:429=0.2, taskinfo:drop=0.05, *:500=0.01

ENDPOINT is one of ``createtask taskinfo estimate balance upload asset media *`` and KIND one of
``401 402 429 451 455 500 501 505`` (answered as that code), ``drop`` (the connection is closed without an
answer), ``slow`` (the answer comes after ``slow_delay`` seconds) or ``lost`` (CreateTask only: the task is
created and charged, then the answer is dropped). RATE is a probability in [0, 1].

Scripts come first: ``plan.script("createtask", ["lost", None, "429"])`` applies those kinds to the next three
CreateTask calls in order (``None`` = answer normally); the random rates apply once a script is used up.

Example:
    >>> spec = parse_faults("createtask:429=0.5, *:drop=0.1")
    >>> spec.rules["createtask"]
    (('429', 0.5),)
    >>> plan = FaultPlan(spec, seed=1)
    >>> plan.script("balance", ["500", None])
    >>> [plan.choose("balance") for _ in range(2)]
    ['500', None]
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "CODE_KINDS",
    "ENDPOINTS",
    "KINDS",
    "FaultPlan",
    "FaultSpec",
    "parse_faults",
]

ENDPOINTS: tuple[str, ...] = ("createtask", "taskinfo", "estimate", "balance", "upload", "asset", "media")
CODE_KINDS: tuple[str, ...] = ("401", "402", "429", "451", "455", "500", "501", "505")
KINDS: tuple[str, ...] = (*CODE_KINDS, "drop", "slow", "lost")
_ALL = "*"


@dataclass(frozen=True)
class FaultSpec:
    """A parsed fault spec: for each endpoint (or ``*``) the kinds and their rates, in spec order.

    ``text`` is the normalised spec, suitable for printing or for ``parse_faults`` again.

    Example:
        >>> spec = FaultSpec({"createtask": (("429", 0.2),), "*": (("drop", 0.05),)})
        >>> spec.text
        'createtask:429=0.2,*:drop=0.05'
        >>> spec.rates_for("createtask"), spec.rates_for("balance")
        ((('429', 0.2), ('drop', 0.05)), (('drop', 0.05),))
        >>> parse_faults(spec.text) == spec
        True
    """

    rules: Mapping[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The spec in its canonical text form (empty when there are no faults)."""
        return ",".join(f"{ep}:{kind}={rate:g}" for ep, items in self.rules.items() for kind, rate in items)

    def rates_for(self, endpoint: str) -> tuple[tuple[str, float], ...]:
        """The kinds that may hit ``endpoint``: its own items, then the ``*`` items."""
        return self.rules.get(endpoint, ()) + self.rules.get(_ALL, ())


def _kind(value: object, where: str) -> str:
    text = str(value).strip().lower()
    if text not in KINDS:
        raise ValueError(f"Unknown fault kind {value!r} in {where}: use one of {' '.join(KINDS)}.")
    return text


def _check_lost(endpoint: str, kind: str, where: str) -> None:
    # `lost` means "created and charged, answer dropped": it only makes sense where something is created.
    if kind == "lost" and endpoint != "createtask":
        raise ValueError(f"Fault kind 'lost' applies to createtask only, not {endpoint!r} (in {where}).")


def parse_faults(spec: str | FaultSpec | None) -> FaultSpec:
    """Parse ``ENDPOINT:KIND=RATE,...`` into a ``FaultSpec``.

    ``None`` or an empty string means no faults. The same endpoint may list several kinds; their rates, plus
    those of ``*``, must not add up to more than 1.

    Raises:
        ValueError: the spec is malformed; the message names the item and what would be accepted.

    Example:
        >>> parse_faults("createtask:lost=1").text
        'createtask:lost=1'
        >>> parse_faults("")
        FaultSpec(rules={})
    """
    if isinstance(spec, FaultSpec):
        return spec
    if spec is None or not str(spec).strip():
        return FaultSpec({})
    rules: dict[str, list[tuple[str, float]]] = {}
    for raw in str(spec).split(","):
        item = raw.strip()
        if not item:
            continue
        head, eq, rate_text = item.partition("=")
        endpoint, colon, kind_text = head.partition(":")
        if not eq or not colon:
            raise ValueError(
                f"Fault item {item!r} is not of the form ENDPOINT:KIND=RATE (e.g. 'createtask:429=0.2')."
            )
        endpoint = endpoint.strip().lower()
        if endpoint != _ALL and endpoint not in ENDPOINTS:
            raise ValueError(
                f"Unknown fault endpoint {endpoint!r} in {item!r}: use one of {' '.join(ENDPOINTS)} or '*'."
            )
        kind = _kind(kind_text, repr(item))
        _check_lost(endpoint, kind, repr(item))
        try:
            rate = float(rate_text)
        except ValueError:
            raise ValueError(f"Fault rate {rate_text.strip()!r} in {item!r} is not a number in [0, 1].") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"Fault rate {rate:g} in {item!r} is outside [0, 1].")
        rules.setdefault(endpoint, []).append((kind, rate))
    frozen = {ep: tuple(items) for ep, items in rules.items()}
    result = FaultSpec(frozen)
    for endpoint in ENDPOINTS:
        total = sum(rate for _, rate in result.rates_for(endpoint))
        if total > 1.0 + 1e-9:
            raise ValueError(
                f"Fault rates for {endpoint!r} (its own items plus '*') add up to {total:g}, more than 1."
            )
    return result


class FaultPlan:
    """Which fault, if any, hits the next call of an endpoint. Thread-safe; the randomness is seeded.

    Example:
        >>> plan = FaultPlan(parse_faults("taskinfo:500=1"), seed=0)
        >>> plan.choose("taskinfo"), plan.choose("balance")
        ('500', None)
    """

    def __init__(self, spec: FaultSpec | str | None = None, *, seed: int | None = None) -> None:
        self._spec = parse_faults(spec)
        self._rng = random.Random(seed)
        self._scripts: dict[str, deque[str | None]] = {}
        self._lock = threading.Lock()

    @property
    def spec(self) -> FaultSpec:
        """The current random-rate spec."""
        return self._spec

    def set_spec(self, spec: FaultSpec | str | None) -> FaultSpec:
        """Replace the random rates (scripts stay). Raises ``ValueError`` on a bad spec."""
        parsed = parse_faults(spec)
        with self._lock:
            self._spec = parsed
        return parsed

    def script(self, endpoint: str, kinds: Iterable[str | int | None]) -> None:
        """Apply ``kinds`` to the next calls of ``endpoint`` in order; ``None`` answers normally.

        A new script for an endpoint replaces what is left of the old one. ``endpoint`` may be ``*``: that
        script is used by any endpoint whose own script is empty.

        Raises:
            ValueError: unknown endpoint or kind, or ``lost`` outside createtask.
        """
        endpoint = endpoint.strip().lower()
        if endpoint != _ALL and endpoint not in ENDPOINTS:
            raise ValueError(f"Unknown endpoint {endpoint!r}: use one of {' '.join(ENDPOINTS)} or '*'.")
        items: list[str | None] = []
        for value in kinds:
            if value is None:
                items.append(None)
                continue
            kind = _kind(value, f"the script for {endpoint}")
            _check_lost(endpoint, kind, f"the script for {endpoint}")
            items.append(kind)
        with self._lock:
            self._scripts[endpoint] = deque(items)

    def pending_script(self, endpoint: str) -> list[str | None]:
        """What is left of the script for ``endpoint`` (for inspection)."""
        with self._lock:
            return list(self._scripts.get(endpoint, ()))

    def choose(self, endpoint: str) -> str | None:
        """The fault kind for this call of ``endpoint``, or ``None`` for a normal answer."""
        with self._lock:
            for key in (endpoint, _ALL):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
            items = self._spec.rates_for(endpoint)
            if not items:
                return None
            # One draw per call, walked through the cumulative rates, so rates of one endpoint never overlap.
            draw = self._rng.random()
            total = 0.0
            for kind, rate in items:
                total += rate
                if draw < total:
                    return kind
            return None
