"""The content-addressed media archive: download a result, verify it, keep it under its SHA-256.

Crun keeps result media for about 14 days, so a finished task's video (and last frame) is downloaded at
once into ``$SEEDANCE_NB_HOME/media/<sha256>.<ext>``. A download is streamed into a temporary file in the
archive folder while it is hashed, checked against Content-Length, verified in process with PyAV (a video's
container is opened and every packet demuxed and checked, so a truncated, cut or garbage file is caught in a
few milliseconds; ``full_decode=True`` decodes every frame too; an image must decode), and only then moved into
place atomically. A file already in the archive is left as it is, so archiving twice is harmless.

Media URLs are public CDN URLs. The ``http`` client given to ``archive`` must **not** carry the Crun API key:
use a plain ``httpx.AsyncClient()``, not the API client's. As a second guard, ``archive`` strips any
``Authorization`` / ``X-API-Key`` header from its requests.

Example:
    >>> import asyncio, subprocess, tempfile
    >>> from seedance_nb._probe import ffmpeg_exe
    >>> folder = Path(tempfile.mkdtemp()); clip = folder / "clip.mp4"
    >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24:d=1",
    ...                     "-pix_fmt", "yuv420p", str(clip)], check=True)
    >>> cdn = httpx.MockTransport(lambda request: httpx.Response(200, content=clip.read_bytes()))  # a stand-in CDN
    >>> async def main():
    ...     async with httpx.AsyncClient(transport=cdn) as http:
    ...         return await archive("https://cdn.example/v/clip.mp4", media_dir=folder / "media", http=http)
    >>> found = asyncio.run(main())
    >>> found.path.name == f"{found.sha256}.mp4", found.width, found.height, found.duration_s
    (True, 320, 240, 1.0)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import urlsplit

import httpx

from ._probe import BrokenMedia, MediaProbe, verify
from ._retrying import RetryPolicy, retrying
from .config import home_dir
from .errors import MediaError, MediaExpiredError

__all__ = ["ArchivedMedia", "archive", "clean_partial_downloads", "media_dir", "sha256_file"]

MediaKind = Literal["video", "image"]
Progress = Callable[[int, int | None], None]
Check = Callable[[Path, "MediaKind", "_Checks"], Awaitable[MediaProbe]]
Sleep = Callable[[float], Awaitable[None]]

_EXPIRED = frozenset({403, 404, 410})  # what a CDN answers for an expired presigned URL
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_SUFFIXES = {
    "video": (".mp4", ".mov", ".webm", ".m4v"),
    "image": (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp"),
}
_KEY_HEADERS = ("authorization", "x-api-key")
_CHUNK = 1 << 16
_BACKOFF = RetryPolicy(base_delay=0.5, max_delay=5.0)  # between downloads of one file: 0.5 s, 1 s, 2 s … 5 s


@dataclass(frozen=True)
class ArchivedMedia:
    """A verified file in the archive: where it is, its SHA-256 and size, and what FFmpeg tells about it."""

    path: Path
    sha256: str
    size: int
    probe: MediaProbe

    @property
    def width(self) -> int | None:
        """Picture width in pixels."""
        return self.probe.width

    @property
    def height(self) -> int | None:
        """Picture height in pixels."""
        return self.probe.height

    @property
    def fps(self) -> float | None:
        """Frames per second (None for a still image)."""
        return self.probe.fps

    @property
    def duration_s(self) -> float | None:
        """Duration in seconds."""
        return self.probe.duration_s

    @property
    def has_audio(self) -> bool:
        """True when the file has an audio track."""
        return self.probe.has_audio


_PART = ".part-"
_LEGACY_PART_AGE_S = 3600.0  # a part file without a pid in its name is another process's after an hour


def clean_partial_downloads(folder: Path) -> int:
    """Remove the partial downloads (``.part-<pid>-…``) that processes which no longer run left behind.

    A download killed half way leaves its part file; the archive never points at one. Returns how many
    were removed.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / ".part-999999999-abc.mp4").write_bytes(b"half")      # no process has that pid
        >>> _ = (folder / f".part-{os.getpid()}-def.mp4").write_bytes(b"mine")  # this process: in progress
        >>> clean_partial_downloads(folder), [p.name for p in folder.iterdir()] == [f".part-{os.getpid()}-def.mp4"]
        (1, True)
    """
    removed = 0
    for part in folder.glob(f"{_PART}*") if folder.is_dir() else ():
        owner = part.name[len(_PART):].split("-", 1)[0]
        alive = _running(int(owner)) if owner.isdigit() else (
            time.time() - part.stat().st_mtime < _LEGACY_PART_AGE_S)
        if not alive:
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it runs, as another user
    except (ProcessLookupError, OverflowError):
        return False  # gone, or no pid a kernel can give
    return True


def _no_jitter() -> float:
    return 1.0  # one client, one file: nothing to spread out


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix (the reason is the message)."""


