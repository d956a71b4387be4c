"""Bodies the red team sent: wrong types, bodies too big or never ending, text and numbers no answer can carry.

Each gets a 422 naming the field, at once; nothing is created or charged; every later answer still works.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seedance_nb.simulator import Simulator

KEY = "ak_" + "Sim0" * 8
MINI = "bytedance/seedance2-0-mini-r2v"
TASK_PATHS = ("/client/job/CreateTask", "/client/job/EstimateTask")
CAP = 1024 * 1024


def unchanged(sim: Simulator) -> None:
    stats = sim.stats()
    assert (stats["tasks_created"], stats["balance"], stats["assets_created"]) == (0, 100000, 0), stats


@pytest.mark.parametrize("path", TASK_PATHS)
@pytest.mark.parametrize("model", [[], {}, [MINI], {"id": MINI}, [[MINI]]])
def test_a_model_that_is_not_a_string_is_422_naming_model(api: httpx.Client, crun_simulator: Simulator,
                                                          body: Callable[..., dict[str, Any]], path: str,
                                                          model: Any) -> None:
    r = api.post(path, json=body(model=model))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0].startswith("model: must be a string"), r.json()
    unchanged(crun_simulator)
    assert api.get("/client/account/balance").status_code == 200


def raw_task(prompt: str = '"a cat"', refs: str = '["https://example.com/a.png"]', extra: str = "",
             top: str = "") -> str:
    """A task body as JSON text, its parts given as JSON text: lone surrogates and overflowing numbers reach the
    server exactly as a client could write them (Python's encoder would never)."""
    return '{"model": "' + MINI + '", ' + top + '"input": {"prompt": ' + prompt + ', "reference_images": ' + refs \
        + extra + "}}"


UNSTORABLE = [
    (raw_task(prompt='"\\ud800"'), "input.prompt"),
    (raw_task(prompt='"a cat \\udfff"'), "input.prompt"),
    (raw_task(refs='["https://example.com/\\udc00.png"]'), "input.reference_images[0]"),
    (raw_task(top='"callback_url": "http://127.0.0.1:9/\\ud83d", '), "callback_url"),
    (raw_task(extra=', "seed": {"note": ["\\ud800"]}'), "input.seed.note[0]"),
    (raw_task(extra=', "\\ud800": 1'), "input"),
    (raw_task(extra=', "seed": 1e999'), "input.seed"),
    (raw_task(extra=', "seed": [-1e400]'), "input.seed[0]"),
    (raw_task(extra=', "seed": ' + "[" * 40 + "]" * 40), "input.seed" + "[0]" * 30),  # the 33rd level
]


@pytest.mark.parametrize("path", TASK_PATHS)
@pytest.mark.parametrize(("raw", "field"), UNSTORABLE)
def test_what_no_answer_could_echo_is_refused(api: httpx.Client, crun_simulator: Simulator, path: str, raw: str,
                                             field: str) -> None:
    r = api.post(path, content=raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0].startswith(f"{field}: "), r.json()
    unchanged(crun_simulator)


def test_a_surrogate_sent_as_raw_utf8_bytes_is_refused(api: httpx.Client, crun_simulator: Simulator) -> None:
    raw = raw_task(prompt='"PROMPT"').encode().replace(b"PROMPT", b"\xed\xa0\x80")  # U+D800 as UTF-8 bytes
    r = api.post("/client/job/CreateTask", content=raw)
    assert r.status_code == 422 and r.json()["errors"][0].startswith("input.prompt:"), r.text
    unchanged(crun_simulator)


def test_an_asset_name_no_answer_could_echo_is_refused(api: httpx.Client, crun_simulator: Simulator) -> None:
    raw = b'{"name": "face \\ud800", "asset_type": "Image", "asset_url": "https://example.com/a.png"}'
    r = api.post("/client/job/asset-upload", content=raw)
    assert r.status_code == 422 and r.json()["errors"][0].startswith("name:"), r.text
    unchanged(crun_simulator)


def test_what_is_stored_is_echoed_back_exactly(api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    # A surrogate pair (a cat emoji), brackets inside text and the deepest nesting allowed are all fine.
    sent = body(prompt="a \U0001f408 in [Image1] {", seed=json.loads("[" * 30 + "]" * 30), note="\u00e9\x00")
    raw = json.dumps(sent).encode()  # ensure_ascii: the emoji travels as the pair \ud83d\udc08
    task_id = api.post("/client/job/CreateTask", content=raw).json()["data"]["task_id"]
    info = api.get("/client/job/TaskInfo", params={"task_id": task_id})
    assert info.status_code == 200 and info.json()["data"]["param"]["input"] == sent["input"]
    asset = api.post("/client/job/asset-upload", json={"name": "\U0001f408", "asset_type": "Image",
                                                        "asset_url": "https://example.com/a.png"})
    info = api.get("/client/job/asset-info", params={"asset_id": asset.json()["data"]["AssetId"]})
    assert info.status_code == 200 and info.json()["data"]["Name"] == "\U0001f408"


def test_a_json_body_over_the_cap_is_refused(api: httpx.Client, crun_simulator: Simulator,
                                            body: Callable[..., dict[str, Any]]) -> None:
    r = api.post("/client/job/CreateTask", json=body(prompt="x" * CAP))
    assert r.status_code == 422 and r.json()["errors"][0].startswith("body: larger than 1 MiB"), r.text
    unchanged(crun_simulator)
    assert api.post("/client/job/CreateTask", json=body(prompt="x" * (CAP - 1000))).status_code == 200


def _answer(sock: socket.socket) -> bytes:
    """The status line and headers of the answer on ``sock``, or what came before it went quiet for 3 s."""
    sock.settimeout(3)
    seen = b""
    try:
        while b"\r\n\r\n" not in seen:
            chunk = sock.recv(65536)
            if not chunk:
                break
            seen += chunk
    except TimeoutError:
        pass
    return seen


def _head(port: int, extra: bytes) -> bytes:
    return (b"POST /api/v1/client/job/EstimateTask HTTP/1.1\r\nHost: sim\r\nx-api-key: " + KEY.encode()
            + b"\r\ncontent-type: application/json\r\n" + extra + b"\r\n")


def test_a_declared_length_over_the_cap_is_answered_before_the_body_is_sent(crun_simulator: Simulator,
                                                                            api: httpx.Client) -> None:
    port = crun_simulator.port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_head(port, b"content-length: %d\r\n" % (64 * CAP)) + b'{"model": ')
        started = time.perf_counter()
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 422"), answer[:200]
        assert time.perf_counter() - started < 1
    assert api.get("/client/account/balance").status_code == 200


def test_a_streamed_body_is_answered_once_it_passes_the_cap(crun_simulator: Simulator, api: httpx.Client) -> None:
    port = crun_simulator.port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_head(port, b"transfer-encoding: chunked\r\n"))
        piece = b" " * 65536
        for _ in range(CAP // len(piece) + 2):  # just past the cap, and the body never ends
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 422"), answer[:200]
    assert api.get("/client/account/balance").status_code == 200
    assert crun_simulator.stats()["tasks_created"] == 0
