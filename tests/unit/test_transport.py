"""The asyncio network backend under the client's httpx: what a flaky server and a hostile network do to it.

Each test runs a small asyncio server on 127.0.0.1 that answers raw HTTP/1.1 (so it can misbehave on purpose)
and an ``httpx.AsyncClient`` with ``AsyncioBackend`` under it.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpcore
import httpx
import pytest
import trustme

import seedance_nb as sn
from seedance_nb._transport import AsyncioBackend, use_asyncio_backend

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A raw HTTP/1.1 server: ``handler`` is run for every request on a connection until it returns False."""

    def __init__(self, handler: Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]):
        self.handler = handler
        self.connections = 0
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length) if length else b""
                if not await self.handler(head + body, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(handler: Callable[..., Awaitable[bool]], tls: ssl.SSLContext | None = None
                  ) -> AsyncIterator[Server]:
    server = Server(handler)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


def answer(body: bytes, *, close: bool = False) -> bytes:
    extra = b"connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def echo(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer(hashlib.sha256(request.split(b"\r\n\r\n", 1)[1]).hexdigest().encode()))
    await writer.drain()
    return True


def client(**options: object) -> httpx.AsyncClient:
    http = httpx.AsyncClient(trust_env=False, **options)  # type: ignore[arg-type]
    assert use_asyncio_backend(http)
    return http


async def test_the_client_runs_on_the_asyncio_backend_unless_given_its_own_transport() -> None:
    async with sn.Client(api_key="ak_" + "0" * 32, base_url="http://127.0.0.1:9/api/v1") as api:
        assert isinstance(api.http._transport._pool._network_backend, AsyncioBackend)  # type: ignore[attr-defined]
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    async with sn.Client(api_key="ak_" + "0" * 32, base_url="http://127.0.0.1:9/api/v1", transport=mock) as api:
        assert api.http._transport is mock
        assert not use_asyncio_backend(api.http)


async def test_requests_share_one_kept_alive_connection_and_bodies_arrive_whole() -> None:
    async with serving(echo) as server, client() as http:
        for size in (0, 10, 3_000_000):
            body = bytes(range(256)) * (size // 256)
            response = await http.post(server.url, content=body)
            assert response.text == hashlib.sha256(body).hexdigest()
        assert server.connections == 1


async def test_a_large_download_read_slowly_is_intact() -> None:
    payload = bytes(range(256)) * 40_000  # 10 MB: the backend stops reading the socket while its buffer is full

    async def big(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(payload))
        await writer.drain()
        return True

    async with serving(big) as server, client() as http:
        digest, chunks = hashlib.sha256(), 0
        async with http.stream("GET", server.url) as response:
            async for chunk in response.aiter_bytes(65536):
                digest.update(chunk)
                chunks += 1
                if chunks % 20 == 0:
                    await asyncio.sleep(0.01)
        assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def once(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b"ok"))
        await writer.drain()
        return False  # then close the kept-alive connection

    async with serving(once) as server, client() as http:
        for _ in range(3):
            assert (await http.get(server.url)).text == "ok"
            await asyncio.sleep(0.05)  # the close reaches the client while the connection is idle
        assert server.connections == 3


async def test_a_server_that_never_answers_times_out_as_httpx_says() -> None:
    async def silent(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    async with serving(silent) as server, client(timeout=httpx.Timeout(5.0, read=0.2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url)


async def test_a_refused_connection_and_a_cut_answer_are_transport_errors() -> None:
    async with serving(echo) as server:
        url = server.url
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)  # nobody listens there any more

    async def cut(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly a part")
        await writer.drain()
        return False

    async with serving(cut) as server, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(server.url)


async def test_a_cancelled_request_leaves_the_client_usable() -> None:
    release = asyncio.Event()

    async def slow_then_fast(request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if b"/slow" in request:
            await release.wait()
        writer.write(answer(b"ok"))
        await writer.drain()
        return True

    async with serving(slow_then_fast) as server, client() as http:
        waiting = asyncio.ensure_future(http.get(server.url + "/slow"))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert (await http.get(server.url + "/fast")).text == "ok"


async def test_https_goes_through_the_same_backend_and_checks_the_certificate() -> None:
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    async with serving(echo, tls=served) as server:
        async with client(verify=trusting) as http:
            response = await http.post(server.url, content=b"secret")
            assert response.text == hashlib.sha256(b"secret").hexdigest()
            assert response.extensions["network_stream"].get_extra_info("ssl_object") is not None
        async with client() as http:  # the system's trust store does not know this authority
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate"):
                await http.get(server.url)


async def test_errors_are_httpcores_own() -> None:
    backend = AsyncioBackend()
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("127.0.0.1", 9, timeout=1.0)  # the discard port: nothing listens
