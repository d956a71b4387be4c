"""Task callbacks: POST the final task object to ``callback_url`` once, retrying up to 3 times.

Statuses are lazy (computed from the clock), so nothing "happens" when a task ends. A watcher coroutine on
the server's event loop wakes when a task with a callback is created and again when the next one falls due
(at least every 0.2 s, so an injected clock that jumps is noticed), and delivers each due callback in its own
task. Only loopback URLs are contacted: the simulator never reaches out to the network, so another host
counts as a failed delivery at once.

Example:
    >>> is_loopback_url("http://127.0.0.1:9000/cb"), is_loopback_url("https://example.com/cb")
    (True, False)
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from urllib.parse import urlsplit

import httpx

from .context import SimContext
from .state import Task

__all__ = ["RETRY_BACKOFF", "CallbackDispatcher", "is_loopback_url"]

log = logging.getLogger(__name__)
RETRY_BACKOFF: tuple[float, ...] = (0.1, 0.3, 0.6)  # three retries after the first attempt
POLL_CAP = 0.2


def is_loopback_url(url: str) -> bool:
    """True when ``url`` points at this machine (127.0.0.0/8, ::1 or localhost)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CallbackDispatcher:
    """Watches for due callbacks and delivers them; ``run()`` lives as long as the server."""

    def __init__(self, ctx: SimContext, *, backoff: tuple[float, ...] = RETRY_BACKOFF, timeout: float = 5.0):
        self.ctx = ctx
        self.backoff = backoff
        self.timeout = timeout
        self._wake = asyncio.Event()
        self._deliveries: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look for due callbacks now (call on the event loop)."""
        self._wake.set()

    async def run(self) -> None:
        """The watcher loop; cancel it to stop (pending deliveries are cancelled too)."""
        state = self.ctx.state
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
            try:
                while True:
                    self._wake.clear()
                    now = state.now()
                    for task in state.due_callbacks(now):
                        delivery = asyncio.create_task(self._deliver(client, task))
                        self._deliveries.add(delivery)
                        delivery.add_done_callback(self._deliveries.discard)
                    upcoming = state.next_callback_at()
                    wait = None if upcoming is None else min(POLL_CAP, max(0.0, upcoming - now))
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._wake.wait()
            finally:
                for delivery in list(self._deliveries):
                    delivery.cancel()
                if self._deliveries:
                    await asyncio.gather(*self._deliveries, return_exceptions=True)

    async def _deliver(self, client: httpx.AsyncClient, task: Task) -> None:
        ctx, state = self.ctx, self.ctx.state
        url = task.request.callback_url or ""
        if task.outcome == "success":
            # The receiver will likely fetch the video at once: have the render under way.
            ctx.ensure_render(task)
        state.settle()  # a failed task's refund shows in the body (credits 0)
        body = task.data(max(state.now(), task.final_at), ctx.root_url)
        if not is_loopback_url(url):
            log.info("Simulator callback for task %s not sent: only loopback URLs are reachable.", task.task_id)
            state.bump("callback_attempts_failed")
            state.bump("callbacks_failed")
            return
        for attempt in range(1 + len(self.backoff)):
            if attempt:
                await asyncio.sleep(self.backoff[attempt - 1])
            try:
                answer = await client.post(url, json=body, headers={"User-Agent": "seedance_nb-simulator"})
                if 200 <= answer.status_code < 300:
                    state.bump("callbacks_sent")
                    task.callback_done = True
                    return
            except (httpx.HTTPError, httpx.InvalidURL):  # the URL passed validation but httpx may still refuse it
                pass
            state.bump("callback_attempts_failed")
        state.bump("callbacks_failed")
        log.info("Simulator callback for task %s failed after %d attempts.", task.task_id, 1 + len(self.backoff))
