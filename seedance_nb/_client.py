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
    >>> info = asyncio.run(main())
    >>> info.model, info.credits
    ('bytedance/seedance2-0-mini-r2v', 29.0)
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._answers import AssetInfo, Estimate, TaskInfo, clean_text, parse_balance, upload_slot
from ._connection import DEFAULT_TIMEOUT, Connection
from ._envelope import read_envelope
from ._localfiles import content_type
from ._models import R2VRequest, request_body
from ._retrying import retrying
from ._rules import check_body, check_id
from .errors import (
    APIError,
    AssetFailedError,
    AssetTimeout,
    Problem,
    SeedanceError,
    ServerError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
    safe_text,
)

__all__ = ["DEFAULT_TIMEOUT", "Client"]

log = logging.getLogger("seedance_nb")

# A create that got one of these may still have made the task upstream (a gateway gave up waiting).
_AMBIGUOUS_CREATE_CODES = frozenset({502, 504})
# Failures where the request never left this machine: repeating them cannot charge twice. No connection
# (refused, timed out, none free in the pool, a proxy that refused the tunnel), an unsupported scheme, or a
# request that h11/h2 refused to write (LocalProtocolError: an illegal header value, checked before a byte goes).
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol,
             httpx.ProxyError, httpx.LocalProtocolError)


