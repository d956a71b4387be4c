"""pytest fixtures that run the Crun simulator on loopback (registered as the ``seedance_nb`` pytest11 plugin).

Nothing starts at import or when pytest configures itself: a simulator starts only when a test asks for one
of these fixtures, and stops when the fixture's scope ends.

* ``crun_simulator``: a fresh simulator per test, latency 0, assets Active at once. Pass other knobs with
  indirect parametrisation.
* ``crun_simulator_session``: one simulator for the whole session (latency 0); share it only between tests
  that do not change its faults.

Example::

    import httpx, pytest

    def test_balance(crun_simulator):
        r = httpx.get(f"{crun_simulator.base_url}/client/account/balance",
                      headers={"x-api-key": "ak_" + "0" * 32})
        assert r.json()["data"]["balance"] == 100000

    @pytest.mark.parametrize("crun_simulator", [{"faults": "createtask:429=1"}], indirect=True)
    def test_rate_limited(crun_simulator): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = ["crun_simulator", "crun_simulator_session"]


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {"latency": 0.0, "asset_delay": 0.0}
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, dict):
            raise TypeError("Parametrise crun_simulator with a dict of Simulator knobs, e.g. {'latency': 1}.")
        options.update(param)
    return options


@pytest.fixture
def crun_simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A running Crun simulator for one test (latency 0); stopped afterwards."""
    from .simulator import Simulator  # imported here so that loading the plugin stays cheap

    with Simulator(**_options(request)) as sim:
        yield sim


@pytest.fixture(scope="session")
def crun_simulator_session(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """One running Crun simulator for the whole session (latency 0); stopped at the end."""
    from .simulator import Simulator

    with Simulator(**_options(request)) as sim:
        yield sim