def media_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """The archive folder: ``<home>/media`` (home: argument > ``$SEEDANCE_NB_HOME`` > ./seedance-runs).

    Example:
        >>> media_dir("/tmp/runs").as_posix()
        '/tmp/runs/media'
    """
    return home_dir(home) / "media"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex SHA-256 of a file, read in chunks.

    Example:
        >>> import pathlib, tempfile
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
        >>> sha256_file(p)[:12]
        'ba7816bf8f01'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def suffix_for(url: str, kind: MediaKind) -> str:
    """The archive suffix: the URL path's own (when it is a known one for ``kind``), else .mp4 / .png.

    Example:
        >>> suffix_for("https://cdn/x/abc_1.PNG?sig=1", "image"), suffix_for("https://cdn/v", "video")
        ('.png', '.mp4')
    """
    suffix = Path(urlsplit(url).path).suffix.lower()
    return suffix if suffix in _SUFFIXES[kind] else _SUFFIXES[kind][0]


async def archive(
    url: str,
    *,
    media_dir: Path,
    http: httpx.AsyncClient,
    kind: MediaKind = "video",
    attempts: int = 3,
    progress: Progress | None = None,
    sleep: Sleep = asyncio.sleep,
    full_decode: bool = False,
    expect_duration_s: float | None = None,
    check: Check | None = None,
) -> ArchivedMedia:
    """Download ``url`` into the archive, verify it, and return where it is and what it holds.

    Args:
        url: the public media URL (from TaskInfo's ``media_urls``).
        media_dir: the archive folder (see ``media_dir()``); created when missing.
        http: a plain client *without* the Crun API key (media URLs are public CDN URLs).
        kind: ``"video"`` (must decode cleanly) or ``"image"`` (must show a picture).
        attempts: how many downloads to try when one is truncated, corrupt or cut off.
        progress: called as ``progress(bytes_so_far, total_or_None)`` while downloading.
        sleep: the backoff between attempts (tests inject a fake one).
        full_decode: decode every frame as well (about 15× the cost of the packet check; it also catches
            damage inside the compressed pictures, which demuxing cannot see).
        expect_duration_s: the length that was asked for; a video more than 0.5 s (or 10 %) off is
            treated as a broken download.
        check: where the downloaded file is synced to disk and checked (``_media_check.ProcessCheck``: a child
            process); default: a worker thread.

    Raises:
        MediaExpiredError: the URL answered 403/404/410 (the media is gone; retrying cannot help).
        MediaError: every attempt failed; the message names the URL and what was wrong.

    Example:
        >>> import asyncio, tempfile
        >>> gone = httpx.MockTransport(lambda request: httpx.Response(404))   # a CDN after ~14 days
        >>> async def main():
        ...     async with httpx.AsyncClient(transport=gone) as http:
        ...         return await archive("https://cdn.example/v/old.mp4", media_dir=Path(tempfile.mkdtemp()),
        ...                              http=http)
        >>> asyncio.run(main())
        Traceback (most recent call last):
        ...
        seedance_nb.errors.MediaExpiredError: The result URL has expired (404 for https://cdn.example/v/old.mp4) ...

        The module docstring archives a real clip.
    """
    reasons: list[str] = []
    checks = _Checks(full_decode, expect_duration_s)

    async def attempt(number: int) -> ArchivedMedia:
        return await _attempt(url, media_dir, http, kind, progress, checks, check)

    def wait_after(exc: Exception, number: int) -> float | None:
        if not isinstance(exc, _Retryable):
            return None
        reasons.append(str(exc))
        return _BACKOFF.delay(attempt=number, rng=_no_jitter) if number < max(1, attempts) else None

    try:
        media_dir.mkdir(parents=True, exist_ok=True)
        return await retrying(attempt, wait_after=wait_after, sleep=sleep, what=f"download of {url}")
    except OSError as exc:  # the one place file-system errors become ours (disk full, no permission)
        raise MediaError(f"Could not archive {url}: writing into {media_dir} failed ({exc}).") from exc
    except _Retryable:
        raise MediaError(
            f"Could not archive {url}: {reasons[-1]} (tried {len(reasons)} times; earlier: "
            f"{'; '.join(reasons[:-1]) or 'none'}). Check the network, or archive it again later."
        ) from None


