"""Fixtures of the integration tests: a simulator on loopback, a client for it, a task log in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import seedance_nb as sn
from seedance_nb.simulator import Simulator


@pytest.fixture
def sim(fake_key: str) -> Iterator[Simulator]:
    simulator = Simulator(latency=0.3, api_key=fake_key, slow_delay=3.0).start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def client(sim: Simulator, fake_key: str) -> sn.Client:
    return sn.Client(api_key=fake_key, base_url=sim.base_url, timeout=2.0)


@pytest.fixture
def log(tmp_path: Path) -> sn.TaskLog:
    return sn.TaskLog(tmp_path / "runs" / "tasks.sqlite")
