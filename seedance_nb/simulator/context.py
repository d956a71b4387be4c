"""What the simulator's routes share: knobs, state, faults, the renderer, its URLs and its stop signal.

Example:
    >>> import tempfile
    >>> from .knobs import Knobs
    >>> knobs = Knobs()
    >>> with tempfile.TemporaryDirectory() as workdir:
    ...     ctx = SimContext.create(knobs, SimState(knobs), FaultPlan(), Path(workdir))
    ...     ctx.root_url = "http://127.0.0.1:8765"  # the Simulator sets it once the port is known
    ...     upload = ctx.state.new_upload("image/png", ".png")
    ...     _ = ctx.state.complete_upload(upload, f"{workdir}/cat.png", 1234)
    ...     found = ctx.local_file(f"http://127.0.0.1:8765/files/{upload.name}") == f"{workdir}/cat.png"
    ...     elsewhere = ctx.local_file("https://example.com/cat.png")
    ...     ctx.renderer.close()
    >>> found, elsewhere
    (True, None)
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .faults import FaultPlan
from .knobs import Knobs
from .render import Renderer, RenderResult, spec_for_request
from .state import SimState, Task

if TYPE_CHECKING:
    from .callbacks import CallbackDispatcher

__all__ = ["SimContext"]

_ASSET_PREFIX = "asset://"


@dataclass
class SimContext:
    """The shared parts of one running simulator. Routes run on its event loop; tests read it from outside."""

    knobs: Knobs
    state: SimState
    faults: FaultPlan
    renderer: Renderer
    files_dir: Path
    root_url: str = ""
    loop: asyncio.AbstractEventLoop | None = None
    stopping: asyncio.Event | None = None
    dispatcher: CallbackDispatcher | None = field(default=None, repr=False)

    @classmethod
    def create(cls, knobs: Knobs, state: SimState, faults: FaultPlan, workdir: Path,
               files_dir: Path | None = None) -> SimContext:
        """A context whose renders live under ``workdir``, and uploads under ``files_dir`` (default: there too)."""
        files = workdir / "files" if files_dir is None else files_dir
        files.mkdir(parents=True, exist_ok=True)
        renderer = Renderer(workdir / "renders", on_event=state.bump)
        return cls(knobs=knobs, state=state, faults=faults, renderer=renderer, files_dir=files)

    def local_file(self, ref: str) -> str | None:
        """The stored file behind a reference (an uploaded ``file_url``, or an asset made from one)."""
        if ref.startswith(_ASSET_PREFIX):
            asset = self.state.asset(ref[len(_ASSET_PREFIX):])
            if asset is None:
                return None
            ref = asset.asset_url
        ours = urlsplit(self.root_url)
        try:
            parts = urlsplit(ref)
            port = parts.port
        except ValueError:
            return None
        # A durable store serves files uploaded through earlier (or other) simulators on other ports too.
        same_host = parts.hostname in (ours.hostname, "127.0.0.1", "localhost") and (
            port == ours.port or self.state.durable)
        if not same_host or not parts.path.startswith("/files/"):
            return None
        upload = self.state.file(parts.path.removeprefix("/files/"))
        if upload is None or not upload.content_type.startswith(("image/", "video/")):
            return None
        return upload.path

    def ensure_render(self, task: Task) -> Future[RenderResult] | None:
        """Start (once) the render of a successful task; ``None`` when the simulator is stopping."""
        failed = task.render is not None and task.render.done() and (
            task.render.cancelled() or task.render.exception() is not None)
        if task.render is None or failed:  # a failed render is tried again on the next request
            try:
                task.render = self.renderer.submit(spec_for_request(task.request, self.local_file))
            except RuntimeError:
                return None
        return task.render

    def task_created(self, task: Task) -> None:
        """Tell the callback watcher about a new task (called on the event loop)."""
        if task.request.callback_url and self.dispatcher is not None:
            self.dispatcher.wake()

    async def sleep_unless_stopping(self, seconds: float) -> bool:
        """Sleep ``seconds``; return True early when the simulator starts stopping."""
        if self.stopping is None:
            await asyncio.sleep(seconds)
            return False
        try:
            async with asyncio.timeout(seconds):
                await self.stopping.wait()
            return True
        except TimeoutError:
            return False

    async def wait_render(self, future: Future[RenderResult]) -> RenderResult | None:
        """The render's result, or ``None`` if the simulator starts stopping first.

        Raises:
            RenderError: ffmpeg failed.
        """
        # shield: giving up on a shared, cached render must never cancel it for other waiters.
        waiter = asyncio.ensure_future(asyncio.shield(asyncio.wrap_future(future)))
        if self.stopping is None:
            return await waiter
        stop = asyncio.ensure_future(self.stopping.wait())
        both: set[asyncio.Future[Any]] = {waiter, stop}
        try:
            await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not waiter.done():
            waiter.cancel()
            return None
        return waiter.result()
