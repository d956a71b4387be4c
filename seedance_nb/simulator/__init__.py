"""The Crun simulator: a real HTTP server imitating Crun's API for Seedance 2.0 reference-to-video.

It implements every endpoint of ``CRUN_API.md`` with the same envelope, validation (422 naming the field),
auth (401), credits (402), task lifecycle, callbacks, asset review and presigned uploads; renders real MP4s
with the bundled ffmpeg; and injects faults on demand. Every answer carries ``X-Crun-Simulator: seedance_nb``.

``Simulator`` is imported on first use (it brings uvicorn and Starlette), so loading the pytest plugin or
parsing a fault spec stays cheap.

Example:
    >>> import httpx
    >>> from seedance_nb.simulator import Simulator
    >>> with Simulator(latency=0) as sim:
    ...     r = httpx.get(f"{sim.base_url}/client/account/balance", headers={"x-api-key": "ak_" + "0" * 32},
    ...                   trust_env=False)
    >>> r.json()["data"]
    {'balance': 100000.0}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
from .faults import FaultSpec, parse_faults

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = ["FaultSpec", "Simulator", "parse_faults"]

# name -> module that defines it, imported on first access (uvicorn and Starlette stay unloaded until needed)
_LAZY: dict[str, str] = {"Simulator": "simulator"}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)