class Client(Connection):
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
        >>> import seedance_nb as sn
        >>> client = sn.Client(api_key="ak_" + "0" * 32, base_url="http://127.0.0.1:9/api/v1")
        >>> client                                       # the key never shows
        Client(base_url='http://127.0.0.1:9/api/v1')
    """


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

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://example.com/a.png"])
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.create_task(req)
            >>> task_id = asyncio.run(main())       # created and charged; sn.generate() also follows it
            >>> isinstance(task_id, str) and task_id != ""
            True
        """
        body = request_body(request, callback_url)
        endpoint = "/client/job/CreateTask"
        unknown = ("CreateTask was sent but no answer came back ({why}); the task may exist and be charged. "
                   "It is not resent automatically: sn.resume() finds it if it was recorded, "
                   "sn.resubmit(local_id) sends it again on purpose.")
        try:
            response = await self.http.post("client/job/CreateTask", json=body)
        except _NOT_SENT as exc:
            raise TransportError(f"could not reach Crun at {self.base_url} ({type(exc).__name__}); nothing "
                                 "was sent, so it is safe to try again.") from exc
        except httpx.HTTPError as exc:  # it left: the answer was lost, cut, or could not be decoded
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
        if not isinstance(task_id, str) or not task_id.strip():
            raise SubmissionUnknownError(unknown.format(why="the answer had no task_id"))
        return clean_text(task_id)

    async def task_info(self, task_id: str) -> TaskInfo:
        """The task's status and result (``NotFoundError`` when Crun does not know the id).

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.task_info("no-such-task")
            >>> asyncio.run(main())
            Traceback (most recent call last):
            ...
            seedance_nb.errors.NotFoundError: Crun answered 404 ...
        """
        _check(check_id("task_id", task_id))
        data = await self._call("GET", "client/job/TaskInfo", params={"task_id": task_id})
        if not isinstance(data, dict):
            raise APIError(f"TaskInfo for {task_id} had no task object", endpoint="/client/job/TaskInfo")
        info = TaskInfo.from_data(data, simulated=self.simulated)
        return info if info.task_id else dataclasses.replace(info, task_id=task_id)

    async def estimate(self, request: R2VRequest | dict[str, Any]) -> Estimate:
        """Price a request without creating it (EstimateTask); retried like a GET since it charges nothing.

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://example.com/a.png"],
            ...                     duration=4)
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.estimate(req)
            >>> estimate = asyncio.run(main())
            >>> estimate.estimated_credits, estimate.affordable       # the simulator's price: 5.8 credits/s at 720p
            (23.2, True)
        """
        data = await self._call("POST", "client/job/EstimateTask", json=request_body(request))
        estimate = Estimate.from_data(data if isinstance(data, dict) else {})
        if estimate.estimated_credits is None:
            raise APIError(f"EstimateTask gave no estimated_credits: {safe_text(data, 200)}",
                           endpoint="/client/job/EstimateTask")
        return estimate

    async def balance(self) -> float:
        """The account's credit balance.

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.balance()
            >>> asyncio.run(main()) > 0
            True
        """
        data = await self._call("GET", "client/account/balance")
        number = parse_balance(data)
        if number is None:
            raise APIError(f"the balance answer had no number: {safe_text(data, 200)}",
                           endpoint="/client/account/balance")
        return number

    async def models(self) -> Any:
        """Crun's model catalogue (as Crun sends it).

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.models()
            >>> [m["model"] for m in asyncio.run(main())]
            ['bytedance/seedance2-0-mini-r2v', 'bytedance/seedance2-0-fast-r2v', 'bytedance/seedance2-0-r2v']
        """
        return await self._call("GET", "client/job/Models")

    # -- files and assets ------------------------------------------------------------------------------
    async def upload_file(self, path: str | Path, *, digest: str | None = None) -> str:
        """Upload a local file with the presigned two-step upload and return its public ``file_url``.

        Files are remembered by content hash, so the same bytes are sent once per cache. A caller that
        already hashed the file passes ``digest`` and a cached file is not read again. The file is read
        and hashed in a worker thread, so the event loop stays free.

        Example:
            >>> import asyncio, pathlib, tempfile, seedance_nb as sn
            >>> png = pathlib.Path(tempfile.mkdtemp()) / "me.png"; _ = png.write_bytes(b"\\x89PNG...")
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.upload_file(png)
            >>> asyncio.run(main()).endswith(".png")
            True
        """
        if digest is not None and digest in self._uploads:
            return self._uploads[digest]
        try:
            path = Path(path).expanduser()
            data = await asyncio.to_thread(path.read_bytes)
        except (OSError, ValueError, TypeError, RuntimeError) as exc:  # RuntimeError: an unknown ~user
            shown = str(path) if isinstance(path, (str, Path)) else safe_text(path)
            raise ValidationError([Problem("path", shown, f"cannot be read ({type(exc).__name__})",
                                           "Point at an existing image, video or audio file.")]) from None
        key: str = digest if digest is not None else await asyncio.to_thread(_sha256, data)
        if key in self._uploads:
            return self._uploads[key]
        mime = content_type(path)

        async def attempt(number: int) -> str:
            slot = await self._call("GET", "client/files/upload-url",
                                    params={"content_type": mime, "ext": path.suffix.lower()})
            urls = upload_slot(slot)
            if urls is None:
                raise APIError(f"upload-url gave no presigned_url/file_url: {safe_text(slot, 200)}",
                               endpoint="/client/files/upload-url")
            presigned_url, file_url = urls
            try:
                response = await self.http.put(presigned_url, content=data, headers={"content-type": mime})
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _UploadFailed(type(exc).__name__, None) from exc
            if not response.is_success:
                raise _UploadFailed(f"HTTP {response.status_code}", response.status_code)
            return file_url

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

        Example:
            >>> import asyncio, pathlib, tempfile, seedance_nb as sn
            >>> png = pathlib.Path(tempfile.mkdtemp()) / "me.png"; _ = png.write_bytes(b"\\x89PNG...")
            >>> req = sn.R2VRequest(prompt="[Image1] [Image2] wave", reference_images=[png, "https://x.org/b.png"])
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.upload_references(req)
            >>> sendable = asyncio.run(main())
            >>> sendable.local_files, sendable.reference_images[0].startswith("http")
            ([], True)
        """
        known = digests or {}
        paths = sorted({path for _, _, path in request.local_files}, key=str)
        urls = await asyncio.gather(*(self.upload_file(p, digest=known.get(p)) for p in paths))
        return request.with_uploads(dict(zip(paths, urls, strict=True)))

    async def upload_asset(self, url: str, asset_type: str = "Image", name: str | None = None) -> str:
        """Register a public URL as a reviewed asset and return its id (use it as ``asset://<id>``).

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         return await client.upload_asset("https://example.com/me.png")
            >>> asset_id = asyncio.run(main())
            >>> asset_id.startswith("asset-")
            True
        """
        _check(check_id("url", url))
        try:
            stem = Path(urlsplit(url).path).stem
        except ValueError:
            stem = ""
        body = {"name": name or stem or "asset", "asset_type": asset_type, "asset_url": url}
        _check(check_body(body))
        data = await self._call("POST", "client/job/asset-upload", json=body, retry=False)
        asset_id = data.get("AssetId") if isinstance(data, dict) else None
        if not isinstance(asset_id, str) or not asset_id.strip():
            raise APIError(f"asset-upload gave no AssetId: {safe_text(data, 200)}", endpoint="/client/job/asset-upload")
        return clean_text(asset_id)

    async def asset_info(self, asset_id: str) -> AssetInfo:
        """An asset's review status.

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         asset_id = await client.upload_asset("https://example.com/me.png", name="me")
            ...         return await client.asset_info(asset_id)
            >>> info = asyncio.run(main())
            >>> info.name, info.asset_type, info.status in ("Processing", "Active")
            ('me', 'Image', True)
        """
        _check(check_id("asset_id", asset_id))
        data = await self._call("GET", "client/job/asset-info", params={"asset_id": asset_id})
        if not isinstance(data, dict):
            raise APIError(f"asset-info for {asset_id} had no asset object", endpoint="/client/job/asset-info")
        info = AssetInfo.from_data(data)
        return info if info.asset_id else dataclasses.replace(info, asset_id=asset_id)

    async def wait_asset(self, asset_id: str, *, timeout: float = 600.0, interval: float = 2.0) -> AssetInfo:
        """Poll an asset until it is ``Active``.

        Raises:
            AssetFailedError: review failed.
            AssetTimeout: still ``Processing`` after ``timeout`` seconds.

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> async def main():
            ...     async with sn.Client() as client:
            ...         asset_id = await client.upload_asset("https://example.com/me.png")
            ...         return await client.wait_asset(asset_id, timeout=60)
            >>> info = asyncio.run(main())
            >>> info.is_active, info.uri.startswith("asset://asset-")
            (True, True)
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


def _check(problems: list[Problem]) -> None:
    if problems:
        raise ValidationError(problems)


class _UploadFailed(Exception):
    """One PUT to a presigned URL failed (the message says how; ``code`` is its HTTP status, if any)."""

    def __init__(self, why: str, code: int | None) -> None:
        super().__init__(why)
        self.code = code
