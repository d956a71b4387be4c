"""Shared fixtures of the simulator tests: the plugin's simulators, a fake clock, plain httpx clients."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from seedance_nb.simulator import Simulator, pytest_plugin

# The package's own pytest11 plugin fixtures, bound here so the suite runs even before the package is installed
# (once it is, these shadow the plugin's identical ones).
crun_simulator = pytest_plugin.crun_simulator
crun_simulator_session = pytest_plugin.crun_simulator_session

KEY = "ak_" + "Sim0" * 8
MINI = "bytedance/seedance2-0-mini-r2v"


class FakeClock:
    """A clock the test moves by hand, and can ask whether the simulator has looked at it since."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self._reads = 0
        self._read = threading.Condition()

    def __call__(self) -> float:
        with self._read:
            self._reads += 1
            self._read.notify_all()
            return self.now

    def advance(self, seconds: float) -> None:
        with self._read:
            self.now += seconds

    def wait_for_reads(self, count: int, timeout: float = 5.0) -> None:
        """Block until the clock has been read ``count`` more times (by any thread; with no request in
        flight, by the simulator's callback watcher, once per round)."""
        with self._read:
            target = self._reads + count
            assert self._read.wait_for(lambda: self._reads >= target, timeout), "the clock was not read"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def key() -> str:
    return KEY


@pytest.fixture
def body() -> Callable[..., dict[str, Any]]:
    """Build a valid CreateTask body; keyword arguments override ``input`` fields (None removes one)."""

    def make(model: str = MINI, callback_url: str | None = None, **fields: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"prompt": "a corgi runs through the rain",
                                "reference_images": ["https://example.com/a.png"]}
        for name, value in fields.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        out: dict[str, Any] = {"model": model, "input": data}
        if callback_url is not None:
            out["callback_url"] = callback_url
        return out

    return make


def client_for(sim: Simulator, key: str | None = KEY, **kwargs: Any) -> httpx.Client:
    """A plain httpx client on the simulator's base URL (never the environment's proxies)."""
    headers = {"x-api-key": key} if key else {}
    return httpx.Client(base_url=sim.base_url, headers=headers, trust_env=False, timeout=10, **kwargs)


@pytest.fixture
def api(crun_simulator: Simulator) -> Iterator[httpx.Client]:
    """A client of the per-test simulator with a valid key."""
    with client_for(crun_simulator) as c:
        yield c


@pytest.fixture
def session_api(crun_simulator_session: Simulator) -> Iterator[httpx.Client]:
    """A client of the shared session simulator (for tests that change no faults or knobs)."""
    with client_for(crun_simulator_session) as c:
        yield c


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Start simulators with any knobs; all are stopped after the test."""
    started: list[Simulator] = []

    def make(**knobs: Any) -> Simulator:
        knobs.setdefault("latency", 0)
        sim = Simulator(**knobs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def client_of() -> Iterator[Callable[..., httpx.Client]]:
    """Open clients for any simulator; all are closed after the test."""
    opened: list[httpx.Client] = []

    def make(sim: Simulator, key: str | None = KEY, **kwargs: Any) -> httpx.Client:
        c = client_for(sim, key, **kwargs)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()
