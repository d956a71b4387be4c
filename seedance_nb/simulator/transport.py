"""Closing a connection without an answer, for the ``drop`` and ``lost`` faults.

ASGI has no "hang up" message: an app can only answer. So the simulator runs uvicorn's h11 protocol through a
small subclass that hands each request the connection's asyncio transport (in
``scope["extensions"]["seedance_nb.transport"]``). ``DropResponse`` closes that transport before a single
byte of the answer is written, so the client sees the peer close the connection (httpx raises
``RemoteProtocolError: Server disconnected without sending a response``), exactly like a proxy or load
balancer dropping the request. It then waits for uvicorn to notice the disconnect, so uvicorn neither logs
"returned without starting response" nor tries to send a 500 on the closed socket.

Served by another ASGI server (no transport in the scope), ``DropResponse`` falls back to starting an answer
whose body never comes; the server then closes the connection mid-answer.

Example:
    >>> issubclass(droppable_protocol_class(), asyncio.Protocol)
    True
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive, Scope, Send

__all__ = ["TRANSPORT_KEY", "DropResponse", "droppable_protocol_class", "exposing_transport"]

TRANSPORT_KEY = "seedance_nb.transport"


def droppable_protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, with the connection's transport exposed to the app."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return exposing_transport(H11Protocol)


def exposing_transport(base: type[Any]) -> type[asyncio.Protocol]:
    """A subclass of one of uvicorn's HTTP protocols whose app sees ``scope["extensions"][TRANSPORT_KEY]``.

    Example:
        >>> from uvicorn.protocols.http.h11_impl import H11Protocol
        >>> exposing_transport(H11Protocol).__name__
        'DroppableH11Protocol'
    """

    class Droppable(base):  # type: ignore[misc]
        app: Any

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            inner = self.app

            async def app(scope: Any, receive: Any, send: Any) -> None:
                if scope.get("type") == "http":
                    scope.setdefault("extensions", {})[TRANSPORT_KEY] = transport
                await inner(scope, receive, send)

            self.app = app  # uvicorn reads self.app for every request on this connection

    Droppable.__name__ = Droppable.__qualname__ = f"Droppable{base.__name__}"
    return Droppable


class DropResponse:
    """An ASGI "response" that hangs up instead of answering."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Close the connection; wait (briefly) until the server has seen it go."""
        transport = scope.get("extensions", {}).get(TRANSPORT_KEY)
        if transport is None:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"1")]})
            return
        transport.close()
        try:
            async with asyncio.timeout(2.0):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass
