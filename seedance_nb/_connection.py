"""The plumbing under ``Client``: settings, one ``httpx.AsyncClient``, the key kept home, the one request loop.

``Connection`` knows no endpoint. It resolves settings when built, sends the key only to the API's own
origin (never to presigned-upload or CDN hosts), notices the simulator, and runs every safe request
through the shared retry loop (``_retrying.retrying``): 429 after ``Retry-After``, 455, 5xx and transport
errors, with capped, jittered backoff, never past the job's deadline.

Example:
    >>> conn = Connection(api_key="ak_" + "0" * 32, base_url="http://127.0.0.1:9/api/v1")
    >>> conn.http.headers["x-api-key"] == "ak_" + "0" * 32, "ak_" in repr(conn)
    (True, False)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from .__version__ import __version__
from ._envelope import read_envelope
from ._retrying import RetryPolicy, retrying
from ._transport import use_asyncio_backend
from .config import resolve_settings
from .errors import APIError, TransportError

__all__ = ["DEFAULT_TIMEOUT", "KEY_HEADER", "SIMULATOR_HEADER", "Connection"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0, write=120.0)
SIMULATOR_HEADER = "x-crun-simulator"
KEY_HEADER = "x-api-key"


class Connection:
    """Settings, the HTTP connection pool and the retry loop that ``Client`` builds its endpoints on.

    Takes the arguments documented on ``Client``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: Callable[[], float] = random.random,
        upload_cache: MutableMapping[str, str] | None = None,
    ):
        settings = resolve_settings(api_key, base_url)
        self.base_url = settings.base_url
        self.simulated = settings.simulated
        self.retry = retry or RetryPolicy()
        self._sleep = sleep or asyncio.sleep
        self._rng = rng
        self._uploads: MutableMapping[str, str] = upload_cache if upload_cache is not None else {}
        self._origin = _origin(self.base_url)
        self.http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers={KEY_HEADER: settings.api_key, "user-agent": f"seedance_nb/{__version__}"},
            transport=transport,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            event_hooks={"request": [self._keep_key_home], "response": [self._notice_simulator]},
        )
        if transport is None:
            use_asyncio_backend(self.http)  # httpx on plain asyncio sockets: about 40 % less CPU a request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}{', simulated' if self.simulated else ''})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (``async with Client() as client:`` does it for you).

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> client = sn.Client()
            >>> asyncio.run(client.aclose()); client.http.is_closed
            True
        """
        await self.http.aclose()

    # -- hooks -----------------------------------------------------------------------------------------
    async def _keep_key_home(self, request: httpx.Request) -> None:
        # Presigned upload and CDN URLs live on other hosts: they must never see the key.
        if _origin(str(request.url)) != self._origin:
            request.headers.pop(KEY_HEADER, None)

    async def _notice_simulator(self, response: httpx.Response) -> None:
        if response.headers.get(SIMULATOR_HEADER):
            self.simulated = True

    # -- the one request loop ----------------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                    json: Any = None, retry: bool = True) -> Any:
        endpoint = path.split("?")[0]

        async def attempt(number: int) -> Any:
            try:
                response = await self.http.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                raise TransportError(f"no answer from Crun for {endpoint} after {number} "
                                     f"tr{'y' if number == 1 else 'ies'}: {type(exc).__name__}. "
                                     "Check the network and CRUN_BASE_URL; it is safe to try again.") from exc
            except httpx.HTTPError as exc:  # an answer came but could not be read (bad gzip, redirect loop)
                raise APIError(f"the answer could not be read ({type(exc).__name__})", endpoint=endpoint) from exc
            return read_envelope(response.status_code, response.headers, response.content, endpoint=endpoint)

        def wait_after(exc: Exception, number: int) -> float | None:
            if not retry:
                return None
            if isinstance(exc, TransportError):
                return self._wait(number, transport_error=True)
            if isinstance(exc, APIError):
                return self._wait(number, code=exc.code, retry_after=getattr(exc, "retry_after", None))
            return None

        return await retrying(attempt, wait_after=wait_after, sleep=self._sleep, what=f"{method} {endpoint}")

    def _wait(self, attempt: int, *, code: int | None = None, transport_error: bool = False,
              retry_after: float | None = None) -> float | None:
        """The wait before another try of a safe request, or ``None`` when it should not be tried again."""
        if not self.retry.should_retry(attempt=attempt, code=code, transport_error=transport_error,
                                       retry_after=retry_after):
            return None
        return self.retry.delay(attempt=attempt, retry_after=retry_after, rng=self._rng)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port
