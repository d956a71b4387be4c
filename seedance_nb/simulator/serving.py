"""Serving an ASGI app with uvicorn, in a background thread (tests, notebooks) or in the foreground (the CLI).

``ServerThread`` binds its own socket first, so ``port=0`` yields a free loopback port with no race, then runs
uvicorn's h11 protocol (with the hang-up support of ``transport.py``) on a private event loop. Stopping first
tells slow handlers to give up, so ``stop()`` returns in well under a second even with answers pending.
Every answer carries ``X-Crun-Simulator: seedance_nb``.

Example:
    >>> sock = bind_socket("127.0.0.1", 0)
    >>> sock.getsockname()[1] > 0
    True
    >>> sock.close()
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from .transport import droppable_protocol_class

__all__ = ["SIM_HEADER", "ServerThread", "bind_socket"]

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
    """One uvicorn server for an ASGI app, on its own thread or in the foreground.

    Example:
        >>> import httpx
        >>> from starlette.applications import Starlette
        >>> server = ServerThread(Starlette())
        >>> server.start()
        >>> answer = httpx.get(f"http://127.0.0.1:{server.port}/nothing-here", trust_env=False)
        >>> server.stop()
        >>> answer.status_code, answer.headers["X-Crun-Simulator"]
        (404, 'seedance_nb')
    """

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
