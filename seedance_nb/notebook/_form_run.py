"""The form's calls to Crun: the debounced estimate, the SIMULATOR badge, and the run behind Generate.

``Runner`` works on the widgets of a ``Form``. Generate schedules ``generate()`` as a task on the kernel's
loop (kept referenced, its outcome shown in ``result``) with a ``ProgressLine`` writing into ``status``;
clicking again ("Cancel waiting") cancels the wait — ``generate()`` then says that the task goes on at
Crun and that ``sn.resume()`` finishes it, and the form shows those words. The estimate runs 0.5 s after
the last change, in the background; when it fails the form says why and Generate stays as it was.

Example:
    >>> import seedance_nb as sn
    >>> f = sn.form(prompt="[Image1] waves", reference_images=["https://example.com/a.png"])
    >>> f.generate_button.click()       # no event loop in plain Python: it says so instead of failing
    >>> "run the form in a notebook" in f.status.value
    True
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from .._client import Client
from .._generate.submit import generate
from .._models import R2VRequest
from ..config import resolve_settings
from ..errors import ConfigError, _one_line
from ._form_model import cost_html, estimate_payload
from ._form_tasks import Background, running_loop
from ._generation import Generation
from ._grid import Failed, _box, _failure
from ._progress import ProgressLine, prompt_label

if TYPE_CHECKING:
    from ..tasklog import TaskLog
    from ._form import Form

__all__ = ["ESTIMATE_DELAY_S", "Runner"]

ESTIMATE_DELAY_S = 0.5  # the estimate waits for a pause in typing
DOUBLE_CLICK_S = 1.0  # a second click this soon after Generate is the same gesture, not "Cancel waiting"
T = TypeVar("T")


def _line(text: str) -> str:
    return f"<span style='font-family:monospace'>{html.escape(text)}</span>"


class Runner:
    """Estimates, the badge and the run of one form (see the module docstring)."""

    def __init__(self, form: Form, background: Background, *, client: Client | None, log: TaskLog | None) -> None:
        self.form = form
        self.background = background
        self.client = client
        self.log = log
        self.task: asyncio.Task[Generation] | None = None
        self.generation: Generation | None = None
        self.failed: Failed | None = None
        self._detached: str | None = None
        self._started_at = float("-inf")
        self._simulated = client.simulated if client is not None else _default_is_simulated()
        self.show_badge()
        if running_loop() is None:
            form.cost.value = "<span style='color:#555'>estimate: shown when the form runs in a notebook</span>"

    @property
    def running(self) -> bool:
        """True while a run is followed."""
        return self.task is not None and not self.task.done()

    # -- the badge and the cost -------------------------------------------------------------------------
    def show_badge(self) -> None:
        """Show the SIMULATOR badge when the client talks to the simulator, hide it otherwise."""
        badge = self.form.badge
        if self._simulated:
            badge.value = ("<span style='background:#b45309;color:#fff;font-weight:bold;padding:1px 8px;"
                           "border-radius:4px'>SIMULATOR</span> <span style='color:#555'>the local Crun simulator: "
                           "no credits are spent, the videos are made up</span>")
            badge.layout.display = None
        else:
            badge.value = ""
            badge.layout.display = "none"

    def price_later(self) -> None:
        """Estimate the request (or tell the balance) ``ESTIMATE_DELAY_S`` after the last change."""
        version = self.form._version
        self.background.debounce("estimate", ESTIMATE_DELAY_S, lambda: self._price(version))

    async def _price(self, version: int) -> None:
        draft = self.form.draft()
        try:
            if draft.validate(check_files=False):
                text = cost_html(balance=await self._with_client(lambda c: c.balance()))
            else:
                payload = estimate_payload(draft)
                text = cost_html(await self._with_client(lambda c: c.estimate(payload)))
        except Exception as exc:  # an estimate only informs: any failure is shown, none blocks Generate
            text = cost_html(error=_one_line(exc))
        if version == self.form._version:
            self.form.cost.value = text

    async def _with_client(self, call: Callable[[Client], Awaitable[T]]) -> T:
        """``call`` on the form's client, or on a default one built (off the loop) and closed here."""
        client = self.client if self.client is not None else await asyncio.to_thread(Client)
        try:
            return await call(client)
        finally:
            # The simulator marks its answers; a default client follows sn.use_simulator()/stop_simulator().
            seen = client.simulated or (client is not self.client and _default_is_simulated())
            if seen != self._simulated:
                self._simulated = seen
                self.show_badge()
            if client is not self.client:
                await client.aclose()

    # -- the button -------------------------------------------------------------------------------------
    def show_button(self, *, ready: bool, why: str) -> None:
        """Generate (enabled when ``ready``; the tooltip says ``why`` not), or Cancel waiting while running."""
        button = self.form.generate_button
        if self.running:
            button.description, button.button_style, button.icon = "Cancel waiting", "warning", "stop"
            button.disabled, button.tooltip = False, "stop waiting; the task goes on at Crun (sn.resume() finishes it)"
        else:
            button.description, button.button_style, button.icon = "Generate", "primary", "play"
            button.disabled, button.tooltip = not ready, "send the request to Crun" if ready else why

    def clicked(self) -> None:
        """Generate was clicked: start a run, or cancel the one that runs."""
        if self.running:
            if time.monotonic() - self._started_at >= DOUBLE_CLICK_S:  # a double click on Generate is not a cancel
                self.cancel()
            return
        request = self.form.request()
        if request is None:
            self.form.render()
            return
        if running_loop() is None:
            self.form.status.value = _line("Generate needs a running event loop: run the form in a notebook, or "
                                           "call sn.generate_sync(form.request()) here")
            return
        self.start(request)

    def start(self, request: R2VRequest) -> None:
        """Run ``generate(request)`` as a background task; its progress line writes into ``status``."""
        self.generation, self.failed, self._detached = None, None, None
        self._started_at = time.monotonic()
        label = prompt_label(request.prompt)
        self.form.result_html = ""
        self.form.status.value = _line(f"{label}: checking, uploading and sending…")
        line = ProgressLine(widget=self.form.status, label=label)
        task = self.background.spawn(self._run(request, line), report=False)
        if task is None:  # pragma: no cover - clicked() checked that a loop runs
            return
        self.task = task
        task.add_done_callback(partial(self._finished, request, line))
        self.form.render()

    async def _run(self, request: R2VRequest, line: ProgressLine) -> Generation:
        try:
            return await generate(request, client=self.client, log=self.log, progress=line,
                                  **self.form.generate_options)
        except asyncio.CancelledError as exc:
            self._detached = str(exc) or None  # generate() says what happens to the task now
            raise

    def cancel(self) -> bool:
        """Cancel the wait for the running task; ``False`` when nothing runs."""
        if not self.running or self.task is None:
            return False
        self.task.cancel()
        return True

    def _finished(self, request: R2VRequest, line: ProgressLine, task: asyncio.Task[Generation]) -> None:
        try:
            self._show_outcome(request, line, task)
        except Exception as exc:  # showing the outcome failed: say so rather than lose it in the loop's log
            self.show_error(exc)
        self.form.render()
        if running_loop() is not None:
            self.price_later()  # the run was paid for: the balance shown must be today's

    def _show_outcome(self, request: R2VRequest, line: ProgressLine, task: asyncio.Task[Generation]) -> None:
        form = self.form
        if task.cancelled():
            message = self._detached or ("cancelled before Crun answered; sn.TaskLog().df() shows whether the "
                                         "task was recorded, and `await sn.resume()` finishes any that was sent")
            if not line.text:
                form.status.value = _line(f"{line.label}: cancelled")
            form.result_html = _box("#b45309", "detached: stopped waiting", message,
                                     "run `await sn.resume()` in a cell when you want the video; Generate with the "
                                     "same fields follows that task again instead of paying twice")
        elif (error := task.exception()) is not None:
            self.failed = Failed(request, error)
            if not line.text:
                form.status.value = _line(f"{line.label}: {self.failed.status} · {type(error).__name__}")
            form.result_html = _failure(self.failed)
        else:
            self.generation = task.result()
            form.result_html = self.generation._repr_html_()

    def show_error(self, error: BaseException) -> None:
        """An unexpected error of a background task (a preview, a saved upload): shown, never lost."""
        self.form.result_html = _box("#b91c1c", f"the form failed: {type(error).__name__}", _one_line(error, 400),
                                      "try again; if it happens again, report it with this message")


def _default_is_simulated() -> bool:
    """Whether a default client would talk to the simulator (``sn.use_simulator()``), without building one."""
    try:
        return resolve_settings().simulated
    except ConfigError:
        return False
