"""A simulator on a ``state_dir`` outlives itself: stopped, abandoned or killed, the next one on the folder
answers for its tasks, assets, uploads, balance and counters, and charges or refunds nothing twice."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import seedance_nb as sn
from seedance_nb._probe import ffmpeg_exe
from seedance_nb.simulator import Simulator
from seedance_nb.simulator.knobs import Knobs
from seedance_nb.simulator.persist import SimStore
from seedance_nb.simulator.state import SimState
from seedance_nb.simulator.validation import TaskRequest, validate_task_body

KEY_1, KEY_2 = "ak_" + "1" * 32, "ak_" + "2" * 32
COST = 29.0  # 720p, 5 s


@pytest.fixture
def sims() -> Iterator[Callable[..., Simulator]]:
    """Start simulators; all are stopped after the test."""
    started: list[Simulator] = []

    def make(**knobs: Any) -> Simulator:
        sim = Simulator(**knobs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def api(sim: Simulator, key: str) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url, headers={"x-api-key": key}, trust_env=False, timeout=30)


def red_png(path: Path) -> bytes:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=320x240",
                    "-frames:v", "1", str(path)], check=True)
    return path.read_bytes()


def pixel(png: Path, x: int, y: int) -> tuple[int, ...]:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(png), "-vf", f"crop=1:1:{x}:{y}",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return tuple(raw)


def upload(c: httpx.Client, data: bytes) -> str:
    slot = c.get("/client/files/upload-url", params={"content_type": "image/png", "ext": ".png"}).json()["data"]
    put = httpx.put(slot["presigned_url"], content=data, headers={"Content-Type": "image/png"}, trust_env=False)
    assert put.status_code == 200
    url: str = slot["file_url"]
    return url


def info(c: httpx.Client, task_id: str) -> dict[str, Any]:
    answer = c.get("/client/job/TaskInfo", params={"task_id": task_id})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_a_stopped_simulator_is_carried_on_by_the_next_one(sims: Callable[..., Simulator], tmp_path: Path,
                                                           body: Callable[..., dict[str, Any]], clock: Any) -> None:
    state = tmp_path / "state"
    first = sims(latency=10, asset_delay=5, balance=1000, clock=clock, api_key=KEY_1, state_dir=state)
    with api(first, KEY_1) as c:
        red = upload(c, red_png(tmp_path / "red.png"))
        asset_id = c.post("/client/job/asset-upload", json={"name": "red", "asset_type": "Image",
                                                            "asset_url": red}).json()["data"]["AssetId"]
        made = c.post("/client/job/CreateTask", json=body(prompt="[Image1] glows", reference_images=[red],
                                                          return_last_frame=True)).json()["data"]["task_id"]
        doomed = c.post("/client/job/CreateTask", json=body(prompt="[simulate:failed] x")).json()["data"]["task_id"]
        spare = c.get("/client/files/upload-url", params={"content_type": "image/png"}).json()["data"]
    first_root = first.root_url
    first.stop()
    assert (state / "state.sqlite").exists() and (state / "files" / red.rsplit("/", 1)[1]).exists()

    clock.advance(3)
    second = sims(latency=10, balance=5, clock=clock, api_key=KEY_2, state_dir=state)  # a new port, a new key
    with api(second, KEY_2) as c:
        assert info(c, made)["status"] == "running" and info(c, doomed)["status"] == "running"
        assert c.get("/client/account/balance").json()["data"]["balance"] == 1000 - 2 * COST  # not 5: kept
        asset = c.get("/client/job/asset-info", params={"asset_id": asset_id}).json()["data"]
        assert asset["Status"] == "Processing"
        clock.advance(7)
        assert c.get("/client/job/asset-info", params={"asset_id": asset_id}).json()["data"]["Status"] == "Active"
        done = info(c, made)
        assert done["status"] == "success" and info(c, doomed)["status"] == "failed"
        video, frame = done["result"]["media_urls"]
        assert video.startswith(second.root_url + "/media/")
        assert httpx.get(video, trust_env=False, timeout=30).headers["content-type"] == "video/mp4"
        (tmp_path / "frame.png").write_bytes(httpx.get(frame, trust_env=False, timeout=30).content)
        r, g, b = pixel(tmp_path / "frame.png", 640, 510)  # the upload, sent through the first port, is drawn
        assert r > 200 and g < 60 and b < 60
        moved = red.replace(first_root, second.root_url)  # the first port is gone, not the file
        assert httpx.get(moved, trust_env=False).content == (tmp_path / "red.png").read_bytes()
        put = httpx.put(spare["presigned_url"].replace(first_root, second.root_url), content=b"late",
                        headers={"Content-Type": "image/png"}, trust_env=False)
        assert put.status_code == 200  # a slot opened before the restart is still open (once)
    stats = second.stats()
    assert (stats["tasks_created"], stats["balance"], stats["credits_refunded"]) == (2, 1000 - COST, COST)
    assert (stats["assets_created"], stats["uploads_completed"]) == (1, 2)
    second.stop()

    third = sims(clock=clock, state_dir=state)
    assert third.stats()["balance"] == 1000 - COST and third.stats()["credits_refunded"] == COST  # refunded once
    assert [task.task_id for task in third.tasks()] == [made, doomed]


CHILD = textwrap.dedent("""
    import json, sys, time
    import httpx
    from seedance_nb.simulator import Simulator

    sim = Simulator(latency=2, balance=500, api_key=sys.argv[2], state_dir=sys.argv[1]).start()
    with httpx.Client(base_url=sim.base_url, headers={"x-api-key": sys.argv[2]}, trust_env=False) as c:
        slot = c.get("/client/files/upload-url", params={"content_type": "image/png"}).json()["data"]
        httpx.put(slot["presigned_url"], content=b"png bytes", headers={"Content-Type": "image/png"}, trust_env=False)
        asset = c.post("/client/job/asset-upload", json={"name": "a", "asset_type": "Image",
                                                         "asset_url": "https://example.com/a.png"})
        task = c.post("/client/job/CreateTask", json={"model": "bytedance/seedance2-0-mini-r2v", "input": {
            "prompt": "[Image1] runs", "reference_images": ["https://example.com/a.png"]}})
    print(json.dumps({"task_id": task.json()["data"]["task_id"], "asset_id": asset.json()["data"]["AssetId"],
                      "file": slot["file_url"].rsplit("/", 1)[1], "at": time.time()}), flush=True)
    time.sleep(120)  # killed long before
