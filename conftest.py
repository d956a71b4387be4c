"""Test-session set-up shared by tests/ and notebooks/ (nbval).

nbval runs each notebook in its own kernel process, which pytest fixtures never reach; the environment
does. So one simulator is started here for the whole session and its URL, a made-up key and a scratch
SEEDANCE_NB_HOME are exported before any kernel starts (TESTING.md). The docstring examples of the package
(``--doctest-modules``) talk to the same simulator, each with a task log of its own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_state: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    from seedance_nb.simulator import Simulator

    key = "ak_" + secrets.token_hex(16)
    simulator = Simulator(latency=0.5, api_key=key).start()
    home = tempfile.mkdtemp(prefix="seedance-nb-tests-")
    _state.update(simulator=simulator, home=home, saved={k: os.environ.get(k) for k in _EXPORTS})
    os.environ.update({"CRUN_BASE_URL": simulator.base_url, "CRUN_API_KEY": key, "SEEDANCE_NB_HOME": home,
                       "SEEDANCE_NB_TEST_SIMULATOR": simulator.base_url})


_EXPORTS = ("CRUN_BASE_URL", "CRUN_API_KEY", "SEEDANCE_NB_HOME", "SEEDANCE_NB_TEST_SIMULATOR")


def pytest_unconfigure(config: pytest.Config) -> None:
    simulator = _state.pop("simulator", None)
    if simulator is not None:
        simulator.stop()  # type: ignore[attr-defined]
    saved = _state.pop("saved", {})
    for name, value in saved.items():  # type: ignore[attr-defined]
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    home = _state.pop("home", None)
    if home:
        shutil.rmtree(str(home), ignore_errors=True)


@pytest.fixture(autouse=True)
def _doctest_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each docstring example gets its own SEEDANCE_NB_HOME, so the tasks it reads are the ones it made,
    and no example that called ``sn.use_simulator()`` redirects the clients of later tests."""
    if type(request.node).__name__ != "DoctestItem":  # pytest has no public name for it
        yield
        return
    monkeypatch.setenv("SEEDANCE_NB_HOME", str(tmp_path_factory.mktemp("doctest") / "home"))
    yield
    from seedance_nb.simulator.embedded import stop_simulator

    stop_simulator()
