"""Fixtures of the unit tests: a fake Crun on httpx.MockTransport and a fake clock (see tests/fake_crun.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_crun import BASE, FakeClock, FakeCrun
from media_factory import video

import seedance_nb as sn


@pytest.fixture(scope="session")
def fake_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return video(tmp_path_factory.mktemp("media") / "clip.mp4", seconds=2).read_bytes()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_crun(fake_clock: FakeClock, fake_mp4: bytes) -> FakeCrun:
    return FakeCrun(fake_clock, fake_mp4)


@pytest.fixture
async def fake_client(fake_crun: FakeCrun, fake_clock: FakeClock, fake_key: str) -> Any:
    async with sn.Client(api_key=fake_key, base_url=BASE, transport=httpx.MockTransport(fake_crun),
                         sleep=fake_clock.sleep) as opened:
        yield opened


@pytest.fixture
def fake_log(tmp_path: Path, fake_clock: FakeClock) -> sn.TaskLog:
    return sn.TaskLog(tmp_path / "tasks.sqlite", clock=fake_clock.now)