""")


@pytest.mark.slow
def test_a_killed_simulator_loses_nothing(sims: Callable[..., Simulator], tmp_path: Path) -> None:
    state = tmp_path / "state"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(state), KEY_1], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 60)
        assert ready, "the child simulator did not start"
        line = child.stdout.readline()
    finally:
        child.send_signal(signal.SIGKILL)  # no stop(), no atexit, no finally: as a kernel killed by a restart
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
    made = json.loads(line)
    sim = sims(latency=2, balance=9, api_key=KEY_2, state_dir=state)
    with api(sim, KEY_2) as c:
        first = info(c, made["task_id"])
        if time.time() < made["at"] + 1.9:
            assert first["status"] in ("pending", "running") and first["result"] is None
        deadline = time.monotonic() + 15
        while (now := info(c, made["task_id"]))["status"] != "success":
            assert time.monotonic() < deadline, now
            time.sleep(0.1)
        assert abs(now["create_at"] - made["at"]) < 2  # the time it was created, not the time it was loaded
        video = httpx.get(now["result"]["media_urls"][0], trust_env=False, timeout=30)
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert c.get("/client/job/asset-info", params={"asset_id": made["asset_id"]}).json()["data"]["Name"] == "a"
        assert httpx.get(f"{sim.root_url}/files/{made['file']}", trust_env=False).content == b"png bytes"
    stats = sim.stats()
    assert (stats["tasks_created"], stats["balance"], stats["credits_charged"]) == (1, 500 - COST, COST)


def test_two_simulators_on_one_folder_share_one_account(sims: Callable[..., Simulator], tmp_path: Path,
                                                         body: Callable[..., dict[str, Any]]) -> None:
    a = sims(latency=0.2, balance=15 * COST, api_key=KEY_1, state_dir=tmp_path)
    b = sims(latency=0.2, balance=15 * COST, api_key=KEY_2, state_dir=tmp_path)
    created: dict[str, list[str]] = {"a": [], "b": []}

    def hammer(name: str, sim: Simulator, key: str) -> None:
        with api(sim, key) as c:
            for i in range(10):
                answer = c.post("/client/job/CreateTask", json=body(prompt=f"{name} {i}"))
                if answer.status_code == 200:
                    created[name].append(answer.json()["data"]["task_id"])
                else:
                    assert answer.status_code == 402

    threads = [threading.Thread(target=hammer, args=args) for args in (("a", a, KEY_1), ("b", b, KEY_2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(created["a"]) + len(created["b"]) == 15  # never overspent, nothing lost
    with api(b, KEY_2) as c:
        assert all(info(c, task_id)["task_id"] == task_id for task_id in created["a"])  # b answers for a's
    assert a.stats()["balance"] == b.stats()["balance"] == 0
    assert a.stats()["tasks_created"] == b.stats()["tasks_created"] == 15


def test_a_refund_and_a_callback_are_booked_once_between_two_states(tmp_path: Path, clock: Any) -> None:
    knobs = Knobs(latency=5, balance=100, clock=clock)
    one, two = (SimState(knobs, SimStore(tmp_path / "s.sqlite", balance=100)) for _ in range(2))
    req = validate_task_body({"model": "bytedance/seedance2-0-mini-r2v", "callback_url": "http://127.0.0.1:9/cb",
                              "input": {"prompt": "[simulate:failed]", "reference_images": ["https://x.test/a.png"]}})
    assert isinstance(req, TaskRequest)
    task = one.create_task(req)
    assert two.balance() == 100 - COST and two.next_callback_at() == task.final_at
    clock.advance(5)
    assert two.balance() == one.balance() == 100 and two.stats()["credits_refunded"] == COST
    handed = two.due_callbacks(clock()) + one.due_callbacks(clock())
    assert [t.task_id for t in handed] == [task.task_id] and one.next_callback_at() is None
    assert one.task(task.task_id) is task and task.credits == 0  # the refund shows on one's own object
    one.store.close()
    two.store.close()


def test_in_memory_by_default_and_a_state_folder_is_kept(tmp_path: Path) -> None:
    with Simulator() as sim:
        assert sim.state_dir is None and sim.state.store.path is None
    with Simulator(state_dir=tmp_path / "kept") as sim:
        assert "state_dir=" in repr(sim)
    assert sorted(p.name for p in (tmp_path / "kept").iterdir())[:2] == ["files", "state.sqlite"]
    assert sim.stats()["tasks_created"] == 0  # readable after stop(): the file is opened again


def test_an_unreadable_or_newer_state_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "state.sqlite").write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(RuntimeError, match="cannot be read"):
        Simulator(state_dir=tmp_path / "junk")
    newer = tmp_path / "newer"
    newer.mkdir()
    with sqlite3.connect(newer / "state.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(RuntimeError, match="newer seedance_nb"):
        Simulator(state_dir=newer)


def test_use_simulator_keeps_tasks_for_the_next_key_unless_told_not_to(tmp_path: Path,
                                                                       body: Callable[..., dict[str, Any]]) -> None:
    def create_then_find(persist: bool) -> int:
        first = sn.use_simulator(latency=0, persist=persist)
        key = first.knobs.api_key or ""
        with api(first, key) as c:
            task_id = c.post("/client/job/CreateTask", json=body()).json()["data"]["task_id"]
        second = sn.use_simulator(latency=0, persist=persist)  # stops the first; a new port and a new key
        assert second.knobs.api_key != key
        with api(second, second.knobs.api_key or "") as c:
            return c.get("/client/job/TaskInfo", params={"task_id": task_id}).status_code

    try:
        assert create_then_find(persist=True) == 200
        assert (tmp_path / "home" / "simulator" / "state.sqlite").exists()  # beside the task log
        assert create_then_find(persist=False) == 404
    finally:
        sn.stop_simulator()
