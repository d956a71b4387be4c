"""Every fault kind over real HTTP: codes on every endpoint, drop, slow, lost, scripts, rates, Retry-After."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seedance_nb.simulator import Simulator
from seedance_nb.simulator.faults import CODE_KINDS

KEY = "ak_" + "Sim0" * 8
Call = Callable[[Simulator, httpx.Client], httpx.Response]


def _body() -> dict[str, Any]:
    return {"model": "bytedance/seedance2-0-mini-r2v",
            "input": {"prompt": "faults", "reference_images": ["https://example.com/a.png"], "duration": 4}}


def _prepare(sim: Simulator, c: httpx.Client) -> dict[str, str]:
    """Objects the calls refer to, made before any fault is scripted."""
    task_id = c.post("/client/job/CreateTask", json=_body()).json()["data"]["task_id"]
    asset_id = c.post("/client/job/asset-upload", json={"name": "a", "asset_type": "Image",
                                                        "asset_url": "https://example.com/a.png"}
                      ).json()["data"]["AssetId"]
    slot = c.get("/client/files/upload-url", params={"content_type": "image/png", "ext": ".png"}).json()["data"]
    stored = c.get("/client/files/upload-url", params={"content_type": "text/plain", "ext": ".txt"}).json()["data"]
    httpx.put(stored["presigned_url"], content=b"hello", headers={"Content-Type": "text/plain"}, trust_env=False)
    return {"task": task_id, "asset": asset_id, "put": slot["presigned_url"], "file": stored["file_url"]}


# (fault endpoint, plain-text answer?, the call)
CALLS: list[tuple[str, bool, Callable[[httpx.Client, dict[str, str]], httpx.Response]]] = [
    ("createtask", False, lambda c, o: c.post("/client/job/CreateTask", json=_body())),
    ("taskinfo", False, lambda c, o: c.get("/client/job/TaskInfo", params={"task_id": o["task"]})),
    ("estimate", False, lambda c, o: c.post("/client/job/EstimateTask", json=_body())),
    ("balance", False, lambda c, o: c.get("/client/account/balance")),
    ("upload", False, lambda c, o: c.get("/client/files/upload-url", params={"content_type": "image/png"})),
    ("upload", True, lambda c, o: c.put(o["put"], content=b"x", headers={"Content-Type": "image/png"})),
    ("asset", False, lambda c, o: c.post("/client/job/asset-upload", json={
        "name": "b", "asset_type": "Image", "asset_url": "https://example.com/b.png"})),
    ("asset", False, lambda c, o: c.get("/client/job/asset-info", params={"asset_id": o["asset"]})),
    ("media", True, lambda c, o: c.get(o["file"])),
    ("media", True, lambda c, o: c.get(o["task_media"])),
]


@pytest.mark.parametrize("kind", CODE_KINDS)
def test_code_faults_on_every_endpoint(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                                       kind: str) -> None:
    sim = make_sim(retry_after=7)
    c = client_of(sim)
    objects = _prepare(sim, c)
    objects["task_media"] = f"{sim.root_url}/media/{objects['task']}.mp4"
    created = sim.stats()["tasks_created"]
    for endpoint, plain, call in CALLS:
        sim.script(endpoint, [kind])
        r = call(c, objects)
        assert r.status_code == int(kind), (endpoint, r.text)
        if plain:
            assert not r.text.startswith("{")
        else:
            assert r.json() == {"code": int(kind), "message": r.json()["message"], "data": None}
        assert (r.headers.get("retry-after") == "7") is (kind == "429")
        assert r.headers["x-crun-simulator"] == "seedance_nb"
    assert sim.stats()["tasks_created"] == created  # a refused CreateTask creates nothing
    assert sim.stats()["faults_injected"] == len(CALLS)
    # After the script, everything answers normally again.
    assert c.get("/client/account/balance").status_code == 200


def test_drop_closes_without_an_answer_on_every_endpoint(make_sim: Callable[..., Simulator],
                                                         client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim()
    c = client_of(sim)
    objects = _prepare(sim, c)
    objects["task_media"] = f"{sim.root_url}/media/{objects['task']}.mp4"
    for endpoint, _, call in CALLS:
        sim.script(endpoint, ["drop"])
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            call(c, objects)
        assert c.get("/client/account/balance").status_code == 200  # the pool recovers at once
    assert sim.stats()["tasks_created"] == 1  # a dropped CreateTask was never processed


def test_lost_creates_and_charges_exactly_one_task(make_sim: Callable[..., Simulator],
                                                   client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim(balance=1000)
    c = client_of(sim)
    sim.script("createtask", ["lost"])
    with pytest.raises(httpx.RemoteProtocolError):
        c.post("/client/job/CreateTask", json=_body())
    stats = httpx.get(f"{sim.root_url}/_simulator/stats", trust_env=False).json()
    assert stats["tasks_created"] == 1
    assert stats["credits_charged"] == 23.2 and stats["balance"] == 1000 - 23.2
    assert c.get("/client/account/balance").json()["data"]["balance"] == 1000 - 23.2


def test_slow_answers_late_and_createtask_exists_meanwhile(make_sim: Callable[..., Simulator],
                                                           client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim(slow_delay=0.6)
    c = client_of(sim)
    sim.script("createtask", ["slow", "slow"])
    with pytest.raises(httpx.ReadTimeout):
        c.post("/client/job/CreateTask", json=_body(), timeout=0.2)
    assert sim.stats()["tasks_created"] == 1  # created before the delay
    started = time.monotonic()
    r = c.post("/client/job/CreateTask", json=_body(), timeout=5)
    assert r.status_code == 200 and time.monotonic() - started >= 0.55
    sim.script("balance", ["slow"])
    started = time.monotonic()
    assert c.get("/client/account/balance", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.55


def test_slow_does_not_hold_up_other_requests(make_sim: Callable[..., Simulator],
                                              client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim(slow_delay=1.5)
    sim.script("taskinfo", ["slow"])
    slow_done: list[float] = []

    def slow_call() -> None:
        with httpx.Client(trust_env=False) as own:
            own.get(f"{sim.base_url}/client/job/TaskInfo", params={"task_id": "x"}, headers={"x-api-key": KEY},
                    timeout=5)
            slow_done.append(time.monotonic())

    worker = threading.Thread(target=slow_call)
    worker.start()
    time.sleep(0.1)
    c = client_of(sim)
    started = time.monotonic()
    assert c.get("/client/account/balance").status_code == 200
    assert time.monotonic() - started < 1.0
    worker.join(5)
    assert slow_done and slow_done[0] - started >= 1.2


def test_scripts_apply_in_order_then_rates(make_sim: Callable[..., Simulator],
                                           client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim(faults="balance:455=1")
    c = client_of(sim)
    sim.script("balance", [None, "429", None, "505"])
    codes = [c.get("/client/account/balance").status_code for _ in range(6)]
    assert codes == [200, 429, 200, 505, 455, 455]


def test_script_with_lost_then_normal(make_sim: Callable[..., Simulator],
                                      client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim()
    c = client_of(sim)
    sim.script("createtask", ["lost", None, "429"])
    with pytest.raises(httpx.RemoteProtocolError):
        c.post("/client/job/CreateTask", json=_body())
    assert c.post("/client/job/CreateTask", json=_body()).status_code == 200
    assert c.post("/client/job/CreateTask", json=_body()).status_code == 429
    assert sim.stats()["tasks_created"] == 2


def test_random_rates_are_seeded(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client]) -> None:
    runs = []
    for _ in range(2):
        sim = make_sim(faults="balance:500=0.5", seed=5)
        c = client_of(sim)
        runs.append([c.get("/client/account/balance").status_code for _ in range(40)])
    assert runs[0] == runs[1]
    assert 8 <= runs[0].count(500) <= 32 and set(runs[0]) == {200, 500}


def test_star_applies_to_every_endpoint_and_can_change_at_run_time(make_sim: Callable[..., Simulator],
                                                                   client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim(faults="*:455=1")
    c = client_of(sim)
    assert c.get("/client/account/balance").status_code == 455
    assert c.get("/client/job/TaskInfo", params={"task_id": "x"}).status_code == 455
    assert c.get("/client/job/Models").status_code == 200  # the catalogue is not a fault endpoint
    sim.set_faults(None)
    assert c.get("/client/account/balance").status_code == 200
    with pytest.raises(ValueError, match="Unknown fault kind"):
        sim.set_faults("balance:404=1")
    with pytest.raises(ValueError):
        Simulator(faults="createtask:lost=2")


def test_auth_is_checked_before_faults(make_sim: Callable[..., Simulator],
                                       client_of: Callable[..., httpx.Client]) -> None:
    sim = make_sim()
    sim.script("balance", ["500"])
    assert client_of(sim, key="wrong").get("/client/account/balance").status_code == 401
    assert client_of(sim).get("/client/account/balance").status_code == 500  # the script was not used up
