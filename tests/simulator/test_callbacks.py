"""Callbacks reach a tiny loopback receiver once per final status, with retries on errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from seedance_nb.simulator import Simulator


class Receiver:
    """A loopback HTTP server that records POSTed JSON and answers with scripted statuses (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count:
            assert time.monotonic() < deadline, f"got {len(self.bodies)} callbacks, wanted {count}"
            time.sleep(0.01)


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


def wait_stats(sim: Simulator, key: str, value: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while sim.stats()[key] != value:
        assert time.monotonic() < deadline, sim.stats()
        time.sleep(0.01)


def test_callback_carries_the_task_object(api: httpx.Client, crun_simulator: Simulator,
                                          body: Callable[..., dict[str, Any]],
                                          receiver: Callable[[list[int]], Receiver]) -> None:
    hook = receiver([])
    task_id = api.post("/client/job/CreateTask", json=body(callback_url=hook.url)).json()["data"]["task_id"]
    hook.wait_for(1)
    wait_stats(crun_simulator, "callbacks_sent", 1)
    (sent,) = hook.bodies
    assert "code" not in sent  # the bare task object, not the envelope
    assert sent == api.get("/client/job/TaskInfo", params={"task_id": task_id}).json()["data"]
    assert sent["status"] == "success" and sent["param"]["callback_url"] == hook.url
    time.sleep(0.3)
    assert len(hook.bodies) == 1  # once per final status


def test_callback_is_retried_after_errors(api: httpx.Client, crun_simulator: Simulator,
                                          body: Callable[..., dict[str, Any]],
                                          receiver: Callable[[list[int]], Receiver]) -> None:
    hook = receiver([500, 503])
    api.post("/client/job/CreateTask", json=body(callback_url=hook.url, prompt="fail [simulate:failed]"))
    hook.wait_for(3)
    wait_stats(crun_simulator, "callbacks_sent", 1)
    assert [b["status"] for b in hook.bodies] == ["failed"] * 3
    assert hook.bodies[0]["result"]["code"] == 501 and hook.bodies[0]["credits"] == 0
    assert crun_simulator.stats()["callback_attempts_failed"] == 2


def test_callback_gives_up_after_three_retries(api: httpx.Client, crun_simulator: Simulator,
                                               body: Callable[..., dict[str, Any]],
                                               receiver: Callable[[list[int]], Receiver]) -> None:
    hook = receiver([500] * 10)
    api.post("/client/job/CreateTask", json=body(callback_url=hook.url))
    wait_stats(crun_simulator, "callbacks_failed", 1)
    assert len(hook.bodies) == 4
    time.sleep(0.3)
    assert len(hook.bodies) == 4 and crun_simulator.stats()["callbacks_sent"] == 0


def test_callback_fires_at_the_final_time(make_sim: Callable[..., Simulator],
                                          client_of: Callable[..., httpx.Client],
                                          body: Callable[..., dict[str, Any]],
                                          receiver: Callable[[list[int]], Receiver], clock: Any) -> None:
    sim = make_sim(latency=60, clock=clock)
    hook = receiver([])
    created = clock.now
    client_of(sim).post("/client/job/CreateTask", json=body(callback_url=hook.url))
    # The watcher looks again when the next callback falls due by the simulator's clock (at least every 0.2 s),
    # so with the clock 1/64 s short of the final time it goes round every 1/64 s of real time.
    clock.advance(60 - 1 / 64)
    clock.wait_for_reads(2)  # a whole round with the clock short of the final time
    assert hook.bodies == [] and sim.state.next_callback_at() == created + 60  # not handed out
    clock.advance(1 / 64)
    hook.wait_for(1)
    (sent,) = hook.bodies
    assert sent["status"] == "success" and sent["complete_at"] - sent["create_at"] == 60


def test_callback_follows_an_injected_clock(make_sim: Callable[..., Simulator],
                                            client_of: Callable[..., httpx.Client],
                                            body: Callable[..., dict[str, Any]],
                                            receiver: Callable[[list[int]], Receiver], clock: Any) -> None:
    sim = make_sim(latency=0.05, clock=clock)
    hook = receiver([])
    client_of(sim).post("/client/job/CreateTask", json=body(callback_url=hook.url))
    clock.wait_for_reads(3)  # two rounds of the watcher: more real time than the latency, none on the clock
    assert hook.bodies == [] and sim.state.next_callback_at() is not None
    clock.advance(0.05)
    hook.wait_for(1)
    assert hook.bodies[0]["status"] == "success"


def test_unreachable_callback_hosts_fail_quietly(api: httpx.Client, crun_simulator: Simulator,
                                                 body: Callable[..., dict[str, Any]]) -> None:
    api.post("/client/job/CreateTask", json=body(callback_url="https://hooks.example.com/crun"))
    wait_stats(crun_simulator, "callbacks_failed", 1)
    assert crun_simulator.stats()["callbacks_sent"] == 0
    assert api.get("/client/account/balance").status_code == 200


def test_a_callback_url_httpx_refuses_counts_as_failed(api: httpx.Client, crun_simulator: Simulator,
                                                       body: Callable[..., dict[str, Any]]) -> None:
    # Valid to the simulator (a loopback http URL) but httpx will not send to it: the delivery must not die unseen.
    r = api.post("/client/job/CreateTask", json=body(callback_url="http://127.0.0.1:9/\x00hook"))
    assert r.status_code == 200, r.text
    wait_stats(crun_simulator, "callbacks_failed", 1)
    assert crun_simulator.stats()["callbacks_sent"] == 0