@dataclass(frozen=True)
class _Checks:
    full_decode: bool
    expect_duration_s: float | None


async def _attempt(
    url: str, folder: Path, http: httpx.AsyncClient, kind: MediaKind, progress: Progress | None, checks: _Checks,
    check: Check | None = None,
) -> ArchivedMedia:
    # The writer's pid in the name: clean_partial_downloads() removes the leftovers of dead processes only.
    fd, name = tempfile.mkstemp(dir=folder, prefix=f"{_PART}{os.getpid()}-", suffix=suffix_for(url, kind))
    part = Path(name)
    try:
        with open(fd, "wb") as out:
            digest, size = await _download(url, http, out, progress)
            out.flush()
            # The log will point at this file: it must survive a crash. fsync and the check can take long: off
            # the loop, in one trip to a worker thread (or, closed first, in the given check's process).
            if check is None:
                found = await asyncio.to_thread(_sync_and_verify, out, part, kind, checks)
        if check is not None:
            found = await check(part, kind, checks)
        final = folder / f"{digest}{suffix_for(url, kind)}"
        if final.exists() and final.stat().st_size == size:
            part.unlink()  # already archived (same bytes): leave the file readers may have open alone
        else:
            os.replace(part, final)
        return ArchivedMedia(final, digest, size, found)
    finally:
        part.unlink(missing_ok=True)


def _sync_and_verify(out: BinaryIO, part: Path, kind: MediaKind, checks: _Checks) -> MediaProbe:
    os.fsync(out.fileno())
    return _verify(part, kind, checks)


def sync_and_verify_path(part: Path, kind: MediaKind, checks: _Checks) -> MediaProbe:
    """fsync a closed download (any descriptor flushes the file) and check it: what a checking process runs."""
    fd = os.open(part, os.O_RDWR)  # read-write: Windows flushes only a handle that may write
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return _verify(part, kind, checks)


async def _download(
    url: str, http: httpx.AsyncClient, out: BinaryIO, progress: Progress | None
) -> tuple[str, int]:
    request = http.build_request("GET", url)
    for name in _KEY_HEADERS:
        request.headers.pop(name, None)  # never hand the Crun key to a CDN
    digest = hashlib.sha256()
    try:
        # auth=None: a client-level httpx auth must not sign a CDN request either
        response = await http.send(request, stream=True, follow_redirects=True, auth=None)
        try:
            _check_status(url, response)
            total = _content_length(response)
            received = 0
            async for chunk in response.aiter_bytes(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress(received, total)
            if response.headers.get("content-encoding", "identity") != "identity":
                received = response.num_bytes_downloaded  # Content-Length counts the encoded bytes
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:  # transport failures, a broken content encoding, redirect loops
        raise _Retryable(f"the download broke off ({type(exc).__name__}: {exc})") from exc
    if total is not None and received != total:
        raise _Retryable(f"truncated download: {received} of {total} bytes (Content-Length)")
    if out.tell() == 0:
        raise _Retryable("the server sent an empty file")
    return digest.hexdigest(), out.tell()


def _check_status(url: str, response: httpx.Response) -> None:
    code = response.status_code
    if code in _EXPIRED:
        raise MediaExpiredError(
            f"The result URL has expired ({code} for {url}) — Crun keeps media about 14 days; the file "
            "cannot be fetched any more. Run the request again to get a new video."
        )
    if code in _RETRY_STATUS:
        raise _Retryable(f"the server answered {code}")
    if not 200 <= code < 300:
        raise MediaError(f"Could not archive {url}: the server answered {code} {response.reason_phrase}.")


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    return int(value) if value and value.strip().isdigit() else None


def _verify(path: Path, kind: MediaKind, checks: _Checks) -> MediaProbe:
    # In process, but it reads the whole file: the caller runs this in a worker thread.
    try:
        return verify(path, kind=kind, full=checks.full_decode, expect_duration_s=checks.expect_duration_s)
    except BrokenMedia as exc:
        reason = str(exc)
        if reason.startswith("no picture"):
            raise _Retryable(f"FFmpeg finds {reason.replace(' it ', f' the downloaded {kind} ', 1)}") from None
        raise _Retryable(f"the downloaded {kind} does not decode cleanly: {reason}") from None
