from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def fake_key() -> str:
    """A key of Crun's form, made up for this test run (never a real one)."""
    return "ak_" + secrets.token_hex(16)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts with no key, the default base URL, its own home, and no simulator override."""
    from seedance_nb import config

    for name in ("CRUN_API_KEY", "CRUN_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDANCE_NB_HOME", str(tmp_path / "home"))
    config.clear_endpoint_override()
