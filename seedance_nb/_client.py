"""The async Crun client: one ``httpx.AsyncClient``, every endpoint, typed answers, safe retries.

GETs (and EstimateTask, which charges nothing) retry on 429, 455, 5xx and transport errors with capped,
jittered backoff that honours ``Retry-After``. ``create_task`` is sent exactly once: when the request left
but no definite answer came back it raises ``SubmissionUnknownError``, because the task may exist and be paid.
The key is sent only to the API's own origin (never to presigned upload or media hosts) and never appears in
a repr, a log line or an exception.

Example:
    >>> import asyncio, seedance_nb as sn
    >>> async def main():
    ...     async with sn.Client() as client:            # CRUN_API_KEY, or sn.use_simulator() first
    ...         task_id = await client.create_task(sn.R2VRequest(prompt="[Image1] waves",
    ...                                                          reference_images=["https://x.org/a.png"]))
    ...         return await client.task_info(task_id)
    >>> asyncio.run(main())  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from .__version__ import __version__
from ._answers import AssetInfo, Estimate, TaskInfo
from ._envelope import read_envelope
from ._localfiles import content_type
from ._models import R2VRequest
from ._retrying import RetryPolicy, retrying
from .config import resolve_settings
from .errors import (
    APIError,
    AssetFailedError,
    AssetTimeout,
    SeedanceError,
    ServerError,
    SubmissionUnknownError,
    TransportError,
)

__all__ = ["DEFAULT_TIMEOUT", "Client"]

log = logging.getLogger("seedance_nb")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0, write=120.0)
SIMULATOR_HEADER = "x-crun-simulator"
_KEY_HEADER = "x-api-key"
# A create that got one of these may still have made the task upstream (a gateway gave up waiting).
_AMBIGUOUS_CREATE_CODES = frozenset({502, 504})
# Failures where the request never left this machine: repeating them cannot charge twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class Client:
    """Async client for the Crun job API.

    Args:
        api_key: the Crun key; default ``CRUN_API_KEY`` (or the simulator's, after ``sn.use_simulator()``).
        base_url: default ``CRUN_BASE_URL`` or ``https://api.crun.ai/api/v1``.
        transport: an ``httpx.AsyncBaseTransport`` (e.g. ``httpx.MockTransport``) for tests.
        timeout: seconds or an ``httpx.Timeout``.
        retry: the ``RetryPolicy`` of safe requests.
        sleep: the coroutine used to wait between tries (injectable for tests).
        upload_cache: where uploaded files are remembered by content hash (a dict by default).

    Raises:
        ConfigError: no key was found; the message says how to set one.

    Example:
        >>> client = Client(api_key="ak_" + "0" * 32, base_url="http://127.0.0.1:9/api/v1")
        >>> "ak_" in repr(client)
        False
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
            headers={_KEY_HEADER: settings.api_key, "user-agent": f"seedance_nb/{__version__}"},
            transport=transport,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            event_hooks={"request": [self._keep_key_home], "response": [self._notice_simulator]},
        )

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}{', simulated' if self.simulated else ''})"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    # -- hooks -----------------------------------------------------------------------------------------
    async def _keep_key_home(self, request: httpx.Request) -> None:
        # Presigned upload and CDN URLs live on other hosts: they must never see the key.
        if _origin(str(request.url)) != self._origin:
            request.headers.pop(_KEY_HEADER, None)

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

    # -- tasks -----------------------------------------------------------------------------------------
    async def create_task(self, request: R2VRequest | dict[str, Any], *, callback_url: str | None = None) -> str:
        """Send CreateTask once and return Crun's task id. Never retried: a retry could charge twice.

        Args:
            request: an ``R2VRequest`` (validated first; local files must be uploaded — see
                ``upload_references``) or an exact CreateTask body.
            callback_url: where Crun POSTs the task when it ends (https; http only on loopback).

        Raises:
            ValidationError: the request is invalid (nothing was sent).
            TransportError: Crun could not be reached (nothing was sent; safe to try again).
            SubmissionUnknownError: the request left but no definite answer came back; the task may exist.
            APIError: Crun refused it (402, 422, 451, ...); nothing was created.
        """
        body = request.to_payload(callback_url) if isinstance(request, R2VRequest) else request
        endpoint = "/client/job/CreateTask"
        unknown = ("CreateTask was sent but no answer came back ({why}); the task may exist and be charged. "
                   "It is not resent automatically: sn.resume() finds it if it was recorded, "
                   "sn.resubmit(local_id) sends it again on purpose.")
        try:
            response = await self.http.post("client/job/CreateTask", json=body)
        except _NOT_SENT as exc:
            raise TransportError(f"could not reach Crun at {self.base_url} ({type(exc).__name__}); nothing "
                                 "was sent, so it is safe to try again.") from exc
        except httpx.TransportError as exc:
            raise SubmissionUnknownError(unknown.format(why=type(exc).__name__)) from exc
        try:
            data = read_envelope(response.status_code, response.headers, response.content, endpoint=endpoint)
        except ServerError as exc:
            if exc.code in _AMBIGUOUS_CREATE_CODES or response.status_code in _AMBIGUOUS_CREATE_CODES:
                raise SubmissionUnknownError(unknown.format(why=f"HTTP {response.status_code}")) from exc
            raise
        except APIError as exc:
            if exc.code is None or exc.code == 200:  # a 2xx answer we cannot read: no task id
                raise SubmissionUnknownError(unknown.format(why="unreadable answer")) from exc
            raise
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise SubmissionUnknownError(unknown.format(why="the answer had no task_id"))
        return task_id

    async def task_info(self, task_id: str) -> TaskInfo:
        """The task's status and result (``NotFoundError`` when Crun does not know the id)."""
        data = await self._call("GET", "client/job/TaskInfo", params={"task_id": task_id})
        if not isinstance(data, dict):
            raise APIError(f"TaskInfo for {task_id} had no task object", endpoint="/client/job/TaskInfo")
        return TaskInfo.from_data(data, simulated=self.simulated)

    async def estimate(self, request: R2VRequest | dict[str, Any]) -> Estimate:
        """Price a request without creating it (EstimateTask); retried like a GET since it charges nothing."""
        body = request.to_payload() if isinstance(request, R2VRequest) else request
        data = await self._call("POST", "client/job/EstimateTask", json=body)
        return Estimate.from_data(data if isinstance(data, dict) else {})

    async def balance(self) -> float:
        """The account's credit balance."""
        data = await self._call("GET", "client/account/balance")
        value: Any = data.get("balance") if isinstance(data, dict) else data
        try:
            return float(value)
        except (TypeError, ValueError):
            raise APIError(f"the balance answer had no number: {data!r}", endpoint="/client/account/balance") \
                from None

    async def models(self) -> Any:
        """Crun's model catalogue (as Crun sends it)."""
        return await self._call("GET", "client/job/Models")

    # -- files and assets ------------------------------------------------------------------------------
    async def upload_file(self, path: str | Path, *, digest: str | None = None) -> str:
        """Upload a local file with the presigned two-step upload and return its public ``file_url``.

        Files are remembered by content hash, so the same bytes are sent once per cache. A caller that
        already hashed the file passes ``digest`` and a cached file is not read again. The file is read
        and hashed in a worker thread, so the event loop stays free.

        Example:
            >>> import asyncio, pathlib, tempfile
            >>> png = pathlib.Path(tempfile.mkdtemp()) / "me.png"; _ = png.write_bytes(b"\\x89PNG...")
            >>> async def main():
            ...     async with Client() as client:
            ...         return await client.upload_file(png)
            >>> asyncio.run(main()).endswith(".png")
            True
        """
        path = Path(path).expanduser()
        if digest is not None and digest in self._uploads:
            return self._uploads[digest]
        data = await asyncio.to_thread(path.read_bytes)
        key: str = digest if digest is not None else await asyncio.to_thread(_sha256, data)
        if key in self._uploads:
            return self._uploads[key]
        mime = content_type(path)

        async def attempt(number: int) -> str:
            slot = await self._call("GET", "client/files/upload-url",
                                    params={"content_type": mime, "ext": path.suffix.lower()})
            if not isinstance(slot, dict) or not slot.get("presigned_url") or not slot.get("file_url"):
                raise APIError(f"upload-url gave no presigned_url/file_url: {slot!r}",
                               endpoint="/client/files/upload-url")
            try:
                response = await self.http.put(slot["presigned_url"], content=data, headers={"content-type": mime})
            except httpx.TransportError as exc:
                raise _UploadFailed(type(exc).__name__, None) from exc
            if not response.is_success:
                raise _UploadFailed(f"HTTP {response.status_code}", response.status_code)
            return str(slot["file_url"])

        def wait_after(exc: Exception, number: int) -> float | None:
            if not isinstance(exc, _UploadFailed):
                return None
            return self._wait(number, code=exc.code, transport_error=exc.code is None)

        try:
            url = await retrying(attempt, wait_after=wait_after, sleep=self._sleep, what=f"upload of {path.name}")
        except _UploadFailed as exc:
            raise SeedanceError(f"uploading {path.name} failed ({exc}); the file was not stored. "
                                "Try again later.") from exc
        self._uploads[key] = url
        return url

    async def upload_references(self, request: R2VRequest, *, digests: Mapping[Path, str] | None = None
                                ) -> R2VRequest:
        """Upload every local ``Path`` of ``request`` (at once, each file once) and return a URL-only copy.

        ``digests`` (path → SHA-256), when the caller has them, spare re-reading files already uploaded.
        """
        known = digests or {}
        paths = sorted({path for _, _, path in request.local_files}, key=str)
        urls = await asyncio.gather(*(self.upload_file(p, digest=known.get(p)) for p in paths))
        return request.with_uploads(dict(zip(paths, urls, strict=True)))

    async def upload_asset(self, url: str, asset_type: str = "Image", name: str | None = None) -> str:
        """Register a public URL as a reviewed asset and return its id (use it as ``asset://<id>``)."""
        body = {"name": name or Path(urlsplit(url).path).stem or "asset", "asset_type": asset_type,
                "asset_url": url}
        data = await self._call("POST", "client/job/asset-upload", json=body, retry=False)
        asset_id = data.get("AssetId") if isinstance(data, dict) else None
        if not isinstance(asset_id, str) or not asset_id:
            raise APIError(f"asset-upload gave no AssetId: {data!r}", endpoint="/client/job/asset-upload")
        return asset_id

    async def asset_info(self, asset_id: str) -> AssetInfo:
        """An asset's review status."""
        data = await self._call("GET", "client/job/asset-info", params={"asset_id": asset_id})
        return AssetInfo.from_data(data if isinstance(data, dict) else {})

    async def wait_asset(self, asset_id: str, *, timeout: float = 600.0, interval: float = 2.0) -> AssetInfo:
        """Poll an asset until it is ``Active``.

        Raises:
            AssetFailedError: review failed.
            AssetTimeout: still ``Processing`` after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wait = min(interval, 0.5)
        while True:
            info = await self.asset_info(asset_id)
            if info.is_active:
                return info
            if info.is_failed:
                raise AssetFailedError(f"asset {asset_id} failed review; upload it again or use another file")
            if loop.time() + wait > deadline:
                raise AssetTimeout(f"asset {asset_id} is still {info.status} after {timeout:g} s; "
                                   f"call wait_asset({asset_id!r}) again later")
            await self._sleep(wait)
            wait = min(interval, wait * 2)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _UploadFailed(Exception):
    """One PUT to a presigned URL failed (the message says how; ``code`` is its HTTP status, if any)."""

    def __init__(self, why: str, code: int | None) -> None:
        super().__init__(why)
        self.code = code


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or ""), parts.port
