"""Checking a sweep's downloads in a child process, so the check runs on another core.

PyAV's packet check walks every packet in a Python loop. That loop, and the fsync before it, take about
2 ms of the interpreter's time per video. In a sweep of hundreds of tasks, that time competes with the event
loop that drives every request. ``ProcessCheck`` runs the fsync and the check (``_media.sync_and_verify_path``)
in one child process: forkserver where the platform has it, spawn elsewhere, started on first use. The
sweep's interpreter keeps its time for the requests.

If the child dies while checking a file (FFmpeg crashing on a hostile file), the file counts as broken and
is fetched again, and the next check starts a new child. The kernel is never taken down.

Example:
    >>> import asyncio, subprocess, tempfile
    >>> from pathlib import Path
    >>> from seedance_nb._media import _Checks
    >>> from seedance_nb._probe import ffmpeg_exe
    >>> clip = Path(tempfile.mkdtemp()) / "clip.mp4"
    >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24:d=1",
    ...                     "-pix_fmt", "yuv420p", str(clip)], check=True)
    >>> async def main():
    ...     with ProcessCheck() as check:
    ...         return await check(clip, "video", _Checks(full_decode=False, expect_duration_s=None))
    >>> found = asyncio.run(main())
    >>> found.width, found.height, found.duration_s
    (320, 240, 1.0)
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self

from ._media import _Retryable, sync_and_verify_path
from ._probe import MediaProbe

if TYPE_CHECKING:
    from ._media import MediaKind, _Checks

__all__ = ["ProcessCheck"]


class ProcessCheck:
    """An ``archive(check=...)`` that syncs and checks each download in one child process (see the module)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return self._pool

    async def __call__(self, part: Path, kind: MediaKind, checks: _Checks) -> MediaProbe:
        try:
            return await asyncio.wrap_future(self._executor().submit(sync_and_verify_path, part, kind, checks))
        except BrokenProcessPool:
            self.close(wait=False)  # the next check starts a new child
            raise _Retryable(f"checking the downloaded {kind} crashed the checking process") from None

    def close(self, wait: bool = True) -> None:
        """Stop the child (it finishes the check it runs; ``wait`` for that); a later check starts a new one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
