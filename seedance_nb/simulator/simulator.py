"""``Simulator``: one Crun simulator, its knobs, state and fault plan, served on loopback by uvicorn.

``start()`` serves it in a background thread (tests, notebooks), ``run()`` in the foreground (the command
line) until Ctrl+C or SIGTERM; ``stop()`` ends either and deletes the simulator's renders. Its tasks, assets,
uploads, balance and counters live in memory, or with ``state_dir=`` in a folder that outlives the process
(``persist.py``): a new simulator on that folder answers for everything the earlier ones did.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import build_app
from .context import SimContext
from .faults import FaultPlan, FaultSpec
from .knobs import Knobs, LatencyLike, parse_latency
from .persist import SimStore
from .serving import ServerThread
from .state import SimState, Task

__all__ = ["Simulator"]


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` as Ctrl+C does, so ``finally`` blocks still run.

    SIGTERM's default action ends the process at once, leaving the work folder behind. uvicorn handles SIGTERM
    while it serves, shuts down gracefully and then raises the signal again: it lands here.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


class Simulator:
    """One Crun simulator; ``start()`` serves it on a free loopback port in a background thread.

    Args:
        latency: seconds from CreateTask to the final status; ``(min, max)`` or ``"MIN-MAX"`` draws uniformly.
        faults: ``ENDPOINT:KIND=RATE,...`` (see ``parse_faults``).
        errors_as_200: answer errors with HTTP 200 and the code only in the body.
        api_key: accept exactly this key; by default any key of Crun's form (``ak_`` + 32 letters or digits).
        balance: starting credits.
        rates: credits per second of video by resolution (defaults 2.9 / 5.8 / 11.6 for 480p / 720p / 1080p).
        fail_rate: share of tasks that end ``failed`` (code 501), drawn from the seeded generator.
        asset_delay: seconds an uploaded asset stays ``Processing``.
        slow_delay: seconds a ``slow`` fault holds its answer.
        retry_after: the ``Retry-After`` seconds sent with 429.
        media_ttl: seconds after a task ends that its media answer 404 (``None``: never).
        seed: seed for faults, failures and latency draws.
        clock: the time source of task and asset lifecycles (inject a fake one in tests).
        host, port: where to listen (``port=0``: any free port).
        state_dir: keep tasks, assets, uploads, the balance and the counters in this folder, written through
            at every change, so that a new simulator on it (after ``stop()``, a kernel restart or a crash)
            answers for them; ``balance`` is then only the starting balance of a new folder. Two simulators
            may share one folder, as two kernels share one Crun account. ``None`` (the default): in memory.

    Example:
        >>> Simulator(latency="2-5", faults="createtask:429=0.1", seed=7)
        <Simulator not started latency=(2.0, 5.0) faults='createtask:429=0.1'>
        >>> import httpx
        >>> task = {"model": "bytedance/seedance2-0-mini-r2v",
        ...         "input": {"prompt": "a cat", "reference_images": ["https://example.com/cat.png"]}}
        >>> with Simulator(latency=0, balance=500) as sim:
        ...     with httpx.Client(base_url=sim.base_url, headers={"x-api-key": "ak_" + "0" * 32},
        ...                       trust_env=False) as client:
        ...         answer = client.post("/client/job/CreateTask", json=task)
        ...     stats = sim.stats()
        >>> answer.status_code, stats["tasks_created"], stats["balance"]
        (200, 1, 471.0)
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with Simulator(latency=0, balance=500, state_dir=folder) as sim:
        ...     with httpx.Client(base_url=sim.base_url, headers={"x-api-key": "ak_" + "0" * 32},
        ...                       trust_env=False) as client:
        ...         task_id = client.post("/client/job/CreateTask", json=task).json()["data"]["task_id"]
        >>> with Simulator(state_dir=folder, api_key="ak_" + "1" * 32) as again:   # another port, another key
        ...     with httpx.Client(base_url=again.base_url, headers={"x-api-key": "ak_" + "1" * 32},
        ...                       trust_env=False) as client:
        ...         info = client.get("/client/job/TaskInfo", params={"task_id": task_id}).json()["data"]
        ...     stats = again.stats()
        >>> info["status"], info["result"]["media_urls"][0].startswith(again.root_url), stats["balance"]
        ('success', True, 471.0)
    """

    def __init__(
        self,
        latency: LatencyLike = 0.0,
        faults: str | FaultSpec | None = None,
        errors_as_200: bool = False,
        api_key: str | None = None,
        balance: float = 100000.0,
        rates: Mapping[str, float] | None = None,
        fail_rate: float = 0.0,
        asset_delay: float = 0.0,
        slow_delay: float = 60.0,
        retry_after: int = 1,
        media_ttl: float | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.knobs = Knobs(
            latency=parse_latency(latency),
            errors_as_200=bool(errors_as_200),
            api_key=api_key,
            balance=balance,
            rates=dict(rates or {}),
            fail_rate=fail_rate,
            asset_delay=asset_delay,
            slow_delay=slow_delay,
            retry_after=retry_after,
            media_ttl=media_ttl,
            seed=seed,
            clock=clock,
        )
        self.faults = FaultPlan(faults, seed=seed)
        self.state_dir = None if state_dir is None else Path(state_dir).expanduser().absolute()
        kept = None if self.state_dir is None else self.state_dir / "state.sqlite"
        self.state = SimState(self.knobs, None if kept is None else SimStore(kept, balance=self.knobs.balance))
        self._host, self._port = host, port
        self._server: ServerThread | None = None
        self._ctx: SimContext | None = None
        self._workdir: Path | None = None
        self._remove_workdir: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def __repr__(self) -> str:
        where = self.root_url if self._server else "not started"
        kept = f" state_dir={str(self.state_dir)!r}" if self.state_dir is not None else ""
        return f"<Simulator {where} latency={self.knobs.latency} faults={self.faults.spec.text!r}{kept}>"

    # -- lifecycle ---------------------------------------------------------------------------------------
    def _prepare(self) -> ServerThread:
        if self._stopped:
            raise RuntimeError("This Simulator was stopped; create a new one.")
        self._workdir = Path(tempfile.mkdtemp(prefix="crun-sim-"))
        # Also removed at interpreter exit if nobody calls stop() (a notebook kernel that just ends).
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, str(self._workdir), ignore_errors=True)
        files = None if self.state_dir is None else self.state_dir / "files"  # uploads live with the state
        self._ctx = SimContext.create(self.knobs, self.state, self.faults, self._workdir, files_dir=files)
        try:
            server = ServerThread(build_app(self._ctx), self._host, self._port,
                                  on_shutdown=self._signal_stopping)
        except BaseException:
            self._cleanup()
            raise
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        host = f"[{host}]" if ":" in host else host
        self._ctx.root_url = f"http://{host}:{server.port}"
        return server

    def start(self) -> Simulator:
        """Serve in a background thread; returns once the server answers. Idempotent while running.

        Example:
            >>> sim = Simulator().start()
            >>> sim.start() is sim, sim.base_url.startswith("http://127.0.0.1:")
            (True, True)
            >>> sim.stop()
        """
        with self._lock:
            if self._server is not None:
                return self
            server = self._prepare()
            try:
                server.start()
            except BaseException:
                self._cleanup()
                raise
            self._server = server
        return self

    def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve in the foreground until Ctrl+C or SIGTERM (what ``seedance-nb simulate`` does).

        Either signal shuts the server down, deletes the simulator's renders and then raises ``KeyboardInterrupt``.
        """
        with _sigterm_as_ctrl_c():
            with self._lock:
                server = self._prepare()
                self._server = server
            try:
                if on_ready is not None:
                    on_ready()
                server.run()
            finally:
                with self._lock:
                    self._server = None
                    self._stopped = True
                    self._cleanup()

    def stop(self) -> None:
        """Stop serving, kill running renders and delete them (a ``state_dir`` is kept). Safe to call twice.

        Example:
            >>> sim = Simulator().start()
            >>> sim.stop(); sim.stop()
            >>> sim.start()
            Traceback (most recent call last):
            RuntimeError: This Simulator was stopped; create a new one.
        """
        with self._lock:
            server, self._server = self._server, None
            self._stopped = True
            if server is not None:
                server.stop()
            self._cleanup()

    def _signal_stopping(self) -> None:
        # Called on the server's loop as shutdown begins: slow answers and media waits give up at once.
        if self._ctx is not None and self._ctx.stopping is not None:
            self._ctx.stopping.set()

    def _cleanup(self) -> None:
        if self._ctx is not None:
            self._ctx.renderer.close()
        if self._remove_workdir is not None:
            self._remove_workdir()
            self._workdir = None
        self.state.store.close()  # a durable store releases its file (and reopens it if read again)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- where it is -------------------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (media, files and the admin view live here)."""
        if self._ctx is None or not self._ctx.root_url:
            raise RuntimeError("The simulator is not started; call start() first.")
        return self._ctx.root_url

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``: what ``CRUN_BASE_URL`` should be."""
        return f"{self.root_url}/api/v1"

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._server is None:
            raise RuntimeError("The simulator is not started; call start() first.")
        return self._server.port

    # -- control -----------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """``{tasks_created, credits_charged, balance, callbacks_sent, ...}``, read in-process.

        Example:
            >>> Simulator().stats()["tasks_created"]
            0
        """
        return self.state.stats()

    def tasks(self) -> list[Task]:
        """Every task this simulator created, oldest first, settled up to now: what the server really did,
        for tests that compare it with a client's task log.

        Example:
            >>> import httpx
            >>> with Simulator(latency=0, api_key="ak_" + "0" * 32) as sim:
            ...     body = {"model": "bytedance/seedance2-0-mini-r2v",
            ...             "input": {"prompt": "[Image1] waves", "reference_images": ["https://example.com/a.png"]}}
            ...     answer = httpx.post(f"{sim.base_url}/client/job/CreateTask", json=body,
            ...                         headers={"x-api-key": "ak_" + "0" * 32}, trust_env=False)
            ...     [(task.task_id == answer.json()["data"]["task_id"], task.credits) for task in sim.tasks()]
            [(True, 29.0)]
        """
        return self.state.tasks()

    def script(self, endpoint: str, kinds: Iterable[str | int | None]) -> None:
        """Apply fault ``kinds`` to the next calls of ``endpoint`` in order (``None`` = normal).

        Example:
            >>> Simulator().script("createtask", ["lost", None, "429"])
        """
        self.faults.script(endpoint, kinds)

    def set_faults(self, spec: str | FaultSpec | None) -> None:
        """Replace the random fault rates. Raises ``ValueError`` for a bad spec.

        Example:
            >>> Simulator().set_faults("taskinfo:500=0.5")
        """
        self.faults.set_spec(spec)

    def expire_media(self, task_ids: Iterable[str] | None = None) -> int:
        """Make the media of these tasks (default: every task so far) answer 404; returns how many.

        Example:
            >>> Simulator().expire_media()
            0
        """
        return self.state.expire_media(None if task_ids is None else list(task_ids))
