"""Serving an ASGI app with uvicorn, in a background thread (tests, notebooks) or in the foreground (the CLI).

``ServerThread`` binds its own socket first, so ``port=0`` yields a free loopback port with no race, then runs
uvicorn on a private event loop, with the hang-up support of ``transport.py``: over uvicorn's httptools protocol
when ``httptools`` is installed (a C parser: about 1.3–1.5× the TaskInfo requests per second), else over h11.
Stopping first tells slow handlers to give up, so ``stop()`` returns in well under a second even with answers
pending.
Every answer carries ``X-Crun-Simulator: seedance_nb``.

Example:
    >>> sock = bind_socket("127.0.0.1", 0)
    >>> sock.getsockname()[1] > 0
    True
    >>> sock.close()
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from .transport import droppable_protocol_class, exposing_transport

__all__ = ["SIM_HEADER", "ServerThread", "bind_socket", "http_protocol_class"]

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


def http_protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's fastest HTTP/1.1 protocol here (httptools, else h11), with the connection's transport exposed.

    The app sees ``scope["extensions"]["seedance_nb.transport"]``, which ``DropResponse`` closes to hang up.

    Example:
        >>> http_protocol_class().__name__ in ("DroppableHttpToolsProtocol", "DroppableH11Protocol")
        True
    """
    try:
        import httptools  # noqa: F401  (uvicorn's httptools protocol needs it)
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return droppable_protocol_class()

    return exposing_transport(HttpToolsProtocol)


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
            http=http_protocol_class(),
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
