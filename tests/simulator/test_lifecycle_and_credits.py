"""Task lifecycle timing, outcomes, credits, refunds and 402 over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seedance_nb.simulator import Simulator


def status(c: httpx.Client, task_id: str) -> dict[str, Any]:
    r = c.get("/client/job/TaskInfo", params={"task_id": task_id})
    assert r.status_code == 200
    data: dict[str, Any] = r.json()["data"]
    return data


def create(c: httpx.Client, sent: dict[str, Any]) -> str:
    r = c.post("/client/job/CreateTask", json=sent)
    assert r.status_code == 200, r.text
    task_id: str = r.json()["data"]["task_id"]
    return task_id


def test_statuses_follow_the_injected_clock(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                                            body: Callable[..., dict[str, Any]], clock: Any) -> None:
    sim = make_sim(latency=100, clock=clock)
    c = client_of(sim)
    task_id = create(c, body())
    seen = [status(c, task_id)["status"]]
    for step in (19, 2, 78, 1):
        clock.advance(step)
        seen.append(status(c, task_id)["status"])
    assert seen == ["pending", "pending", "running", "running", "success"]
    final = status(c, task_id)
    assert final["complete_at"] - final["create_at"] == 100 and final["duration_s"] == 100


def test_latency_range_over_http(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                                 body: Callable[..., dict[str, Any]], clock: Any) -> None:
    sim = make_sim(latency="30-50", seed=5, clock=clock)
    c = client_of(sim)
    task_ids = [create(c, body()) for _ in range(8)]
    assert {status(c, t)["status"] for t in task_ids} == {"pending"}
    clock.advance(29.5)
    assert {status(c, t)["status"] for t in task_ids} == {"running"}
    clock.advance(20.5)
    finals = [status(c, t) for t in task_ids]
    assert {f["status"] for f in finals} == {"success"}
    spans = [f["duration_s"] for f in finals]
    assert all(30 <= s <= 50 for s in spans) and len(set(spans)) > 1  # drawn per task within the range


def test_zero_latency_is_final_at_once(api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    assert status(api, create(api, body()))["status"] == "success"


@pytest.mark.parametrize(("marker", "code"), [("[simulate:failed]", 501), ("[simulate:moderated]", 451)])
def test_failure_markers_end_failed_and_refund(make_sim: Callable[..., Simulator],
                                               client_of: Callable[..., httpx.Client],
                                               body: Callable[..., dict[str, Any]], clock: Any,
                                               marker: str, code: int) -> None:
    sim = make_sim(latency=10, clock=clock, balance=1000)
    c = client_of(sim)
    task_id = create(c, body(prompt=f"a corgi {marker}"))
    assert c.get("/client/account/balance").json()["data"]["balance"] == 971.0
    assert status(c, task_id)["credits"] == 29.0
    clock.advance(10)
    data = status(c, task_id)
    assert data["status"] == "failed"
    assert data["result"]["code"] == code and data["result"]["media_urls"] == []
    assert data["result"]["message"].startswith("Generation failed" if code == 501 else "Output moderation")
    assert data["credits"] == 0
    assert c.get("/client/account/balance").json()["data"]["balance"] == 1000.0
    assert sim.stats()["credits_charged"] == 0
    assert httpx.get(f"{sim.root_url}/media/{task_id}.mp4", trust_env=False).status_code == 404


def test_fail_rate_is_seeded(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                             body: Callable[..., dict[str, Any]]) -> None:
    outcomes = []
    for _ in range(2):
        sim = make_sim(fail_rate=0.5, seed=11)
        c = client_of(sim)
        outcomes.append([status(c, create(c, body()))["status"] for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert {"success", "failed"} == set(outcomes[0])


def test_credits_are_charged_at_creation_and_402_creates_nothing(make_sim: Callable[..., Simulator],
                                                                 client_of: Callable[..., httpx.Client],
                                                                 body: Callable[..., dict[str, Any]]) -> None:
    sim = make_sim(balance=100, rates={"720p": 10})
    c = client_of(sim)
    create(c, body(duration=4))  # 40
    create(c, body(duration=5))  # 50
    est = c.post("/client/job/EstimateTask", json=body(duration=5)).json()["data"]
    assert est == {"estimated_credits": 50.0, "balance": 10.0, "affordable": False}
    r = c.post("/client/job/CreateTask", json=body(duration=5))
    assert r.status_code == 402 and r.json()["code"] == 402 and r.json()["data"] is None
    assert sim.stats()["tasks_created"] == 2
    assert sim.stats()["credits_charged"] == 90.0
    assert c.get("/client/account/balance").json()["data"]["balance"] == 10.0
    cheap = c.post("/client/job/CreateTask", json=body(duration=4, resolution="480p"))  # 2.9 × 4 = 11.6 > 10
    assert cheap.status_code == 402 and "11.6" in cheap.json()["message"]
    assert sim.stats()["tasks_created"] == 2


def test_rates_by_resolution(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                             body: Callable[..., dict[str, Any]]) -> None:
    sim = make_sim()
    c = client_of(sim)
    prices = {}
    for model, res in (("bytedance/seedance2-0-mini-r2v", "480p"), ("bytedance/seedance2-0-mini-r2v", "720p"),
                       ("bytedance/seedance2-0-r2v", "1080p")):
        prices[res] = c.post("/client/job/EstimateTask", json=body(model=model, resolution=res, duration=10)
                             ).json()["data"]["estimated_credits"]
    assert prices == {"480p": 29.0, "720p": 58.0, "1080p": 116.0}
