"""The network under ``Client``'s httpx: httpcore's documented ``AsyncNetworkBackend``, on a plain asyncio protocol.

httpx reaches sockets through httpcore's anyio backend, which puts a cancel scope around every socket read
and write and, each time the pool hands out a connection, rebuilds a dict of socket attributes (a
``getpeername`` call) for every idle connection to poll it. On asyncio that is about 40 % of the CPU a small
request costs (``bench/bench_sweep.py`` prints its floor with either backend). ``AsyncioBackend`` does the
same job on an ``asyncio.Protocol``: the event loop reads the socket as data arrives, a read waits on one
future with a ``call_later`` timeout, a write honours the transport's flow control, TLS goes through
``loop.start_tls``. Errors and timeouts are httpcore's own, so httpx and the retry loop see what they always
saw. Under another event loop (trio) it hands over to httpcore's own backend.

``use_asyncio_backend(client)`` puts it under an ``httpx.AsyncClient``'s default transport (proxy transports
taken from the environment keep httpcore's backend).

Example:
    >>> import asyncio, httpx
    >>> async def main():
    ...     async with httpx.AsyncClient() as http:
    ...         return use_asyncio_backend(http)
    >>> asyncio.run(main())
    True
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx
import sniffio

__all__ = ["AsyncioBackend", "use_asyncio_backend"]

_HIGH_WATER = 256 * 1024  # stop reading the socket while this much is buffered and unread
_LOW_WATER = 64 * 1024  # and read it again once the reader has taken it below this
_HAPPY_EYEBALLS_S = 0.25  # RFC 8305's delay between connection attempts to a host's addresses

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _Protocol(asyncio.Protocol):
    """Buffers what the loop reads and wakes the one reader (or writer) waiting on it."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.closed = False  # the peer closed, or the connection was lost
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self.read_paused = False
        self.write_paused = False
        self.read_waiter: asyncio.Future[None] | None = None
        self.write_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self.read_paused and self.transport is not None:
            self.transport.pause_reading()
            self.read_paused = True
        _wake(self.read_waiter)

    def eof_received(self) -> bool:
        self.closed = True
        _wake(self.read_waiter)
        return False  # close our side too: an HTTP/1.1 peer that stops sending is done with the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self.error = True, exc
        _wake(self.read_waiter)
        _wake(self.write_waiter)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        _wake(self.write_waiter)

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of what is buffered; reading resumes once the buffer is low again."""
        if len(self.buffer) <= max_bytes:
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:max_bytes])
            del self.buffer[:max_bytes]
        if self.read_paused and len(self.buffer) <= _LOW_WATER and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        return data


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


async def _wait(protocol: _Protocol, slot: str, timeout: float | None) -> None:
    """Wait for the protocol to wake ``slot`` (``read_waiter``/``write_waiter``); ``TimeoutError`` after
    ``timeout`` seconds. One future and one timer: no task, no cancel scope."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    setattr(protocol, slot, waiter)
    timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
    try:
        await waiter
    finally:
        setattr(protocol, slot, None)
        if timer is not None:
            timer.cancel()


def _readable(sock: Any) -> bool:
    """True when the socket has something to read now (on an idle HTTP/1.1 connection: the peer closed it)."""
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Stream(httpcore.AsyncNetworkStream):
    """One connection, as httpcore's HTTP/1.1 code reads and writes it."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._socket = transport.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        while not protocol.buffer:
            if protocol.closed:
                if protocol.error is not None:
                    raise httpcore.ReadError(f"the connection was lost: {protocol.error}")
                return b""  # the peer closed: httpcore tells "server disconnected" from here
            try:
                await _wait(protocol, "read_waiter", timeout)
            except TimeoutError:
                raise httpcore.ReadTimeout(f"no data for {timeout:g} s") from None
        return protocol.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.closed:
            raise httpcore.WriteError(f"the connection is closed{f': {protocol.error}' if protocol.error else ''}")
        self._transport.write(buffer)
        while protocol.write_paused and not protocol.closed:
            try:
                await _wait(protocol, "write_waiter", timeout)
            except TimeoutError:
                raise httpcore.WriteTimeout(f"could not send for {timeout:g} s") from None
        if protocol.closed and protocol.error is not None:
            raise httpcore.WriteError(f"the connection was lost: {protocol.error}")

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(self._transport, self._protocol, ssl_context,
                                                 server_hostname=server_hostname)
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout(f"the TLS handshake took over {timeout:g} s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(f"the TLS handshake failed: {exc}") from exc
        if transport is None:  # the peer closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport
        return _Stream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._socket
        if info == "is_readable":
            return self._protocol.closed or bool(self._protocol.buffer) or _readable(self._socket)
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio transports and protocols (see the module's docstring)."""

    def __init__(self) -> None:
        self._other = httpcore.AnyIOBackend()  # for trio and anything that is not asyncio

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[SocketOption] | None = None) -> httpcore.AsyncNetworkStream:
        if sniffio.current_async_library() != "asyncio":
            return await self._other.connect_tcp(host, port, timeout, local_address, socket_options)
        loop = asyncio.get_running_loop()
        return await _connect(lambda protocol: loop.create_connection(
            lambda: protocol, host, port, local_addr=(local_address, 0) if local_address else None,
            happy_eyeballs_delay=_HAPPY_EYEBALLS_S), timeout, socket_options, f"{host}:{port}")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[SocketOption] | None = None) -> httpcore.AsyncNetworkStream:
        if sniffio.current_async_library() != "asyncio":
            return await self._other.connect_unix_socket(path, timeout, socket_options)
        loop = asyncio.get_running_loop()
        return await _connect(lambda protocol: loop.create_unix_connection(lambda: protocol, path), timeout,
                              socket_options, path)

    async def sleep(self, seconds: float) -> None:
        if sniffio.current_async_library() != "asyncio":
            await self._other.sleep(seconds)
        else:
            await asyncio.sleep(seconds)


async def _connect(open_connection: Callable[[_Protocol], Any], timeout: float | None,
                   socket_options: Iterable[SocketOption] | None, where: str) -> _Stream:
    protocol = _Protocol()
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await open_connection(protocol)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"no connection to {where} within {timeout:g} s") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"could not connect to {where}: {exc}") from exc
    sock = transport.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # asyncio's default, said out loud
    return _Stream(transport, protocol)


def use_asyncio_backend(client: httpx.AsyncClient) -> bool:
    """Put ``AsyncioBackend`` under the client's default transport; False when that transport is not httpx's
    own (a test's ``MockTransport``) or no longer has the pool this expects (a future httpx)."""
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        return False
    pool._network_backend = AsyncioBackend()
    return True
