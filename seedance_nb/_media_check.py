"""Checking a sweep's downloads in a child process, so the check runs on another core.

PyAV's packet check walks every packet in a Python loop. That loop, and the fsync before it, take about
2 ms of the interpreter's time per video; in a sweep of hundreds of tasks that time competes with the event
loop that drives every request. ``ProcessCheck`` runs both (``_media.sync_and_verify_path``) in one child,
``python -m seedance_nb._media_check``, which reads one JSON request per line on stdin and answers one per
line on stdout.

It is a plain subprocess, not ``multiprocessing``. That way nothing re-imports the user's ``__main__``, a
script without an ``if __name__ == "__main__"`` guard is never run twice, and no helper processes outlive
it. The child exits when its stdin closes, which includes its parent being killed. A child that dies while
checking a file (FFmpeg crashing on a hostile file) costs that file one attempt, and the next check starts a
new child. The kernel is never taken down. Where the loop cannot start a subprocess (Windows' selector loop,
which Jupyter uses there), the checks run in a worker thread as in a single ``generate()``.

Example:
    >>> import asyncio, subprocess, tempfile
    >>> from seedance_nb._media import _Checks
    >>> from seedance_nb._probe import ffmpeg_exe
    >>> clip = Path(tempfile.mkdtemp()) / "clip.mp4"
    >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24:d=1",
    ...                     "-pix_fmt", "yuv420p", str(clip)], check=True)
    >>> async def main():
    ...     check = ProcessCheck()
    ...     try:
    ...         return await check(clip, "video", _Checks(full_decode=False, expect_duration_s=None))
    ...     finally:
    ...         await check.aclose()
    >>> found = asyncio.run(main())
    >>> found.width, found.height, found.duration_s
    (320, 240, 1.0)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._media import _Checks, _Retryable, sync_and_verify_path
from ._probe import MediaProbe

if TYPE_CHECKING:
    from ._media import MediaKind

__all__ = ["ProcessCheck", "serve"]

_STOP_S = 5.0  # how long a closing child may take to finish the check it runs


class ProcessCheck:
    """An ``archive(check=...)`` that syncs and checks each download in one child process (see the module)."""

    def __init__(self) -> None:
        self._child: asyncio.subprocess.Process | None = None
        self._turn: asyncio.Lock | None = None  # one request on the pipe at a time
        self._unavailable = False  # no subprocess on this loop (Windows' selector loop): checks use a thread

    async def _started(self) -> asyncio.subprocess.Process:
        if self._child is None or self._child.returncode is not None:
            package_root = str(Path(__file__).resolve().parent.parent)
            path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
            self._child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "seedance_nb._media_check", stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path})
        return self._child

    async def __call__(self, part: Path, kind: MediaKind, checks: _Checks) -> MediaProbe:
        if self._turn is None:
            self._turn = asyncio.Lock()
        request = {"path": str(part), "kind": kind, "full": checks.full_decode, "expect": checks.expect_duration_s}
        async with self._turn:
            try:
                child = None if self._unavailable else await self._started()
            except (NotImplementedError, OSError):
                self._unavailable = True
                child = None
            if child is None:
                return await asyncio.to_thread(sync_and_verify_path, part, kind, checks)
            assert child.stdin is not None and child.stdout is not None
            try:
                child.stdin.write(json.dumps(request).encode() + b"\n")
                await child.stdin.drain()
                answer = await child.stdout.readline()
            except (BrokenPipeError, ConnectionResetError):
                answer = b""
            except BaseException:  # interrupted mid-check: its answer would answer the next request
                await self._stop(kill=True)
                raise
            if not answer:
                await self._stop(kill=True)  # the next check starts a new child
                raise _Retryable(f"checking the downloaded {kind} crashed the checking process")
        found = json.loads(answer)
        if "retry" in found:
            raise _Retryable(str(found["retry"]))
        return MediaProbe(**found["probe"])

    async def _stop(self, kill: bool) -> None:
        child, self._child = self._child, None
        if child is None or child.returncode is not None:
            return
        if kill:
            child.kill()
        elif child.stdin is not None:
            child.stdin.close()  # the child finishes what it runs and exits
        try:
            await asyncio.wait_for(child.wait(), _STOP_S)
        except TimeoutError:
            child.kill()
            await child.wait()

    async def aclose(self) -> None:
        """Stop the child (it finishes the check it runs); a later check starts a new one."""
        await self._stop(kill=False)


def _answer(line: bytes) -> dict[str, Any]:
    request = json.loads(line)
    try:
        probe = sync_and_verify_path(Path(request["path"]), request["kind"],
                                     _Checks(bool(request["full"]), request["expect"]))
    except _Retryable as exc:
        return {"retry": str(exc)}
    except Exception as exc:  # anything else about this file: it counts as broken, the child goes on
        return {"retry": f"the check failed ({type(exc).__name__}: {exc})"}
    return {"probe": dataclasses.asdict(probe)}


def serve() -> None:
    """The child's loop: one JSON request per line on stdin, one answer per line on stdout, until stdin closes."""
    for line in sys.stdin.buffer:
        sys.stdout.write(json.dumps(_answer(line)) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
