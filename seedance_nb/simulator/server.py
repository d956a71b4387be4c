"""Serving the simulator: uvicorn in a background thread (tests, notebooks) or in the foreground (the CLI).

``ServerThread`` binds its own socket first, so ``port=0`` yields a free loopback port with no race, then runs
uvicorn's h11 protocol (with the hang-up support of ``transport.py``) on a private event loop. Stopping first
tells slow handlers to give up, so ``stop()`` returns in well under a second even with answers pending.

``main(argv)`` is what ``seedance-nb simulate`` runs.

Example:
    >>> main(["--port", "8765", "--latency", "2-5"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from .transport import droppable_protocol_class

__all__ = ["ServerThread", "main"]

SIM_HEADER = ("X-Crun-Simulator", "seedance_nb")


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app it is stopping before connections are shut down."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._on_shutdown()
        await super().shutdown(sockets=sockets)


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) TCP socket; ``port=0`` picks a free port."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class ServerThread:
    """One uvicorn server for an ASGI app, on its own thread or in the foreground."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *,
                 on_shutdown: Callable[[], None] = lambda: None) -> None:
        self.config = uvicorn.Config(
            app,
            http=droppable_protocol_class(),
            ws="none",
            loop="asyncio",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
            headers=[SIM_HEADER],
        )
        self.server = _Server(self.config, on_shutdown)
        self.sock = bind_socket(host, port)
        self.port: int = self.sock.getsockname()[1]
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Serve on a background thread; return once the server accepts connections.

        Raises:
            RuntimeError: the server did not come up (the reason is in the log).
        """
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name=f"crun-simulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.server.should_exit = True
                self._thread.join(5)
                self.sock.close()
                raise RuntimeError(f"The Crun simulator did not start on port {self.port}.")
            time.sleep(0.005)

    def run(self) -> None:
        """Serve in the foreground until Ctrl+C (uvicorn handles the signals)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.server.force_exit = True
                self._thread.join(timeout)
        self.sock.close()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seedance-nb simulate",
        description="Run the Crun API simulator (Seedance 2.0 r2v) on this machine.",
    )
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--latency", default="0", metavar="SECONDS|MIN-MAX",
                   help="seconds from CreateTask to the final status; MIN-MAX draws uniformly (default 0)")
    p.add_argument("--faults", default=None, metavar="SPEC",
                   help="ENDPOINT:KIND=RATE items separated by commas, e.g. 'createtask:429=0.1,*:drop=0.01'")
    p.add_argument("--errors-as-200", action="store_true", help="answer errors with HTTP 200, code in the body")
    p.add_argument("--api-key", default=None, metavar="KEY",
                   help="accept exactly this key (default: $CRUN_API_KEY, else any ak_ + 32 letters/digits)")
    p.add_argument("--balance", type=float, default=100000.0, help="starting credit balance (default 100000)")
    p.add_argument("--seed", type=int, default=None, help="seed for faults, failures and latency draws")
    p.add_argument("--fail-rate", type=float, default=0.0, help="share of tasks that end failed (default 0)")
    p.add_argument("--asset-delay", type=float, default=1.0, help="seconds an asset stays Processing (default 1)")
    p.add_argument("--slow-delay", type=float, default=60.0, help="seconds a 'slow' answer waits (default 60)")
    p.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429 (default 1)")
    p.add_argument("--media-ttl", type=float, default=None, help="seconds result media stay available")
    return p


def banner(sim: Any, *, key_configured: bool) -> str:
    """The text printed when the simulator starts in the foreground (never shows a key)."""
    base = sim.base_url
    knobs = sim.knobs
    low, high = knobs.latency
    latency = f"{low:g} s" if low == high else f"{low:g}–{high:g} s (uniform)"
    example = "ak_" + "sim" + "0" * 29
    lines = [
        "Crun simulator (seedance_nb) — every answer is marked X-Crun-Simulator: seedance_nb",
        f"  base URL   {base}",
        f"  stats      {sim.root_url}/_simulator/stats",
        "  point the client at it:",
        f"    export CRUN_BASE_URL={base}",
    ]
    if key_configured:
        lines += ["    (keep CRUN_API_KEY set to the key given to the simulator)",
                  "  accepts    only the configured key (--api-key / CRUN_API_KEY; not shown)"]
    else:
        lines += [f"    export CRUN_API_KEY={example}",
                  "  accepts    any key of Crun's form: ak_ followed by 32 letters or digits"]
    lines += [
        f"  latency    {latency}; faults: {sim.faults.spec.text or 'none'}; "
        f"errors as {'HTTP 200 + code in body' if knobs.errors_as_200 else 'HTTP status = code'}",
        f"  balance    {knobs.balance:g} credits; rates {', '.join(f'{k} {v:g}/s' for k, v in knobs.rates.items())}",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator in the foreground until Ctrl+C. Returns the exit code.

    Example:
        >>> main(["--port", "0", "--faults", "createtask:429=0.1"])  # doctest: +SKIP
    """
    from . import Simulator

    args = _parser().parse_args(argv)
    api_key = args.api_key or os.environ.get("CRUN_API_KEY") or None
    try:
        sim = Simulator(
            latency=args.latency, faults=args.faults, errors_as_200=args.errors_as_200, api_key=api_key,
            balance=args.balance, fail_rate=args.fail_rate, asset_delay=args.asset_delay,
            slow_delay=args.slow_delay, retry_after=args.retry_after, media_ttl=args.media_ttl, seed=args.seed,
            host=args.host, port=args.port,
        )
    except ValueError as exc:
        print(f"seedance-nb simulate: {exc}", file=sys.stderr)
        return 2
    try:
        sim.run(on_ready=lambda: print(banner(sim, key_configured=api_key is not None), flush=True))
    except OSError as exc:
        print(f"seedance-nb simulate: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl+C it handled once it has shut down; that is the normal way out.
        pass
    print("Crun simulator stopped.", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
