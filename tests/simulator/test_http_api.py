"""Every Crun endpoint over real HTTP: envelope, auth, the simulator header, both error modes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seedance_nb.simulator import Simulator

KEY = "ak_" + "Sim0" * 8


def test_balance_envelope_and_marker(api: httpx.Client) -> None:
    r = api.get("/client/account/balance")
    assert r.status_code == 200
    assert r.headers["x-crun-simulator"] == "seedance_nb"
    assert r.json() == {"code": 200, "message": "success", "data": {"balance": 100000.0}}


def test_create_then_task_info_has_the_documented_shape(api: httpx.Client, body: Callable[..., dict[str, Any]],
                                                        crun_simulator: Simulator) -> None:
    sent = body(callback_url=None, duration=6, resolution="480p")
    r = api.post("/client/job/CreateTask", json=sent)
    assert r.status_code == 200 and r.json()["code"] == 200
    task_id = r.json()["data"]["task_id"]
    assert str(uuid.UUID(task_id, version=4)) == task_id
    info = api.get("/client/job/TaskInfo", params={"task_id": task_id}).json()
    assert info["code"] == 200
    data = info["data"]
    assert set(data) == {"task_id", "provider", "model_version", "status", "param", "create_at", "result",
                         "duration_s", "complete_at", "source", "credits"}
    assert data["provider"] == "ByteDance" and data["model_version"] == "seedance2-0-mini-r2v"
    assert data["param"] == {"model": sent["model"], "callback_url": None, "input": sent["input"]}
    assert isinstance(data["create_at"], int) and isinstance(data["complete_at"], int)
    assert data["source"] == "api" and data["status"] == "success"
    assert data["credits"] == pytest.approx(2.9 * 6)
    assert data["result"]["media_urls"] == [f"{crun_simulator.root_url}/media/{task_id}.mp4"]


def test_estimate_prices_without_creating(api: httpx.Client, body: Callable[..., dict[str, Any]],
                                          crun_simulator: Simulator) -> None:
    r = api.post("/client/job/EstimateTask", json=body(duration=8))
    assert r.json()["data"] == {"estimated_credits": pytest.approx(46.4), "balance": 100000.0, "affordable": True}
    bad = api.post("/client/job/EstimateTask", json=body(duration=80))
    assert bad.status_code == 422 and bad.json()["errors"][0].startswith("input.duration:")
    assert crun_simulator.stats()["tasks_created"] == 0


def test_models_catalogue(api: httpx.Client) -> None:
    listed = api.get("/client/job/Models").json()["data"]
    assert [m["model"] for m in listed] == ["bytedance/seedance2-0-mini-r2v", "bytedance/seedance2-0-fast-r2v",
                                            "bytedance/seedance2-0-r2v"]
    assert api.get("/client/job/Models", params={"modality": "image"}).json()["data"] == []
    mini = api.get("/client/job/Models/bytedance/seedance2-0-mini-r2v").json()["data"]
    assert mini["input_schema"]["properties"]["resolution"]["enum"] == ["480p", "720p"]
    full = api.get("/client/job/Models/bytedance/seedance2-0-r2v").json()["data"]
    assert "1080p" in full["input_schema"]["properties"]["resolution"]["enum"]
    missing = api.get("/client/job/Models/bytedance/nope")
    assert missing.status_code == 404 and missing.json()["code"] == 404


@pytest.mark.parametrize("header", ["x-api-key", "X-API-KEY", "X-Api-Key"])
def test_key_header_name_is_case_insensitive(crun_simulator_session: Simulator, header: str) -> None:
    r = httpx.get(f"{crun_simulator_session.base_url}/client/account/balance", headers={header: KEY}, trust_env=False)
    assert r.status_code == 200


@pytest.mark.parametrize("key", [None, "", "ak_short", "ak_" + "a" * 33, "sk_" + "a" * 32, "ak_" + "-" * 32,
                                 "Bearer ak_" + "a" * 32])
def test_bad_keys_get_401_without_echo(crun_simulator_session: Simulator, key: str | None) -> None:
    sim = crun_simulator_session
    headers = {"x-api-key": key} if key is not None else {}
    for method, path in (("GET", "/client/account/balance"), ("POST", "/client/job/CreateTask"),
                         ("GET", "/client/job/TaskInfo?task_id=x"), ("GET", "/client/files/upload-url"),
                         ("GET", "/client/job/Models")):
        r = httpx.request(method, sim.base_url + path, headers=headers, trust_env=False,
                          content=b"{not json")
        assert r.status_code == 401, path
        assert r.json()["code"] == 401 and r.json()["data"] is None
        if key:
            assert key not in r.text


def test_configured_key_is_the_only_one_accepted(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(api_key="my-own-secret")
    url = f"{sim.base_url}/client/account/balance"
    assert httpx.get(url, headers={"x-api-key": "my-own-secret"}, trust_env=False).status_code == 200
    assert httpx.get(url, headers={"x-api-key": KEY}, trust_env=False).status_code == 401
    assert "my-own-secret" not in repr(sim)


def test_errors_as_200_puts_the_code_in_the_body_only(make_sim: Callable[..., Simulator],
                                                      body: Callable[..., dict[str, Any]]) -> None:
    sim = make_sim(errors_as_200=True, balance=1)
    with httpx.Client(base_url=sim.base_url, trust_env=False) as c:
        r = c.get("/client/account/balance")
        assert (r.status_code, r.json()["code"]) == (200, 401)
        c.headers["x-api-key"] = KEY
        r = c.post("/client/job/CreateTask", json=body(duration=99))
        assert (r.status_code, r.json()["code"]) == (200, 422) and r.json()["errors"]
        r = c.post("/client/job/CreateTask", json=body())
        assert (r.status_code, r.json()["code"]) == (200, 402)
        r = c.get("/client/job/TaskInfo", params={"task_id": "nope"})
        assert (r.status_code, r.json()["code"]) == (200, 404)
        sim.script("balance", ["429"])
        r = c.get("/client/account/balance")
        assert (r.status_code, r.json()["code"], r.headers["retry-after"]) == (200, 429, "1")


def test_default_mode_http_status_equals_code(api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    r = api.get("/client/job/TaskInfo", params={"task_id": "d6956973-2f17-43d4-8514-af6cc3a2f55d"})
    assert (r.status_code, r.json()["code"], r.json()["data"]) == (404, 404, None)
    r = api.get("/client/job/TaskInfo")
    assert (r.status_code, r.json()["errors"]) == (422, ["task_id: required"])


def test_unknown_routes_and_methods_keep_the_envelope(api: httpx.Client) -> None:
    r = api.get("/client/job/Nope")
    assert (r.status_code, r.json()["code"]) == (404, 404)
    r = api.get("/client/job/CreateTask")
    assert (r.status_code, r.json()["code"]) == (405, 405)
    assert r.headers["x-crun-simulator"] == "seedance_nb"


def test_every_answer_is_marked_simulated(crun_simulator: Simulator) -> None:
    for url in (f"{crun_simulator.root_url}/_simulator/stats", f"{crun_simulator.root_url}/media/x.mp4",
                f"{crun_simulator.root_url}/nowhere", f"{crun_simulator.base_url}/client/account/balance"):
        assert httpx.get(url, trust_env=False).headers["x-crun-simulator"] == "seedance_nb"


def test_admin_view(crun_simulator: Simulator) -> None:
    root = crun_simulator.root_url
    stats = httpx.get(f"{root}/_simulator/stats", trust_env=False).json()
    assert {"tasks_created", "credits_charged", "balance", "callbacks_sent"} <= set(stats)
    r = httpx.post(f"{root}/_simulator/faults", json={"faults": "balance:455=1"}, trust_env=False)
    assert r.json()["faults"] == "balance:455=1"
    assert httpx.get(f"{crun_simulator.base_url}/client/account/balance", headers={"x-api-key": KEY},
                     trust_env=False).status_code == 455
    bad = httpx.post(f"{root}/_simulator/faults", content=b"balance:455=7", trust_env=False)
    assert bad.status_code == 400 and "outside [0, 1]" in bad.json()["error"]
    httpx.post(f"{root}/_simulator/faults", json={"faults": ""}, trust_env=False)
    r = httpx.post(f"{root}/_simulator/script", json={"endpoint": "balance", "kinds": ["500", None]},
                   trust_env=False)
    assert r.status_code == 200
    assert crun_simulator.faults.pending_script("balance") == ["500", None]
    about = httpx.get(f"{root}/_simulator", trust_env=False).json()
    assert about["base_url"] == crun_simulator.base_url and KEY not in str(about)
