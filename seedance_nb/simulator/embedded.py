"""``use_simulator()``: start the embedded Crun simulator and point the default client at it.

Its tasks, assets, uploads and balance are kept in ``$SEEDANCE_NB_HOME/simulator/``, beside the task log, so
that after a kernel restart ``use_simulator()`` and ``resume()`` find the tasks again, as they would at Crun.

Example:
    >>> import seedance_nb as sn
    >>> sim = sn.use_simulator(latency=2)
    >>> sim.base_url.startswith("http://127.0.0.1:"), sim.base_url.endswith("/api/v1")
    (True, True)
    >>> sn.stop_simulator()
"""

from __future__ import annotations

import atexit
import secrets
import threading
from typing import TYPE_CHECKING, Any

from ..config import clear_endpoint_override, home_dir, set_endpoint_override

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = ["stop_simulator", "use_simulator"]

_current: Simulator | None = None
_lock = threading.Lock()


def use_simulator(latency: float | str | tuple[float, float] = 2.0, faults: str | None = None, *,
                  errors_as_200: bool = False, persist: bool = True, **options: Any) -> Simulator:
    """Start the embedded Crun simulator on a free loopback port and make it the default endpoint.

    Every ``Client()`` built without arguments afterwards talks to it with a made-up key, so no Crun key
    or network is needed; results are marked ``simulated`` in the log and the widgets. Calling it again
    replaces the running simulator.

    Its tasks, assets, uploads, balance and counters are kept in ``$SEEDANCE_NB_HOME/simulator/`` (beside
    the task log ``tasks.sqlite``), written through at every change: like Crun's, its tasks outlive the
    kernel. After a restart (even a crash), ``use_simulator()`` again and ``await sn.resume()`` find them,
    ``pending``, ``running`` or ended as the time passed, and archive their videos; nothing is charged twice.
    Several kernels on one home share that state as they would share one Crun account. Delete the folder to
    start afresh (``balance=`` sets the balance of a new folder only).

    Args:
        latency: seconds from CreateTask to the final status (0 = at once; ``"MIN-MAX"`` or a tuple draws
            uniformly).
        faults: ``ENDPOINT:KIND=RATE,...``, e.g. ``"taskinfo:429=0.2"``; the endpoints and kinds are in the
            docstring of ``seedance_nb.simulator.faults`` and in README.md, "The simulator".
        errors_as_200: answer errors as HTTP 200 with the code only in the body.
        persist: keep the state in ``$SEEDANCE_NB_HOME/simulator/`` (default); ``False`` keeps it in memory,
            lost with the kernel. ``state_dir=`` chooses another folder.
        **options: further ``Simulator`` knobs (``balance=``, ``seed=``, ``fail_rate=``, ``state_dir=``, ...).

    Returns:
        The running ``Simulator`` (``.base_url``, ``.stats()``, ``.set_faults()``, ``.stop()``).

    Example:
        >>> import asyncio, seedance_nb as sn
        >>> sim = sn.use_simulator(latency=0, balance=50)
        >>> async def main():
        ...     async with sn.Client() as client:         # no key needed: the default client talks to it
        ...         return client.simulated, await client.balance()
        >>> asyncio.run(main())
        (True, 50.0)
        >>> sim.stats()["balance"]
        50.0
        >>> from seedance_nb.config import home_dir
        >>> sim.state_dir == home_dir() / "simulator"
        True
        >>> sn.stop_simulator()                          # clients read CRUN_API_KEY / CRUN_BASE_URL again
        >>> sn.use_simulator(latency=0).stats()["balance"]   # the state outlived that simulator
        50.0
        >>> sn.use_simulator(latency=0, persist=False).state_dir is None
        True
        >>> sn.stop_simulator()
    """
    from .simulator import Simulator

    global _current
    with _lock:
        if _current is not None:
            _current.stop()
        key = "ak_" + secrets.token_hex(16)  # made up per process; the simulator accepts exactly this one
        if persist:  # tasks are the account's, not the key's: the next key sees them all
            options.setdefault("state_dir", home_dir() / "simulator")
        simulator = Simulator(latency=latency, faults=faults, errors_as_200=errors_as_200, api_key=key, **options)
        simulator.start()
        set_endpoint_override(simulator.base_url, key)
        _current = simulator
    return simulator


def stop_simulator() -> None:
    """Stop the embedded simulator and let clients read the environment again (safe to call twice).

    Example:
        >>> import seedance_nb as sn
        >>> sim = sn.use_simulator(latency=0)
        >>> sn.Client().simulated
        True
        >>> sn.stop_simulator()
        >>> sn.Client(api_key="ak_" + "0" * 32).simulated
        False
    """
    global _current
    with _lock:
        if _current is not None:
            _current.stop()
            _current = None
        clear_endpoint_override()


atexit.register(stop_simulator)
